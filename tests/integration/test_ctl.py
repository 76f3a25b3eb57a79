"""hushgate ctl: the control socket of a running proxy (control.socket).

Each request against a real proxy: status, reload (good and broken),
pause and resume of a category, lists-update; the socket's permissions,
hostile clients of the socket, a second instance on the same socket and
a stale socket file.
"""

import grp
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile

import pytest

from helpers import (TIMEOUT, Tunnel, clean_env, connect_status, dump_yaml,
                     hushgate_bin, run_hushgate, wait_until)

CATS = {
    "ads": {"action": "deny", "hosts": ["ads.test"]},
    "web": {"action": "allow", "hosts": ["echo.test"]},
}


def ctl_proxy(proxy, echo_server, extra=None, control=None):
    """A proxy with a control socket (ctl.sock next to its configuration
    unless control says otherwise), ads.test denied, echo.test allowed."""
    cfg = {"connect_ports": [echo_server.port], "categories": CATS,
           "control": control or {"socket": "ctl.sock"}}
    cfg.update(extra or {})
    return proxy(cfg, hosts=["ads.test", "echo.test"])


def ctl(p, *args):
    """hushgate ctl -c the proxy's configuration ARGS."""
    return run_hushgate(["ctl", "-c", str(p.config_path)] + list(args))


def status(p):
    """The lines of `ctl status` as a list of (key, value)."""
    cp = ctl(p, "status")
    assert cp.returncode == 0, cp.stderr
    return [tuple(l.split(": ", 1)) for l in cp.stdout.splitlines()]


def field(lines, key):
    vals = [v for k, v in lines if k == key]
    assert len(vals) == 1, (key, lines)
    return vals[0]


def target(echo_server, host):
    return "%s:%d" % (host, echo_server.port)


def raw_exchange(path, data, shut=False):
    """Send data on a new connection to the socket at path; return all it
    answers up to the end of the stream."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        s.connect(str(path))
        if data:
            s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


# ---------------------------------------------------------------------------
# The requests

def test_status_shows_generation_and_counts(proxy, echo_server):
    p = ctl_proxy(proxy, echo_server)
    assert connect_status(p.port, target(echo_server, "echo.test")) == 200
    assert connect_status(p.port, target(echo_server, "echo.test")) == 200
    assert connect_status(p.port, target(echo_server, "ads.test")) == 403
    p.wait_log(lambda r: r["host"] in ("echo.test", "ads.test"),
               "three records", count=3)
    st = status(p)
    assert field(st, "generation") == "1"
    assert field(st, "pid") == str(p.proc.pid)
    assert field(st, "config") == str(p.config_path)
    assert field(st, "workers") == "2"
    assert field(st, "requests") == "3 allow 2 deny 1 audit 0 none 0"
    assert field(st, "paused") == "0"
    assert field(st, "lists") == "0"
    assert re.match(r"^\d+s$", field(st, "uptime"))
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$",
                    field(st, "loaded"))
    wait_until(lambda: field(status(p), "connections") == "0",
               "no connection open")


def test_status_counts_open_connections(proxy, echo_server):
    p = ctl_proxy(proxy, echo_server)
    with Tunnel(p.port, target(echo_server, "echo.test")) as t:
        assert t.status == 200
        t.echo(b"open")
        assert field(status(p), "connections") == "1"


def test_reload_bumps_generation_and_applies_rules(proxy, echo_server):
    p = ctl_proxy(proxy, echo_server)
    assert connect_status(p.port, target(echo_server, "echo.test")) == 200
    cats = dict(CATS, web={"action": "deny", "hosts": ["echo.test"]})
    p.rewrite_config({"connect_ports": [echo_server.port],
                      "categories": cats,
                      "control": {"socket": "ctl.sock"}})
    cp = ctl(p, "reload")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == "generation: 2\n"
    p.wait_stderr(r"^hushgate: reload: ok \(generation 2\)$")
    assert connect_status(p.port, target(echo_server, "echo.test")) == 403
    assert field(status(p), "generation") == "2"


def test_reload_of_a_broken_file_reports_and_keeps_rules(proxy, echo_server):
    p = ctl_proxy(proxy, echo_server)
    start = p.nlines()
    cfg = dict(p.config, default="maybe",
               categories=dict(CATS, web={"action": "deny",
                                          "hosts": ["echo.test"]}))
    cfg["connect_ports"] = ["none"]
    dump_yaml(cfg, p.config_path)
    cp = ctl(p, "reload")
    assert cp.returncode == 1, (cp.stdout, cp.stderr)
    errs = cp.stderr.splitlines()
    assert len(errs) == 2, cp.stderr
    for line in errs:
        assert re.match(r"^%s:\d+:\d+: " % re.escape(str(p.config_path)),
                        line), line
    assert any("default" in l for l in errs), errs
    assert any("connect_ports" in l for l in errs), errs
    assert cp.stdout == ""
    p.wait_stderr(r"^hushgate: reload: failed, keeping generation 1$",
                  start=start)
    # The old rules decide: echo.test allowed, ads.test denied.
    assert connect_status(p.port, target(echo_server, "echo.test")) == 200
    assert connect_status(p.port, target(echo_server, "ads.test")) == 403
    assert field(status(p), "generation") == "1"


def test_pause_lets_denials_through_as_audit_until_it_ends(proxy,
                                                           echo_server):
    p = ctl_proxy(proxy, echo_server)
    start = p.nlines()
    cp = ctl(p, "pause", "ads", "2s")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == "pause: ads 2s left\n"
    st = status(p)
    assert field(st, "paused") == "1"
    assert re.match(r"^ads [12]s left$", field(st, "pause"))
    assert connect_status(p.port, target(echo_server, "ads.test")) == 200
    rec = p.wait_log(lambda r: r["host"] == "ads.test", "paused")[0]
    assert rec["action"] == "audit"
    assert rec["category"] == "ads"
    p.wait_stderr(r"^hushgate: pause: ads: paused, ", start=start)
    # It ends by itself.
    p.wait_stderr(r"^hushgate: pause: ads: over, its denials apply again$",
                  start=start)
    assert field(status(p), "paused") == "0"
    assert connect_status(p.port, target(echo_server, "ads.test")) == 403
    recs = p.wait_log(lambda r: r["host"] == "ads.test", "denied", count=2)
    assert recs[1]["action"] == "deny"


def test_pause_is_for_every_client_group(proxy, echo_server):
    # A category denied for one group only: the pause covers it too.
    cats = dict(CATS, ads={"action": "allow", "hosts": ["ads.test"],
                           "actions": {"kids": "deny"}})
    p = ctl_proxy(proxy, echo_server, {
        "clients": [{"name": "kids", "networks": ["127.0.0.0/8"]}],
        "categories": cats})
    assert connect_status(p.port, target(echo_server, "ads.test")) == 403
    assert ctl(p, "pause", "ads", "1h").returncode == 0
    assert connect_status(p.port, target(echo_server, "ads.test")) == 200
    recs = p.wait_log(lambda r: r["host"] == "ads.test", "two", count=2)
    assert [r["action"] for r in recs] == ["deny", "audit"]
    assert recs[1]["group"] == "kids"


def test_resume_ends_a_pause_early(proxy, echo_server):
    p = ctl_proxy(proxy, echo_server)
    start = p.nlines()
    assert ctl(p, "pause", "ads", "1h").returncode == 0
    assert re.match(r"^ads (59m5\ds|1h00m00s) left$",
                    field(status(p), "pause"))
    assert connect_status(p.port, target(echo_server, "ads.test")) == 200
    cp = ctl(p, "resume", "ads")
    assert cp.returncode == 0, cp.stderr
    p.wait_stderr(r"^hushgate: pause: ads: resumed, its denials apply "
                  r"again$", start=start)
    assert connect_status(p.port, target(echo_server, "ads.test")) == 403
    assert field(status(p), "paused") == "0"
    cp = ctl(p, "resume", "ads")
    assert cp.returncode == 1
    assert "'ads' is not paused" in cp.stderr


def test_pause_is_kept_across_a_reload(proxy, echo_server):
    p = ctl_proxy(proxy, echo_server)
    assert ctl(p, "pause", "ads", "1h").returncode == 0
    cp = ctl(p, "reload")
    assert cp.returncode == 0, cp.stderr
    assert connect_status(p.port, target(echo_server, "ads.test")) == 200
    rec = p.wait_log(lambda r: r["host"] == "ads.test", "audit")[0]
    assert rec["action"] == "audit"
    assert field(status(p), "paused") == "1"


@pytest.mark.parametrize("args,why", [
    (["nosuch", "10m"], "no category named 'nosuch'"),
    (["ads", "25h"], "not a duration from 1s to 24h"),
    (["ads", "500ms"], "not a duration from 1s to 24h"),
    (["ads", "soon"], "not a duration from 1s to 24h"),
])
def test_pause_refused(proxy, echo_server, args, why):
    p = ctl_proxy(proxy, echo_server)
    cp = ctl(p, "pause", *args)
    assert cp.returncode == 1, cp.stdout
    assert why in cp.stderr
    assert field(status(p), "paused") == "0"
    assert connect_status(p.port, target(echo_server, "ads.test")) == 403


def test_lists_update_without_url_lists(proxy, echo_server):
    p = ctl_proxy(proxy, echo_server)
    cp = ctl(p, "lists-update")
    assert cp.returncode == 1
    assert "lists-update: the configuration has no url: lists" in cp.stderr


def test_lists_update_starts_a_download(proxy, echo_server, tmp_path):
    # A url: list whose server is not in the hosts file: the download
    # starts, and fails, reported in the log as the periodic ones are.
    cats = dict(CATS, remote={"action": "deny", "lists": [
        {"url": "https://lists.invalid/hosts.txt", "format": "hosts",
         "refresh": "24h"}]})
    p = ctl_proxy(proxy, echo_server, {
        "categories": cats, "lists": {"cache_dir": str(tmp_path / "c")}})
    p.wait_stderr(r"^hushgate: lists: https://lists\.invalid/hosts\.txt: "
                  r"failed: ")
    start = p.nlines()
    cp = ctl(p, "lists-update")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == "started: 1\n"
    p.wait_stderr(r"^hushgate: lists: https://lists\.invalid/hosts\.txt: "
                  r"failed: ", start=start)
    lines = [v for k, v in status(p) if k == "list"]
    assert len(lines) == 1
    assert lines[0].startswith("https://lists.invalid/hosts.txt entries 0 "
                               "checked never last ")
    assert " failed: " in lines[0]


# ---------------------------------------------------------------------------
# The command line

def test_ctl_usage_errors(proxy, echo_server):
    p = ctl_proxy(proxy, echo_server)
    for args in ([], ["frob"], ["pause", "ads"], ["status", "x"],
                 ["resume"], ["pause", "a b", "1m"]):
        cp = ctl(p, *args)
        assert cp.returncode == 2, args
        assert "usage: hushgate ctl" in cp.stderr


def test_ctl_without_a_control_socket(proxy, echo_server):
    p = proxy({"connect_ports": [echo_server.port]})
    cp = ctl(p, "status")
    assert cp.returncode == 2
    assert "sets no control.socket" in cp.stderr


def test_ctl_socket_that_is_not_there(tmp_path):
    path = tmp_path / "none.sock"
    cp = run_hushgate(["ctl", "-s", str(path), "status"])
    assert cp.returncode == 2
    assert cp.stderr == ("hushgate: cannot connect to %s: No such file or "
                         "directory\n" % path)


def test_ctl_finds_the_socket_of_a_file_that_no_longer_loads(proxy,
                                                             echo_server):
    p = ctl_proxy(proxy, echo_server)
    with open(p.config_path, "a") as f:
        f.write("bogus_key: 1\n")
    cp = ctl(p, "status")
    assert cp.returncode == 0, cp.stderr


def test_relative_socket_path_is_relative_to_the_file(proxy, echo_server):
    p = ctl_proxy(proxy, echo_server, control={"socket": "c.sock"})
    assert stat.S_ISSOCK(os.lstat(p.dir / "c.sock").st_mode)
    cp = run_hushgate(["ctl", "-s", str(p.dir / "c.sock"), "status"])
    assert cp.returncode == 0, cp.stderr


def test_socket_removed_at_exit(proxy, echo_server):
    p = ctl_proxy(proxy, echo_server)
    path = p.dir / "ctl.sock"
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    assert p.terminate() == 0
    assert not os.path.lexists(path)


# ---------------------------------------------------------------------------
# Permissions

@pytest.fixture
def open_dir():
    """A directory any user may enter (the tests' own are private)."""
    d = tempfile.mkdtemp(prefix="hg-ctl-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def ctl_as_nobody(path, *args):
    cp = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
         hushgate_bin(), "ctl", "-s", path] + list(args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        timeout=TIMEOUT, env=clean_env())
    return cp


def test_socket_mode_and_group(proxy, echo_server, open_dir):
    path = os.path.join(open_dir, "ctl.sock")
    p = ctl_proxy(proxy, echo_server,
                  control={"socket": path, "mode": "0640"})
    st = os.lstat(path)
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert st.st_uid == os.getuid()
    cp = run_hushgate(["ctl", "-s", path, "status"])
    assert cp.returncode == 0, cp.stderr
    assert p.terminate() == 0


def test_permissions(proxy, echo_server, open_dir):
    """Root runs ctl as nobody against the socket's mode and group; any
    other user checks that a mode its owner may not write refuses it."""
    if os.getuid() != 0:
        _permissions_as_owner(proxy, echo_server, open_dir)
        return
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv is needed to run ctl as nobody")
    path = os.path.join(open_dir, "ctl.sock")
    p = ctl_proxy(proxy, echo_server, control={"socket": path})
    assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
    cp = ctl_as_nobody(path, "status")
    assert cp.returncode == 2, cp.stdout
    assert cp.stderr == ("hushgate: cannot connect to %s: Permission "
                         "denied\n" % path)
    assert p.terminate() == 0

    # The group of the socket lets its members in.
    p = ctl_proxy(proxy, echo_server, control={
        "socket": path, "mode": "0660", "group": "nogroup"})
    st = os.lstat(path)
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_gid == grp.getgrnam("nogroup").gr_gid
    cp = ctl_as_nobody(path, "status")
    assert cp.returncode == 0, cp.stderr
    assert p.terminate() == 0

    p = ctl_proxy(proxy, echo_server,
                  control={"socket": path, "mode": "0666"})
    cp = ctl_as_nobody(path, "pause", "ads", "1m")
    assert cp.returncode == 0, cp.stderr
    assert connect_status(p.port, target(echo_server, "ads.test")) == 200


def _permissions_as_owner(proxy, echo_server, open_dir):
    # Not root: a socket its owner may not write refuses its owner too.
    path = os.path.join(open_dir, "ctl.sock")
    p = ctl_proxy(proxy, echo_server,
                  control={"socket": path, "mode": "0000"})
    cp = run_hushgate(["ctl", "-s", path, "status"])
    assert cp.returncode == 2, cp.stdout
    assert cp.stderr == ("hushgate: cannot connect to %s: Permission "
                         "denied\n" % path)
    assert p.terminate() == 0
    p = ctl_proxy(proxy, echo_server,
                  control={"socket": path, "mode": "0600"})
    assert run_hushgate(["ctl", "-s", path, "status"]).returncode == 0


# ---------------------------------------------------------------------------
# Hostile clients

def test_hostile_clients(proxy, echo_server):
    p = ctl_proxy(proxy, echo_server)
    path = p.dir / "ctl.sock"
    cases = [
        (b"x" * 600, "line longer than 512 bytes"),
        (b"status " + b"y" * 1000 + b"\n", "line longer than 512 bytes"),
        (b"\x00\xff\xfe\x01garbage\n", "not a line of text"),
        (b"stat\x00us\n", "not a line of text"),
        (b"frobnicate\n", "unknown command"),
        (b"\n", "empty"),
        (b"pause a b c d e\n", "too many words"),
        (b"reload now\n", "reload: wrong number of arguments"),
    ]
    for data, why in cases:
        out = raw_exchange(path, data).decode("utf-8", "replace")
        assert out.startswith("error\n"), (data, out)
        assert why in out, (data, out)
        assert field(status(p), "generation") == "1"
    # Nothing sent, then closed; a request without its newline at the end
    # of the stream.
    assert raw_exchange(path, b"", shut=True) == b""
    assert raw_exchange(path, b"status", shut=True) == b""
    # A request sent in pieces is one line.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(str(path))
    s.sendall(b"sta")
    s.sendall(b"tus\r\n")
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    assert out.startswith(b"ok\nversion: ")
    assert field(status(p), "paused") == "0"
    assert p.proc.poll() is None


def test_silent_client_times_out(proxy, echo_server):
    p = ctl_proxy(proxy, echo_server)
    path = p.dir / "ctl.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(str(path))
    s.sendall(b"stat")
    # Meanwhile others are served.
    assert field(status(p), "generation") == "1"
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    assert out == b"error\nrequest: no request line within 5s\n"


def test_many_clients_at_once(proxy, echo_server):
    p = ctl_proxy(proxy, echo_server)
    path = str(p.dir / "ctl.sock")
    idle = []
    try:
        for _ in range(40):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.setblocking(False)
                s.connect(path)
            except OSError:
                s.close()       # the backlog is full: enough
                break
            idle.append(s)
        assert len(idle) >= 16
    finally:
        for s in idle:
            s.close()
    wait_until(lambda: ctl(p, "status").returncode == 0,
               "status once the idle clients are gone")


# ---------------------------------------------------------------------------
# One proxy per socket

def test_second_instance_refuses_the_socket(proxy, echo_server, tmp_path):
    p = ctl_proxy(proxy, echo_server)
    path = p.dir / "ctl.sock"
    other = tmp_path / "other.yaml"
    cfg = dict(p.config, control={"socket": str(path)},
               log={"decisions": str(tmp_path / "other.log")})
    dump_yaml(cfg, other)
    cp = run_hushgate(["-c", str(other)], timeout=TIMEOUT)
    assert cp.returncode == 1
    assert ("hushgate: control: %s: another instance answers on it; not "
            "starting" % path) in cp.stderr.splitlines()
    # The first keeps its socket.
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    assert field(status(p), "pid") == str(p.proc.pid)


def test_stale_socket_file_is_replaced(proxy, echo_server, tmp_path):
    path = tmp_path / "stale.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    p = ctl_proxy(proxy, echo_server, control={"socket": str(path)})
    p.wait_stderr(r"^hushgate: control: removed the stale socket %s$"
                  % re.escape(str(path)))
    cp = run_hushgate(["ctl", "-s", str(path), "status"])
    assert cp.returncode == 0, cp.stderr
    assert "pid: %d\n" % p.proc.pid in cp.stdout


def test_a_file_that_is_not_a_socket_is_kept(proxy, echo_server, tmp_path):
    path = tmp_path / "file.sock"
    path.write_text("keep me\n")
    p = proxy({"control": {"socket": str(path)}}, start=False)
    cp = run_hushgate(["-c", str(p.config_path)], timeout=TIMEOUT)
    assert cp.returncode == 1
    assert "control: %s exists and is not a socket" % path in cp.stderr
    assert path.read_text() == "keep me\n"

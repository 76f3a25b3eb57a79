"""The decision log in Squid's native access.log format (log.format:
squid), with the result code Squid would write for every way a request
ends, and rotation with the shipped logrotate snippet: after logrotate
moves the file and the proxy gets SIGUSR1, new lines go to the new file
and none is lost."""

import base64
import re
import shutil
import socket
import ssl
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers import (TIMEOUT, Tunnel, closed_port, open_client, raw_request,
                     read_response, read_to_eof, run_hushgate, wait_until)

SQUID = re.compile(r"^(\d+)\.(\d{3}) +(\d+) (\S+) ([A-Z_]+)/(\d{3}) (\d+) "
                   r"(\S+) (\S+) (\S+) (\S+)/(\S+) (\S+)$")
TOP = Path(__file__).resolve().parents[2]


def lines(path):
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    return [l for l in text.split("\n")[:-1]]


def test_squid_format(proxy, echo_server):
    p = proxy({"connect_ports": [echo_server.port],
               "log": {"format": "squid", "decisions": "decisions.log"},
               "categories": {"blocked": {"action": "deny",
                                          "hosts": ["bad.test"]}}},
              hosts=["echo.test", "bad.test"])
    with Tunnel(p.port, "echo.test:%d" % echo_server.port) as t:
        t.echo(b"0123456789")
    with Tunnel(p.port, "bad.test:%d" % echo_server.port) as t:
        assert t.status == 403
    got = wait_until(lambda: (lambda l: l if len(l) >= 2 else None)(
        lines(p.log_path)), "two squid lines")
    fields = [SQUID.match(l) for l in got]
    assert all(fields), got
    tunnel = [m for m in fields if m.group(9).startswith("echo.test")][0]
    assert tunnel.group(4) == "127.0.0.1"
    assert tunnel.group(5) == "TCP_TUNNEL" and tunnel.group(6) == "200"
    assert tunnel.group(7) == "10"
    assert tunnel.group(8) == "CONNECT"
    assert tunnel.group(9) == "echo.test:%d" % echo_server.port
    assert tunnel.group(11) == "HIER_DIRECT" and tunnel.group(12) == \
        "127.0.0.1"
    denied = [m for m in fields if m.group(9).startswith("bad.test")][0]
    assert denied.group(5) == "TCP_DENIED" and denied.group(6) == "403"
    assert denied.group(11) == "HIER_NONE"


def test_format_changes_on_reload(proxy, echo_server):
    p = proxy({"connect_ports": [echo_server.port]}, hosts=["echo.test"])
    with Tunnel(p.port, "echo.test:%d" % echo_server.port) as t:
        t.echo(b"a")
    p.wait_log(lambda r: True, "a JSON line")
    p.rewrite_config({"connect_ports": [echo_server.port],
                      "log": {"format": "squid",
                              "decisions": "decisions.log"}})
    ok, _, _ = p.reload()
    assert ok
    with Tunnel(p.port, "echo.test:%d" % echo_server.port) as t:
        t.echo(b"b")
    got = wait_until(lambda: (lambda l: l if len(l) >= 2 else None)(
        lines(p.log_path)), "a second line")
    assert got[0].startswith("{") and SQUID.match(got[1]), got


@pytest.fixture(scope="session")
def logrotate():
    path = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not Path(path).exists():
        pytest.fail("logrotate is not installed (scripts/deps test "
                    "installs it)")
    return path


def test_shipped_logrotate_snippet_rotates(proxy, echo_server, logrotate,
                                           tmp_path):
    logdir = tmp_path / "logs"
    logdir.mkdir()
    p = proxy({"connect_ports": [echo_server.port],
               "log": {"decisions": str(logdir / "decisions.log")}},
              hosts=["echo.test"])
    log = logdir / "decisions.log"
    with Tunnel(p.port, "echo.test:%d" % echo_server.port) as t:
        t.echo(b"before")
    wait_until(lambda: len(lines(log)) == 1 or None, "the first line")
    # the shipped snippet, pointed at this log and this process
    conf = (TOP / "scripts/systemd/hushgate.logrotate").read_text()
    conf = conf.replace("/var/log/hushgate/*.log", str(logdir / "*.log"))
    conf = conf.replace("create 0640 hushgate adm", "create 0640")
    conf = re.sub(r"systemctl kill --signal=USR1 hushgate.service",
                  "kill -USR1 %d" % p.proc.pid, conf)
    assert "kill -USR1" in conf
    (tmp_path / "rotate.conf").write_text(conf)
    cp = subprocess.run([logrotate, "-f", "-s", str(tmp_path / "state"),
                         str(tmp_path / "rotate.conf")],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        timeout=TIMEOUT * 3)
    assert cp.returncode == 0, cp.stdout.decode()
    p.wait_stderr(r"decision log reopened")
    with Tunnel(p.port, "echo.test:%d" % echo_server.port) as t:
        t.echo(b"after")
    wait_until(lambda: len(lines(log)) == 1 or None,
               "a line in the new file")
    assert len(lines(logdir / "decisions.log.1")) == 1


def test_decisions_to_syslog(tmp_path, echo_server):
    """log.decisions: syslog -- hushgate runs in a private mount namespace
    whose /dev holds this test's datagram socket as /dev/log (the machine's
    /dev is not touched), and the record arrives there as one message."""
    import json
    import socket as so
    dev = tmp_path / "dev"
    dev.mkdir()
    sock = so.socket(so.AF_UNIX, so.SOCK_DGRAM)
    sock.bind(str(dev / "log"))
    sock.settimeout(TIMEOUT)
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 echo.test\n")
    cfg = tmp_path / "hg.yaml"
    cfg.write_text(
        'listen: ["127.0.0.1:0"]\nworkers: 1\nconnect_ports: [%d]\n'
        'dns: {servers: [], hosts_file: %s}\n'
        'log: {decisions: syslog}\n' % (echo_server.port, hosts))
    script = ('d=%s; for n in null zero urandom random; do touch "$d/$n"; '
              'mount --bind "/dev/$n" "$d/$n" || exit 97; done; '
              'mount --bind "$d" /dev || exit 97; exec "$0" -c "$1"' % dev)
    from helpers import clean_env, hushgate_bin
    proc = subprocess.Popen(["unshare", "-m", "sh", "-c", script,
                             hushgate_bin(), str(cfg)],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=clean_env())
    try:
        port = None
        for raw in proc.stderr:
            m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", raw)
            if m:
                port = int(m.group(1))
                break
        assert port, "hushgate did not start in the namespace " \
            "(unshare and mount need root)"
        with Tunnel(port, "echo.test:%d" % echo_server.port) as t:
            t.echo(b"to syslog")
        msg = sock.recv(65536).decode()
        m = re.match(r"^<30>.*hushgate\[\d+\]: (\{.*\})$", msg)
        assert m, msg
        rec = json.loads(m.group(1))
        assert rec["host"] == "echo.test" and rec["status"] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=TIMEOUT)
        sock.close()


# -- Every termination code as Squid would write it --------------------------
#
# Each case provokes one way for a request to end, from a client address of
# its own, against two proxies of the same configuration: one writes the
# JSON log (its record names the end and the host and port), the other the
# Squid log (its line must carry the result code and the status the client
# got).  Records and lines are matched by client address.

PASSWORD = "wonderland"
ALICE = ("Proxy-Authorization: Basic %s\r\n" % base64.b64encode(
    ("alice:" + PASSWORD).encode()).decode()).encode()
WRONG = ("Proxy-Authorization: Basic %s\r\n" % base64.b64encode(
    b"alice:guess").decode()).encode()


@pytest.fixture(scope="module")
def squid_env(tmp_path_factory, echo_server, tls_echo, greet_server,
              sink_server, http_server, test_ca):
    d = tmp_path_factory.mktemp("squidenv")
    users = d / "users"
    cp = run_hushgate(["users", "add", "alice", "--users-file", str(users)],
                      input=(PASSWORD + "\n").encode())
    assert cp.returncode == 0, cp.stderr
    closed = closed_port()
    env = SimpleNamespace(
        echo=echo_server.port, tls=tls_echo.port, greet=greet_server.port,
        sink=sink_server.port, web=http_server.port,
        closed=closed.getsockname()[1], users=str(users), ca=test_ca["ca"])
    yield env
    closed.close()


def group_config(env, group):
    if group == "main":
        return {"clients": ["127.0.0.0/25"],
                "connect_ports": [env.echo, env.tls, env.greet, env.closed],
                "http_ports": [env.web, env.greet, env.echo, env.closed],
                "categories": {"blocked": {"action": "deny",
                                           "hosts": ["denied.test"]}},
                "destinations": {"guard": "on", "allow": ["127.0.0.1/32"]},
                "tls_sni": "require", "tls_ports": [env.tls]}
    if group == "decide":
        return {"connect_ports": [env.tls],
                "categories": {"blocked": {"action": "deny",
                                           "hosts": ["denied.test"]}},
                "tls_sni": "decide"}
    if group == "auth":
        return {"connect_ports": [env.echo], "http_ports": [env.web],
                "auth": {"basic": {"users_file": env.users},
                         "allow_plaintext_auth": True, "max_failures": 2,
                         "failure_window": "60s"}}
    if group == "short":
        return {"connect_ports": [env.echo], "http_ports": [env.sink],
                "timeouts": {"request": "1s", "idle": "1s",
                             "response": "1s"}}
    if group == "per_client":
        return {"workers": 1, "connect_ports": [env.echo],
                "max_connections_per_client": 1}
    assert group == "overload"
    return {"workers": 1, "connect_ports": [env.echo], "max_connections": 2}


HOSTS = {"echo.test": "127.0.0.1", "web.test": "127.0.0.1",
         "tls.test": "127.0.0.1", "greet.test": "127.0.0.1",
         "sink.test": "127.0.0.1", "denied.test": "127.0.0.1",
         "guard.test": "127.0.0.2"}


@pytest.fixture(scope="module")
def squid_pairs(module_proxy, squid_env):
    """pairs(group): a JSON-logging and a Squid-logging proxy of the
    group's configuration, started once per module."""
    made = {}

    def pairs(group):
        if group not in made:
            cfg = group_config(squid_env, group)
            made[group] = (
                module_proxy(cfg, hosts=HOSTS),
                module_proxy(dict(cfg, log={"format": "squid",
                                            "decisions": "decisions.log"}),
                             hosts=HOSTS))
        return made[group]
    return pairs


def _get(env, port, src, url, extra=b"", status=200):
    r = raw_request(port, ("GET %s HTTP/1.1\r\nHost: %s\r\n"
                           "Connection: close\r\n" % (
                               url, url.split("/")[2])).encode() + extra +
                    b"\r\n", source=src)
    assert r.status == status, r
    return r


def _tunnel(port, src, target, status, extra=b""):
    t = Tunnel(port, target, source=src, extra=extra)
    assert t.status == status, t.resp
    return t


def act_tunnel(env, port, src, extra=b""):
    with _tunnel(port, src, "echo.test:%d" % env.echo, 200, extra) as t:
        t.echo(b"through the tunnel")


def act_upstream_closes(env, port, src):
    with _tunnel(port, src, "greet.test:%d" % env.greet, 200) as t:
        t.sock.sendall(b"hello")
        assert t.read_to_eof() == b"greeting from upstream\n"


def act_sni_mismatch(env, port, src):
    ctx = ssl.create_default_context(cafile=env.ca)
    ctx.check_hostname = False
    with _tunnel(port, src, "tls.test:%d" % env.tls, 200) as t:
        with pytest.raises((ssl.SSLError, OSError)):
            ctx.wrap_socket(t.sock, server_hostname="fronted.test")


def act_sni_denied(env, port, src):
    ctx = ssl.create_default_context(cafile=env.ca)
    ctx.check_hostname = False
    with _tunnel(port, src, "127.0.0.1:%d" % env.tls, 200) as t:
        with pytest.raises((ssl.SSLError, OSError)):
            ctx.wrap_socket(t.sock, server_hostname="denied.test")


def act_not_tls(env, port, src):
    with _tunnel(port, src, "tls.test:%d" % env.tls, 200) as t:
        t.sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert t.read_to_eof() == b""


def act_client_gone(env, port, src):
    s = open_client(port, src)
    s.sendall(b"POST http://web.test:%d/up HTTP/1.1\r\nHost: web.test\r\n"
              b"Content-Length: 100\r\n\r\nshort" % env.web)
    s.close()


def act_no_request(env, port, src):
    open_client(port, src).close()


def act_truncated_head(env, port, src):
    with open_client(port, src) as s:
        s.sendall(b"GET http://web.test/ HTTP/1.1\r\nHost: web")
        s.shutdown(socket.SHUT_WR)
        assert read_to_eof(s) == b""


def act_answer_at_accept(status):
    def act(env, port, src):
        with open_client(port, src) as s:
            assert read_response(s).status == status
    return act


def act_auth_blocked(env, port, src):
    # (credentials a worker accepted before would still work)
    for status in (407, 407, 429):
        _tunnel(port, src, "echo.test:%d" % env.echo, status, WRONG).close()


def act_request_timeout(env, port, src):
    with open_client(port, src) as s:
        s.sendall(b"GET http://web.test/ HTTP/1.1\r\n")
        assert read_response(s).status == 408


def act_idle_tunnel(env, port, src):
    with _tunnel(port, src, "echo.test:%d" % env.echo, 200) as t:
        t.echo(b"then silence")
        assert t.read_to_eof() == b""


def act_per_client(env, port, src):
    with _tunnel(port, src, "echo.test:%d" % env.echo, 200) as held:
        held.echo(b"holding the one connection")
        act_answer_at_accept(503)(env, port, src)


def act_overload(env, port, src):
    target = "echo.test:%d" % env.echo
    with _tunnel(port, "127.0.0.61", target, 200) as a, \
            _tunnel(port, "127.0.0.62", target, 200) as b:
        a.echo(b"one")
        b.echo(b"two")
        act_answer_at_accept(503)(env, port, src)


def url(kind, host, key, path=""):
    """The URL a case expects: kind "connect" (host:port), "http"
    (http://host:port/path), or None ("-")."""
    def make(env):
        if kind is None:
            return "-"
        port = getattr(env, key) if isinstance(key, str) else key
        h = "[%s]" % host if ":" in host else host
        if kind == "connect":
            return "%s:%d" % (h, port)
        return "http://%s:%d%s" % (h, port, path)
    return make


# id, group, client address (last byte), action, end, Squid code, status,
# host, port (an attribute of the environment), URL, records of the client
# and the one checked
C = SimpleNamespace
SQUID_CASES = [
    # tunnels
    C(id="tunnel", group="main", src=10, act=act_tunnel,
      end="client_closed", code="TCP_TUNNEL", status=200,
      host="echo.test", port="echo", url=url("connect", "echo.test", "echo")),
    C(id="tunnel-upstream-closes", group="main", src=11,
      act=act_upstream_closes, end="upstream_closed", code="TCP_TUNNEL",
      status=200, host="greet.test", port="greet",
      url=url("connect", "greet.test", "greet")),
    C(id="denied", group="main", src=12,
      act=lambda e, p, s: _tunnel(p, s, "denied.test:%d" % e.echo,
                                  403).close(),
      end="denied", code="TCP_DENIED", status=403, host="denied.test",
      port="echo", url=url("connect", "denied.test", "echo")),
    C(id="guard", group="main", src=13,
      act=lambda e, p, s: _tunnel(p, s, "guard.test:%d" % e.echo,
                                  403).close(),
      end="destination_guard", code="TCP_DENIED", status=403,
      host="guard.test", port="echo", url=url("connect", "guard.test",
                                              "echo")),
    C(id="port-denied", group="main", src=14,
      act=lambda e, p, s: _tunnel(p, s, "echo.test:1", 403).close(),
      end="port_denied", code="TCP_DENIED", status=403, host="echo.test",
      port=1, url=url("connect", "echo.test", 1)),
    C(id="sni-mismatch", group="main", src=15, act=act_sni_mismatch,
      end="sni_mismatch", code="TCP_DENIED", status=200, host="tls.test",
      port="tls", url=url("connect", "tls.test", "tls")),
    C(id="not-tls", group="main", src=16, act=act_not_tls, end="not_tls",
      code="TCP_DENIED", status=200, host="tls.test", port="tls",
      url=url("connect", "tls.test", "tls")),
    C(id="sni-denied", group="decide", src=19, act=act_sni_denied,
      end="sni_denied", code="TCP_DENIED", status=200, host="127.0.0.1",
      port="tls", url=url("connect", "127.0.0.1", "tls")),
    C(id="connect-refused", group="main", src=17,
      act=lambda e, p, s: _tunnel(p, s, "echo.test:%d" % e.closed,
                                  502).close(),
      end="connect_failed", code="NONE_NONE", status=502, host="echo.test",
      port="closed", url=url("connect", "echo.test", "closed")),
    C(id="resolve-failed", group="main", src=18,
      act=lambda e, p, s: _tunnel(p, s, "nowhere.test:%d" % e.echo,
                                  502).close(),
      end="resolve_failed", code="NONE_NONE", status=502,
      host="nowhere.test", port="echo",
      url=url("connect", "nowhere.test", "echo")),
    # plain HTTP
    C(id="http", group="main", src=20,
      act=lambda e, p, s: _get(e, p, s, "http://web.test:%d/page" % e.web),
      end="done", code="TCP_MISS", status=200, host="web.test", port="web",
      url=url("http", "web.test", "web", "/page")),
    C(id="http-guard", group="main", src=21,
      act=lambda e, p, s: _get(e, p, s, "http://guard.test:%d/x" % e.web,
                               status=403),
      end="destination_guard", code="TCP_DENIED", status=403,
      host="guard.test", port="web", url=url("http", "guard.test", "web",
                                             "/x")),
    C(id="http-connect-refused", group="main", src=22,
      act=lambda e, p, s: _get(e, p, s, "http://web.test:%d/" % e.closed,
                               status=502),
      end="connect_failed", code="TCP_MISS", status=502, host="web.test",
      port="closed", url=url("http", "web.test", "closed", "/")),
    C(id="http-upstream-closes", group="main", src=23,
      act=lambda e, p, s: _get(e, p, s, "http://greet.test:%d/" % e.greet,
                               status=502),
      end="upstream_closed", code="TCP_MISS", status=502,
      host="greet.test", port="greet", url=url("http", "greet.test",
                                               "greet", "/")),
    C(id="http-bad-response", group="main", src=24,
      act=lambda e, p, s: _get(e, p, s, "http://echo.test:%d/" % e.echo,
                               status=502),
      end="bad_response", code="TCP_MISS", status=502, host="echo.test",
      port="echo", url=url("http", "echo.test", "echo", "/")),
    C(id="http-client-gone", group="main", src=25, act=act_client_gone,
      end="client_closed", code="TCP_MISS_ABORTED", status=0,
      host="web.test", port="web", url=url("http", "web.test", "web",
                                           "/up")),
    # requests refused before they were understood
    C(id="bad-connect-target", group="main", src=30,
      act=lambda e, p, s: _tunnel(p, s, "nohost", 400).close(),
      end="bad_request", code="NONE_NONE", status=400, host="nohost",
      port=None, url=lambda e: "nohost"),
    C(id="fragment", group="main", src=31,
      act=lambda e, p, s: _get(e, p, s, "http://web.test:%d/a#b" % e.web,
                               status=400),
      end="bad_request", code="NONE_NONE", status=400, host="web.test",
      port="web", url=url("http", "web.test", "web", "/a#b")),
    C(id="too-large", group="main", src=32,
      act=lambda e, p, s: _tunnel(p, s, "echo.test:%d" % e.echo, 431,
                                  b"X-Pad: " + b"a" * 9000 + b"\r\n").close(),
      end="too_large", code="NONE_NONE", status=431, host=None, port=None,
      url=url(None, None, None)),
    C(id="truncated-head", group="main", src=33, act=act_truncated_head,
      end="bad_request", code="NONE_NONE", status=0, host=None, port=None,
      url=url(None, None, None)),
    C(id="no-request", group="main", src=34, act=act_no_request,
      end="client_closed", code="NONE_NONE_ABORTED", status=0, host=None,
      port=None, url=url(None, None, None)),
    C(id="client-denied", group="main", src=200,
      act=act_answer_at_accept(403), end="client_denied", code="TCP_DENIED",
      status=403, host=None, port=None, url=url(None, None, None)),
    # authentication
    C(id="auth-tunnel", group="auth", src=40,
      act=lambda e, p, s: act_tunnel(e, p, s, ALICE), end="client_closed",
      code="TCP_TUNNEL", status=200, host="echo.test", port="echo",
      url=url("connect", "echo.test", "echo")),
    C(id="auth-required", group="auth", src=41,
      act=lambda e, p, s: _tunnel(p, s, "echo.test:%d" % e.echo,
                                  407).close(),
      end="auth_required", code="TCP_DENIED", status=407, host="echo.test",
      port="echo", url=url("connect", "echo.test", "echo")),
    C(id="auth-required-v6", group="auth", src=42,
      act=lambda e, p, s: _tunnel(p, s, "[::1]:%d" % e.echo, 407).close(),
      end="auth_required", code="TCP_DENIED", status=407, host="::1",
      port="echo", url=url("connect", "::1", "echo")),
    C(id="auth-required-http", group="auth", src=43,
      act=lambda e, p, s: _get(e, p, s, "http://web.test:%d/p?q" % e.web,
                               status=407),
      end="auth_required", code="TCP_DENIED", status=407, host="web.test",
      port="web", url=url("http", "web.test", "web", "/p?q")),
    C(id="auth-failed", group="auth", src=44,
      act=lambda e, p, s: _tunnel(p, s, "echo.test:%d" % e.echo, 407,
                                  WRONG).close(),
      end="auth_failed", code="TCP_DENIED", status=407, host="echo.test",
      port="echo", url=url("connect", "echo.test", "echo")),
    C(id="auth-blocked", group="auth", src=45, act=act_auth_blocked,
      end="auth_blocked", code="TCP_DENIED", status=429, host="echo.test",
      port="echo", url=url("connect", "echo.test", "echo"), count=3,
      by_status=True),
    # timeouts
    C(id="request-timeout", group="short", src=50, act=act_request_timeout,
      end="request_timeout", code="NONE_NONE_TIMEDOUT", status=408,
      host=None, port=None, url=url(None, None, None)),
    C(id="idle-tunnel", group="short", src=51, act=act_idle_tunnel,
      end="idle_timeout", code="TCP_TUNNEL_TIMEDOUT", status=200,
      host="echo.test", port="echo", url=url("connect", "echo.test", "echo")),
    C(id="response-timeout", group="short", src=52,
      act=lambda e, p, s: _get(e, p, s, "http://sink.test:%d/" % e.sink,
                               status=504),
      end="response_timeout", code="TCP_MISS", status=504,
      host="sink.test", port="sink", url=url("http", "sink.test", "sink",
                                             "/")),
    # connection caps
    C(id="per-client-cap", group="per_client", src=60, act=act_per_client,
      end="overload_client", code="TCP_DENIED", status=503, host=None,
      port=None, url=url(None, None, None), count=2, pick=0),
    C(id="overload", group="overload", src=63, act=act_overload,
      end="overload", code="NONE_NONE", status=503, host=None, port=None,
      url=url(None, None, None)),
]


@pytest.mark.parametrize("case", SQUID_CASES, ids=[c.id for c in SQUID_CASES])
def test_squid_code_of_each_end(squid_env, squid_pairs, case):
    jp, sp = squid_pairs(case.group)
    src = "127.0.0.%d" % case.src
    count = getattr(case, "count", 1)
    pick = getattr(case, "pick", -1)
    for p in (jp, sp):
        case.act(squid_env, p.port, src)

    recs = jp.wait_log(lambda r: r["client"] == src, "records of " + src,
                       count=count)
    # Records are written as connections end, which workers may do in
    # another order than the client's: pick by status where asked.
    by_status = getattr(case, "by_status", False)
    rec = [r for r in recs if r["status"] == case.status][0] if by_status \
        else recs[pick]
    assert rec["end"] == case.end, rec
    port = getattr(squid_env, case.port) if isinstance(case.port, str) \
        else case.port
    assert (rec["host"], rec["port"]) == (case.host, port), rec
    assert (rec["status"] or 0) == case.status, rec

    def mine():
        got = lines(sp.log_path)
        assert all(SQUID.match(l) for l in got), got
        m = [SQUID.match(l) for l in got if SQUID.match(l).group(4) == src]
        return m if len(m) >= count else None
    ms = wait_until(mine, "squid lines of " + src)
    m = [x for x in ms if x.group(6) == "%03d" % case.status][0] \
        if by_status else ms[pick]
    assert "%s/%s" % (m.group(5), m.group(6)) == "%s/%03d" % (
        case.code, case.status), m.group(0)
    assert m.group(9) == case.url(squid_env), m.group(0)

"""The decision log in Squid's native access.log format (log.format:
squid), and rotation with the shipped logrotate snippet: after logrotate
moves the file and the proxy gets SIGUSR1, new lines go to the new file
and none is lost."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import TIMEOUT, Tunnel, wait_until

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

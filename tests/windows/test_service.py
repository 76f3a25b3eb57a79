"""`hushgate service ...` under Wine: the service registered with Wine's
service control manager (services.exe), started and stopped through it,
and the proxy it runs answering on a loopback port chosen at run time.

What Wine shows and what it cannot:
- checked here: the service key (ImagePath, Start=2 automatic, own
  process), the Event Log source key, start through the SCM (the service
  process is started by services.exe and reports RUNNING once it listens),
  the proxy's answers while it runs, reload (PARAMCHANGE), stop (drain,
  port closed, exit status 0 reported), uninstall, the failure report of a
  service that cannot start, and the error messages;
- not checked, Wine has no equivalent: start at boot (Wine has no boot of
  the machine), the restart-on-failure actions (Wine's SCM accepts them
  but never restarts, and rejects the non-crash-failure flag, which install
  reports as a warning), Event Log entries (Wine's ReportEvent only writes
  to its debug channel), the "run from an elevated prompt" message (every
  Wine process is an administrator) and the LocalSystem account.
The README (scripts/windows/README.md) lists these for a real Windows.

Wine keeps a prefix's wineserver, and with it services.exe and the
services it started, only while an ordinary program runs in the prefix: a
service process alone does not keep it up.  Each test therefore keeps one
program (cmd waiting on its standard input) running while it works.
"""

import json
import socket
import subprocess
from pathlib import Path

import pytest

from helpers import (TCPServer, Tunnel, dump_yaml, free_port, raw_request,
                     wait_until, write_hosts)

REPO = Path(__file__).resolve().parents[2]
SERVICES_KEY = r"HKLM\SYSTEM\CurrentControlSet\Services"
EVENTLOG_KEY = SERVICES_KEY + r"\EventLog\Application"
DENIED_HOST = "mobile.events.data.microsoft.com"   # office-telemetry: deny
ALLOWED_HOST = "allowed.hushgate.test"
# The SCM start, the proxy's start under Wine and the drain: bounded, with
# room for a loaded machine.
SVC_TIMEOUT = 120


class Keeper:
    """A program that keeps the Wine prefix (and the services in it)
    running until stop()."""

    def __init__(self, wine):
        self.proc = wine.popen("cmd", "/c", "set /p x=",
                               stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        # The first program of a prefix starts its system processes
        # (services.exe and the automatic services), which inherit its
        # standard handles: a test's output pipe held by them would never
        # reach end of file.  So the prefix is brought up here, by
        # programs whose output goes nowhere, before any test command.
        subprocess.run([wine.wine, "cmd", "/c", "exit"], env=wine.env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=SVC_TIMEOUT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=SVC_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def alive(wine):
    k = Keeper(wine)
    yield k
    k.stop()


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


class Service:
    """hushgate.exe service ... in the session's Wine prefix."""

    def __init__(self, wine, exe, name="hushgate"):
        self.wine = wine
        self.exe = exe
        self.name = name

    def run(self, *args, timeout=SVC_TIMEOUT):
        extra = [] if self.name == "hushgate" else ["--name", self.name]
        return self.wine.run(self.exe, "service", *args, *extra,
                             timeout=timeout)

    def key(self):
        return self.wine.reg_query(SERVICES_KEY + "\\" + self.name)

    def cleanup(self):
        """Leave the prefix as found, whatever the test did."""
        if self.run("status").returncode != 4:
            self.run("uninstall")


def make_config(tmp, port, **extra):
    """A configuration on 127.0.0.1:port with the shipped balanced
    profile (copied beside it), a hosts file of our own and no DNS
    server."""
    sets = tmp / "sets"
    sets.mkdir(exist_ok=True)
    for f in (REPO / "rules" / "sets").glob("*.yaml"):
        (sets / f.name).write_bytes(f.read_bytes())
    write_hosts(tmp / "hosts", [ALLOWED_HOST])
    cfg = {
        "listen": ["127.0.0.1:%d" % port],
        "workers": 1,
        "clients": ["127.0.0.0/8"],
        "connect_ports": [443, "1024-65535"],
        "dns": {"servers": [], "hosts_file": "hosts"},
        "log": {"decisions": "decisions.log", "level": "info"},
        "timeouts": {"drain": "5s"},
        "include": ["sets/balanced.yaml"],
    }
    cfg.update(extra)
    return dump_yaml(cfg, tmp / "hushgate.yaml")


def default_log(wine):
    """%ProgramData%\\hushgate\\hushgate.log of the prefix."""
    return wine.prefix / "drive_c" / "ProgramData" / "hushgate" / \
        "hushgate.log"


def read_from(path, offset):
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def size_of(path):
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def decisions(path):
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def test_service_lifecycle(wine, alive, hushgate_exe, tmp_path):
    """install registers the service and the Event Log source; start runs
    the proxy through Wine's SCM (the command returns once it listens);
    the proxy denies a telemetry host with 403, tunnels an allowed one
    byte for byte and answers /healthz; reload and stop go through the
    SCM's controls; the log in %ProgramData%\\hushgate tells the drain;
    uninstall removes both keys."""
    port = free_port()
    config = make_config(tmp_path, port)
    svc = Service(wine, hushgate_exe)
    log = default_log(wine)
    log_start = size_of(log)
    echo = TCPServer("echo")
    try:
        cp = svc.run("install", "-c", wine.winpath(config))
        assert cp.returncode == 0, cp.stderr
        assert "configuration OK" in cp.stdout   # the -t check ran
        assert "installed" in cp.stdout

        key = svc.key()
        assert key.returncode == 0, key.stderr
        text = key.stdout
        image = '"%s" service run -c "%s"' % (wine.winpath(hushgate_exe),
                                              wine.winpath(config))
        assert image.lower() in text.lower(), text
        assert "Start    REG_DWORD    0x2" in text, text     # automatic
        assert "Type    REG_DWORD    0x10" in text, text     # own process
        assert "ObjectName    REG_SZ    LocalSystem" in text, text
        ev = wine.reg_query(EVENTLOG_KEY + "\\hushgate")
        assert ev.returncode == 0, ev.stderr
        assert "EventMessageFile" in ev.stdout
        assert wine.winpath(hushgate_exe).lower() in ev.stdout.lower()
        assert "TypesSupported    REG_DWORD    0x7" in ev.stdout

        # Stopped, unless Wine's service manager restarted in between and
        # started it as an automatic service (see test_automatic_start).
        st = svc.run("status")
        assert st.returncode in (0, 3), st.stdout + st.stderr
        assert "automatic" in st.stdout

        cp = svc.run("start")
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert "running" in cp.stdout
        # Running is reported once the listener is up.
        assert port_open(port)
        st = svc.run("status")
        assert st.returncode == 0 and "running (pid" in st.stdout, st.stdout

        resp = raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert resp.status == 200
        with Tunnel(port, "%s:443" % DENIED_HOST) as t:
            assert t.status == 403
        with Tunnel(port, "%s:%d" % (ALLOWED_HOST, echo.port)) as t:
            assert t.status == 200
            data = bytes(range(256)) * 64
            t.echo(data)
        recs = wait_until(
            lambda: [r for r in decisions(tmp_path / "decisions.log")
                     if r["host"] == DENIED_HOST],
            "the denial in the decision log", timeout=SVC_TIMEOUT)
        assert recs[0]["action"] == "deny"
        assert recs[0]["category"] == "office-telemetry"

        cp = svc.run("reload")
        assert cp.returncode == 0, cp.stderr
        wait_until(lambda: "reload: ok" in read_from(log, log_start),
                   "the reload in the service log", timeout=SVC_TIMEOUT)

        cp = svc.run("stop")
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert "stopped" in cp.stdout
        wait_until(lambda: not port_open(port), "the port to close",
                   timeout=SVC_TIMEOUT)
        text = read_from(log, log_start)
        assert "service hushgate: starting, configuration %s" % \
            wine.winpath(config) in text, text
        assert "shutting down: " in text and "draining up to 5s" in text, \
            text
        assert "service hushgate: stopped (status 0)" in text, text
        st = svc.run("status")
        assert st.returncode == 3, st.stdout

        cp = svc.run("uninstall")
        assert cp.returncode == 0, cp.stderr
        assert "removed" in cp.stdout
        assert svc.key().returncode != 0
        assert wine.reg_query(EVENTLOG_KEY + "\\hushgate").returncode != 0
        st = svc.run("status")
        assert st.returncode == 4 and "not installed" in st.stdout
    finally:
        echo.close()
        svc.cleanup()


def test_automatic_start(wine, hushgate_exe, tmp_path):
    """The service is installed to start automatically: Wine's service
    manager starts such services when the prefix starts, its nearest
    thing to a boot.  After install, the prefix is shut down (wineserver
    -k) and the next program started in it brings the service up: the
    proxy answers without any `service start`.  (A real boot of Windows,
    and the order against DiagTrack, are not shown by this.)"""
    port = free_port()
    config = make_config(tmp_path, port)
    svc = Service(wine, hushgate_exe, "hushgate-boot")
    keeper = Keeper(wine)
    try:
        cp = svc.run("install", "-c", wine.winpath(config))
        assert cp.returncode == 0, cp.stderr
        keeper.stop()
        wine.shutdown()
        wine.wait_idle()
        assert not port_open(port)
        keeper = Keeper(wine)       # the prefix starts again
        wait_until(lambda: svc.run("status").returncode == 0 and
                   port_open(port),
                   "the automatic service to listen after the prefix "
                   "started", timeout=SVC_TIMEOUT, interval=0.5)
        resp = raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                           b"\r\n")
        assert resp.status == 200
        cp = svc.run("stop")
        assert cp.returncode == 0, cp.stderr
    finally:
        svc.cleanup()
        keeper.stop()


def test_install_refuses_a_bad_config(wine, alive, hushgate_exe, tmp_path):
    """A configuration that fails `hushgate -t` is refused before anything
    is registered; the check's own message is shown."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("listen: [\"127.0.0.1:%d\"]\nno_such_key: 1\n"
                   % free_port())
    svc = Service(wine, hushgate_exe, "hushgate-badcfg")
    try:
        cp = svc.run("install", "-c", wine.winpath(bad))
        assert cp.returncode == 1
        assert "no_such_key" in cp.stderr, cp.stderr
        assert "does not check out" in cp.stderr
        assert "the service was not installed" in cp.stderr
        assert svc.key().returncode != 0
        cp = svc.run("install", "-c", wine.winpath(tmp_path / "none.yaml"))
        assert cp.returncode == 1 and "no such file" in cp.stderr
    finally:
        svc.cleanup()


def test_service_that_cannot_start(wine, alive, hushgate_exe, tmp_path):
    """The configuration checks out but its port is taken when the service
    starts: `service start` says it stopped while starting, with the
    proxy's exit status (1), and the log says why.  On Windows the
    failure actions would then restart it every 5 s; Wine does not."""
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    config = make_config(tmp_path, port)
    logf = tmp_path / "service.log"
    svc = Service(wine, hushgate_exe, "hushgate-busy")
    try:
        cp = svc.run("install", "-c", wine.winpath(config), "--log",
                     wine.winpath(logf))
        assert cp.returncode == 0, cp.stderr
        assert '--log "%s"' % wine.winpath(logf) in svc.key().stdout
        cp = svc.run("start")
        assert cp.returncode == 1, cp.stdout + cp.stderr
        assert "stopped while starting" in cp.stderr
        assert "the proxy exited with status 1" in cp.stderr
        st = svc.run("status")
        assert st.returncode == 3
        assert "the proxy exited with status 1" in st.stderr
        text = logf.read_text()
        assert "127.0.0.1:%d" % port in text, text
        assert "service hushgate-busy: stopped (status 1)" in text, text
    finally:
        blocker.close()
        svc.cleanup()


def test_run_from_a_console(wine, alive, hushgate_exe, tmp_path):
    """`service run` is for the SCM: from a console it says so and exits
    2 without serving."""
    port = free_port()
    config = make_config(tmp_path, port)
    cp = wine.run(hushgate_exe, "service", "run", "-c", wine.winpath(config))
    assert cp.returncode == 2, cp.stdout + cp.stderr
    assert "service control manager" in cp.stderr
    assert not port_open(port)


def test_clear_errors(wine, alive, hushgate_exe, tmp_path):
    """Missing service, a second install of the same name, bad names and
    usage: each gets its own message and exit status."""
    svc = Service(wine, hushgate_exe, "hushgate-missing")
    for cmd in ("start", "stop", "uninstall", "reload"):
        cp = svc.run(cmd)
        assert cp.returncode == 1, (cmd, cp.stderr)
        assert "no service named 'hushgate-missing' is installed" in \
            cp.stderr, (cmd, cp.stderr)
    cp = svc.run("status")
    assert cp.returncode == 4 and "not installed" in cp.stdout

    config = make_config(tmp_path, free_port())
    twice = Service(wine, hushgate_exe, "hushgate-twice")
    try:
        assert twice.run("install", "-c",
                         wine.winpath(config)).returncode == 0
        cp = twice.run("install", "-c", wine.winpath(config))
        assert cp.returncode == 1
        assert "a service named 'hushgate-twice' exists already" in \
            cp.stderr, cp.stderr
        # Not running (or started by a restart of Wine's service
        # manager): stop succeeds either way.
        cp = twice.run("stop")
        assert cp.returncode == 0, cp.stderr
        assert "not running" in cp.stdout or "stopped" in cp.stdout
    finally:
        twice.cleanup()

    cp = wine.run(hushgate_exe, "service", "start", "--name", "bad name!")
    assert cp.returncode == 2 and "bad service name" in cp.stderr
    cp = wine.run(hushgate_exe, "service", "frobnicate")
    assert cp.returncode == 2 and "usage:" in cp.stderr
    cp = wine.run(hushgate_exe, "service")
    assert cp.returncode == 2 and "usage:" in cp.stderr

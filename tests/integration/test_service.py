"""Running as a service: sd_notify(3) messages on NOTIFY_SOCKET (ready,
reloading, stopping), dropping root to `user:` once the sockets are
bound, and the shipped systemd unit checked by systemd-analyze verify."""

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from helpers import (TIMEOUT, Tunnel, clean_env, dump_yaml, hushgate_bin,
                     wait_until, write_hosts)

TOP = Path(__file__).resolve().parents[2]


class Notified:
    """A datagram socket standing in for systemd's notification socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(TIMEOUT)
        self.path = str(path)

    def next(self):
        return self.sock.recv(4096).decode()

    def close(self):
        self.sock.close()


def start(tmp_path, config, env_extra=None):
    hosts = write_hosts(tmp_path / "hosts", ["echo.test"])
    cfg = {"listen": ["127.0.0.1:0"], "workers": 1,
           "dns": {"servers": [], "hosts_file": str(hosts)},
           "log": {"decisions": str(tmp_path / "decisions.log")}}
    cfg.update(config)
    path = dump_yaml(cfg, tmp_path / "hushgate.yaml")
    env = clean_env()
    env.update(env_extra or {})
    proc = subprocess.Popen([hushgate_bin(), "-c", str(path)],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    return proc, path


def read_port(proc):
    for raw in proc.stderr:
        m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", raw)
        if m:
            return int(m.group(1))
    raise AssertionError("no listening line")


def test_notify_ready_reload_stopping(tmp_path):
    n = Notified(tmp_path / "notify")
    proc, path = start(tmp_path, {}, {"NOTIFY_SOCKET": n.path})
    try:
        assert n.next() == "READY=1"
        read_port(proc)
        proc.send_signal(signal.SIGHUP)
        assert n.next() == "RELOADING=1"
        assert n.next() == "READY=1\nSTATUS=reloaded"
        path.write_text("categories: [broken\n")
        proc.send_signal(signal.SIGHUP)
        assert n.next() == "RELOADING=1"
        assert n.next().startswith("READY=1\nSTATUS=reload failed")
        proc.send_signal(signal.SIGTERM)
        assert n.next() == "STOPPING=1"
        assert proc.wait(timeout=TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        n.close()


def test_abstract_notify_socket(tmp_path):
    name = "hushgate-test-%d" % os.getpid()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(TIMEOUT)
    proc, _ = start(tmp_path, {}, {"NOTIFY_SOCKET": "@" + name})
    try:
        assert sock.recv(4096) == b"READY=1"
    finally:
        proc.terminate()
        proc.wait(timeout=TIMEOUT)
        sock.close()


def test_sigterm_right_after_ready_is_acted_on(tmp_path):
    """The signal sent the moment READY=1 arrives, thirty times over: each
    run drains and exits 0. (Signals are read from a signalfd on Linux, so
    no handler has to run at an arbitrary point; with asynchronous handlers
    a ThreadSanitizer build lost about 1 such signal in 50.)"""
    for i in range(30):
        n = Notified(tmp_path / ("notify%d" % i))
        proc, _ = start(tmp_path, {"workers": 2},
                        {"NOTIFY_SOCKET": n.path})
        try:
            assert n.next() == "READY=1", "run %d" % i
            proc.send_signal(signal.SIGTERM)
            assert n.next() == "STOPPING=1", "run %d" % i
            assert proc.wait(timeout=TIMEOUT) == 0, "run %d" % i
            assert b"shutting down" in proc.stderr.read(), "run %d" % i
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            n.close()


def uid_of(pid):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("Uid:"):
            return [int(x) for x in line.split()[1:]]
    raise AssertionError("no Uid line")


def test_user_drops_root_after_binding(tmp_path, echo_server):
    nobody = pwd.getpwnam("nobody")
    proc, _ = start(tmp_path, {"user": "nobody",
                               "connect_ports": [echo_server.port]})
    try:
        if os.geteuid() != 0:
            # without root there is nothing to drop to: a clear refusal
            err = proc.stderr.read().decode()
            assert proc.wait(timeout=TIMEOUT) == 1
            assert "user: only root can become 'nobody'" in err
            return
        port = read_port(proc)
        uids = wait_until(lambda: (lambda u: u if u[0] == nobody.pw_uid
                                   else None)(uid_of(proc.pid)),
                          "the process to run as nobody")
        assert uids == [nobody.pw_uid] * 4, "real, effective, saved, fs"
        with Tunnel(port, "echo.test:%d" % echo_server.port) as t:
            t.echo(b"served after the drop")
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=TIMEOUT)


def test_unknown_user_is_refused(tmp_path):
    proc, _ = start(tmp_path, {"user": "no-such-user-here"})
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=TIMEOUT) == 1
    assert "user: no such user 'no-such-user-here'" in err


@pytest.fixture(scope="session")
def systemd_analyze():
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail("systemd-analyze is not installed (scripts/deps test "
                    "installs systemd)")
    return path


def test_unit_file_verifies(tmp_path, systemd_analyze):
    unit = (TOP / "scripts/systemd/hushgate.service").read_text()
    for key in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID",
                "NoNewPrivileges=yes", "ProtectSystem=strict",
                "PrivateTmp=yes",
                "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"):
        assert key in unit.splitlines(), key
    # the same unit, pointed at this build and a configuration here
    cfg = dump_yaml({"listen": ["127.0.0.1:3128"]}, tmp_path / "hg.yaml")
    unit = unit.replace("/usr/local/bin/hushgate", hushgate_bin())
    unit = unit.replace("/usr/local/etc/hushgate/hushgate.yaml", str(cfg))
    (tmp_path / "hushgate.service").write_text(unit)
    man = tmp_path / "man"
    (man / "man8").mkdir(parents=True)
    (man / "man5").mkdir(parents=True)
    shutil.copy(TOP / "proxy/hushgate.8", man / "man8")
    shutil.copy(TOP / "rules/hushgate.yaml.5", man / "man5")
    env = dict(os.environ, MANPATH=str(man))
    cp = subprocess.run([systemd_analyze, "verify",
                         str(tmp_path / "hushgate.service")],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        timeout=TIMEOUT * 3, env=env)
    out = cp.stdout.decode()
    assert cp.returncode == 0, out
    assert "hushgate.service" not in out, out


def test_chroot_after_binding(tmp_path, echo_server):
    jail = tmp_path / "jail"
    jail.mkdir()
    proc, _ = start(tmp_path, {"chroot": str(jail), "user": "nobody",
                               "connect_ports": [echo_server.port]})
    try:
        if os.geteuid() != 0:
            err = proc.stderr.read().decode()
            assert proc.wait(timeout=TIMEOUT) == 1
            assert "chroot: %s" % jail in err
            return
        port = read_port(proc)
        wait_until(lambda: os.readlink("/proc/%d/root" % proc.pid) ==
                   str(jail), "the process to be shut in the jail")
        # names resolve from what was read before; tunnels still work
        with Tunnel(port, "echo.test:%d" % echo_server.port) as t:
            t.echo(b"from the jail")
        # the configuration is out of reach now: a reload keeps the rules
        proc.send_signal(signal.SIGHUP)
        for raw in proc.stderr:
            if b"reload: failed, keeping generation 1" in raw:
                break
        with Tunnel(port, "echo.test:%d" % echo_server.port) as t:
            t.echo(b"still serving")
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=TIMEOUT)

"""One hushgate per listening address.  The workers of one instance share
their port (SO_REUSEPORT); a second instance on the same address must not
join them silently with other rules: it refuses to start, naming the
address and the running instance's PID.  A crash leaves nothing that
blocks the next start."""

import os
import re
import signal
import subprocess
import sys

from helpers import (TIMEOUT, connect_status, free_port, run_hushgate,
                     wait_until)


def _cfg(port, extra=None):
    cfg = {"listen": ["127.0.0.1:%d" % port]}
    cfg.update(extra or {})
    return cfg


def test_second_instance_on_same_address_refuses(proxy, echo_server):
    port = free_port()
    first = proxy(_cfg(port, {"connect_ports": [echo_server.port],
                              "categories": {"b": {"action": "deny",
                                                   "hosts": ["b.test"]}}}),
                  hosts=["b.test", "echo.test"])
    assert first.port == port
    # The second one, with other rules (it would allow b.test).
    second = proxy(_cfg(port, {"connect_ports": [echo_server.port]}),
                   hosts=["b.test"], start=False)
    cp = run_hushgate(["-c", str(second.config_path)],
                      cwd=str(second.dir), timeout=TIMEOUT)
    assert cp.returncode == 1, cp.stderr
    assert re.search(r"^hushgate: listen 127\.0\.0\.1:%d: already served "
                     r"by another hushgate \(PID %d\)" % (
                         port, first.proc.pid), cp.stderr, re.M), cp.stderr
    assert "listening on" not in cp.stderr
    # Every client still reaches the first one and its rules.
    for _ in range(20):
        assert connect_status(port, "b.test:%d" % echo_server.port) == 403


def test_other_spelling_of_the_same_address_refuses(proxy):
    port = free_port()
    first = proxy({"listen": ["[::1]:%d" % port, "127.0.0.1:0"]})
    second = proxy({"listen": ["[0:0::1]:%d" % port, "127.0.0.1:0"]},
                   start=False)
    cp = run_hushgate(["-c", str(second.config_path)],
                      cwd=str(second.dir), timeout=TIMEOUT)
    assert cp.returncode == 1, cp.stderr
    assert "(PID %d)" % first.proc.pid in cp.stderr, cp.stderr


def test_restart_after_crash_is_not_blocked(proxy):
    port = free_port()
    first = proxy(_cfg(port))
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(TIMEOUT)
    first.expect_exit = True
    again = proxy(_cfg(port))
    assert again.port == port
    assert connect_status(port, "nowhere.test:443") in (502, 503, 504)


def test_different_addresses_run_side_by_side(proxy):
    a = proxy(_cfg(free_port()))
    b = proxy(_cfg(free_port()))
    assert a.port != b.port
    assert a.proc.poll() is None and b.proc.poll() is None


def test_check_mode_does_not_claim(proxy):
    port = free_port()
    first = proxy(_cfg(port))
    cp = run_hushgate(["-t", "-c", str(first.config_path)],
                      cwd=str(first.dir))
    assert cp.returncode == 0, cp.stderr
    assert "configuration OK" in cp.stdout


def test_name_taken_by_another_user_does_not_block_start(proxy):
    # Any local user can bind the abstract name hushgate claims. One of
    # another user cannot share the port (SO_REUSEPORT needs the same
    # user), so such a holder is ignored: nobody keeps hushgate from
    # starting by taking the name. (Not root: the holder is of our own
    # user, and is refused as an instance would be.)
    port = free_port()
    ready_r, ready_w = os.pipe()
    root = os.geteuid() == 0

    def squat():
        if root:
            os.setgid(65534)
            os.setuid(65534)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import os, socket, sys\n"
         "s = socket.socket(socket.AF_UNIX)\n"
         "s.bind(b'\\0hushgate listen 127.0.0.1 %d')\n"
         "s.listen(4)\n"
         "os.write(%d, b'x')\n"
         "sys.stdin.read()\n" % (port, ready_w)],
        stdin=subprocess.PIPE, pass_fds=(ready_w,), preexec_fn=squat)
    try:
        os.close(ready_w)
        assert os.read(ready_r, 1) == b"x"
        p = proxy(_cfg(port), start=False)
        if root:
            p.start()
            assert p.port == port
        else:
            cp = run_hushgate(["-c", str(p.config_path)], cwd=str(p.dir),
                              timeout=TIMEOUT)
            assert cp.returncode == 1
            assert "(PID %d)" % holder.pid in cp.stderr, cp.stderr
    finally:
        os.close(ready_r)
        holder.stdin.close()
        holder.wait(TIMEOUT)

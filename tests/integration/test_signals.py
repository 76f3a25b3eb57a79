"""Signals: SIGHUP reload (good and broken files), SIGTERM drain,
SIGUSR1 reopening the decision log."""

import ctypes
import os
import re
import resource
import signal
import socket

import pytest

from helpers import (TIMEOUT, Tunnel, built_with_tsan, connect_status,
                     read_to_eof, wait_until)

RULES_OK = """\
categories:
  blocked:
    action: deny
    hosts: [blocked.test]
"""

# "explode" starts at line 3, column 13.
RULES_BAD_ACTION = """\
categories:
  blocked:
    action: explode
    hosts: [blocked.test, newly.test]
"""

RULES_BAD_YAML = """\
categories:
  blocked:
    action: deny
    hosts: [blocked.test, newly.test
"""

RULES_NEW = """\
categories:
  blocked:
    action: deny
    hosts: [blocked.test, newly.test]
"""


def _start_with_rules(proxy, echo_server, text):
    p = proxy({"connect_ports": [echo_server.port]}, start=False,
              hosts=["blocked.test", "newly.test", "echo.test"])
    rules = p.dir / "rules.yaml"
    rules.write_text(text)
    p.rewrite_config({"connect_ports": [echo_server.port],
                      "include": [str(rules)]})
    p.start()
    return p, rules


def test_sighup_broken_file_keeps_old_rules(proxy, echo_server):
    p, rules = _start_with_rules(proxy, echo_server, RULES_OK)
    port = echo_server.port
    assert connect_status(p.port, "blocked.test:%d" % port) == 403
    assert connect_status(p.port, "newly.test:%d" % port) == 200

    ok, gen, _ = p.reload()              # unchanged file: a new generation
    assert ok

    rules.write_text(RULES_BAD_ACTION)
    ok, kept, idx = p.reload()
    assert not ok
    assert kept == gen
    m = p.wait_stderr(r"rules\.yaml:(\d+):(\d+): ", start=idx)
    assert (m.group(1), m.group(2)) == ("3", "13"), p.lines[p.last_index]
    assert connect_status(p.port, "blocked.test:%d" % port) == 403
    assert connect_status(p.port, "newly.test:%d" % port) == 200

    rules.write_text(RULES_BAD_YAML)
    ok, kept, idx = p.reload()
    assert not ok and kept == gen
    p.wait_stderr(r"rules\.yaml:\d+:\d+: ", start=idx)
    assert connect_status(p.port, "newly.test:%d" % port) == 200

    rules.write_text(RULES_NEW)
    ok, gen2, _ = p.reload()
    assert ok and gen2 > gen
    assert connect_status(p.port, "newly.test:%d" % port) == 403


def test_sighup_new_rule_spares_open_tunnel(proxy, echo_server):
    p, rules = _start_with_rules(proxy, echo_server, RULES_OK)
    target = "newly.test:%d" % echo_server.port
    with Tunnel(p.port, target) as old:
        assert old.status == 200
        old.echo(b"before reload")
        rules.write_text(RULES_NEW)
        ok, _, _ = p.reload()
        assert ok
        with Tunnel(p.port, target) as new:
            assert new.status == 403
            assert new.resp.headers.get("x-hushgate-category") == "blocked"
        old.echo(b"after reload, the open tunnel still relays")
        old.echo(os.urandom(200000))
    recs = p.wait_log(lambda r: r["host"] == "newly.test", "both", count=2)
    assert sorted(r["action"] for r in recs) == ["allow", "deny"]


def test_sighup_main_config_change(proxy, echo_server, echo_server2):
    p = proxy({"connect_ports": [echo_server.port]}, hosts=["echo.test"])
    assert connect_status(p.port, "echo.test:%d" % echo_server2.port) == 403
    p.rewrite_config({"connect_ports": [echo_server.port,
                                        echo_server2.port],
                      "default": "deny",
                      "categories": {"e": {"action": "allow",
                                           "hosts": ["echo.test"]}}})
    ok, _, _ = p.reload()
    assert ok
    assert connect_status(p.port, "echo.test:%d" % echo_server2.port) == 200


def test_sigterm_drains_open_tunnel(proxy, echo_server):
    p = proxy({"connect_ports": [echo_server.port],
               "timeouts": {"drain": "120s"}}, hosts=["echo.test"])
    t = Tunnel(p.port, "echo.test:%d" % echo_server.port)
    try:
        assert t.status == 200
        t.echo(b"before SIGTERM")
        start = p.nlines()
        p.expect_exit = True
        p.signal(signal.SIGTERM)
        p.wait_stderr(r"^hushgate: shutting down: 1 connections open, "
                      r"draining up to 120s$", start=start)
        t.echo(b"after SIGTERM the tunnel still relays")
        with pytest.raises(ConnectionRefusedError):
            s = socket.create_connection(("127.0.0.1", p.port),
                                         timeout=TIMEOUT)
            s.close()
        assert p.proc.poll() is None, "exited with a tunnel open"
        t.echo(os.urandom(100000))
    finally:
        t.close()
    rc = p.wait_exit()
    assert rc == 0
    assert p.lines[-1] == "hushgate: exit", p.lines[-5:]
    rec = p.wait_log(lambda r: r["host"] == "echo.test", "drained")[0]
    assert rec["end"] == "client_closed"
    assert rec["status"] == 200


def test_sigterm_drain_bound_closes_tunnel(proxy, echo_server):
    p = proxy({"connect_ports": [echo_server.port],
               "timeouts": {"drain": "1s"}}, hosts=["echo.test"])
    with Tunnel(p.port, "echo.test:%d" % echo_server.port) as t:
        assert t.status == 200
        t.echo(b"hello")
        rc = p.terminate()
        assert rc == 0
        assert read_to_eof(t.sock) == b""
    assert p.lines[-1] == "hushgate: exit"
    rec = p.wait_log(lambda r: r["host"] == "echo.test", "cut")[0]
    assert rec["end"] == "shutdown"


def test_sigterm_idle_exits_zero(proxy):
    p = proxy({})
    rc = p.terminate()
    assert rc == 0
    assert any(l.startswith("hushgate: shutting down: 0 connections open")
               for l in p.lines)
    assert p.lines[-1] == "hushgate: exit"


def test_sigusr1_reopens_decision_log(proxy):
    p = proxy({"default": "deny"})
    made = []

    def deny(i):
        host = "r%d.test" % i
        assert connect_status(p.port, host + ":443") == 403
        made.append(host)

    deny(0)
    p.wait_log(lambda r: r["host"] == "r0.test", "first record")
    old = p.dir / "decisions.log.1"
    os.rename(p.log_path, old)
    p.signal(signal.SIGUSR1)

    def new_file_has_a_record():
        deny(len(made))
        return p.log_path.exists() and p.log_lines()

    wait_until(new_file_has_a_record, "records in the reopened log file",
               interval=0.1)
    # Every request is logged exactly once, in one file or the other.
    def all_logged():
        hosts = [r["host"] for r in p.log_lines(old)] + \
                [r["host"] for r in p.log_lines()]
        return sorted(hosts) == sorted(made) and hosts
    wait_until(all_logged, "each of %d requests logged once" % len(made))
    assert "r0.test" in [r["host"] for r in p.log_lines(old)]
    deny(len(made))
    p.wait_log(lambda r: r["host"] == made[-1], "a record in the new file")


def test_repeated_reloads_alternate_rules(proxy, echo_server):
    p, rules = _start_with_rules(proxy, echo_server, RULES_OK)
    target = "newly.test:%d" % echo_server.port
    with Tunnel(p.port, target) as old:
        assert old.status == 200
        last = None
        for i in range(12):
            rules.write_text(RULES_NEW if i % 2 == 0 else RULES_OK)
            ok, gen, _ = p.reload()
            assert ok
            assert last is None or gen == last + 1
            last = gen
            want = 403 if i % 2 == 0 else 200
            assert connect_status(p.port, target) == want, i
            old.echo(b"reload %d" % i)


def test_sighup_one_error_is_reported_once(proxy, echo_server):
    # A bad key in the main file before its include and actions: the
    # reload reports that one error, not also the included categories as
    # missing, and the running rules stay.
    p, rules = _start_with_rules(proxy, echo_server, RULES_OK)
    port = echo_server.port
    assert connect_status(p.port, "blocked.test:%d" % port) == 403
    p.config_path.write_text(
        "no_such_setting: 1\n" + p.config_path.read_text() +
        "actions:\n  blocked: allow\n")
    ok, _, first = p.reload()
    assert not ok
    # The errors follow the "reload: failed" line; a second reload's
    # "failed" line comes after all of them.
    ok, _, second = p.reload()
    assert not ok
    errors = [l for l in p.lines[first + 1:second]
              if re.search(r"\.yaml:\d+:\d+: ", l)]
    assert len(errors) == 1, p.stderr_text()
    assert "no_such_setting" in errors[0], errors
    assert connect_status(p.port, "blocked.test:%d" % port) == 403


def test_sighup_deep_yaml_then_sigterm(proxy, echo_server):
    # A rules file nested 100,000 deep: the reload is refused at the node
    # that opens level 257, without reading on through the file, so the
    # main thread is free again at once and SIGTERM is handled as usual.
    p, rules = _start_with_rules(proxy, echo_server, RULES_OK)
    port = echo_server.port
    depth = 100000
    rules.write_text("note: " + "[" * depth + "]" * depth + "\n")
    ok, kept, idx = p.reload()
    assert not ok
    m = p.wait_stderr(r"rules\.yaml:(\d+):(\d+): (.*)$", start=idx)
    assert (m.group(1), m.group(2)) == ("1", "262"), p.lines[p.last_index]
    assert "nested deeper than 256 levels" in m.group(3)
    assert connect_status(p.port, "blocked.test:%d" % port) == 403
    # Again, with SIGTERM right behind the SIGHUP.
    p.signal(signal.SIGHUP)
    assert p.terminate() == 0
    assert p.lines[-1] == "hushgate: exit"


# -- the worker threads' signal masks ---------------------------------------

FAULT_SIGNALS = (signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL,
                 signal.SIGABRT, signal.SIGTRAP)
MAIN_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)


def _blocked_by_thread(pid):
    """{thread id: set of blocked signal numbers}, from /proc, for the
    threads of hushgate (not ThreadSanitizer's own)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith("SigBlk:"):
                    mask = int(line.split()[1], 16)
                    out[int(tid)] = {n for n in range(1, 65)
                                     if mask >> (n - 1) & 1}
    if built_with_tsan():
        # The runtime's background thread, started by the first
        # pthread_create (before any worker) with every signal blocked.
        first = min(t for t in out if t != pid)
        assert {signal.SIGSEGV, signal.SIGHUP} <= out[first], out
        del out[first]
    return out


def _workers_up(proxy, config):
    if not os.path.isdir("/proc/self/task"):
        pytest.skip("needs /proc/PID/task")
    p = proxy(config, start=False)
    p.rlimits = {resource.RLIMIT_CORE: (0, 0)}
    p.start()
    p.wait_stderr(r"^hushgate: \d+ workers? started$")
    threads = _blocked_by_thread(p.proc.pid)
    workers = {t: b for t, b in threads.items() if t != p.proc.pid}
    assert len(workers) >= 2, threads
    return p, threads, workers


def test_worker_threads_block_only_the_main_threads_signals(proxy):
    p, threads, workers = _workers_up(proxy, {"workers": 2})

    # A thread may start with every signal blocked until it runs (the
    # sanitizer runtime's pthread_create does that): wait, bounded, for
    # the masks the threads keep.
    def settled():
        t = _blocked_by_thread(p.proc.pid)
        return t if all(not set(FAULT_SIGNALS) & b for b in t.values()) \
            else None
    threads = wait_until(settled, "threads without fault signals blocked",
                         timeout=TIMEOUT) or threads
    workers = {t: b for t, b in threads.items() if t != p.proc.pid}
    for tid, blocked in threads.items():
        faults = [signal.Signals(s).name for s in FAULT_SIGNALS
                  if s in blocked]
        assert not faults, "thread %d blocks %s" % (tid, faults)
    for tid, blocked in workers.items():
        missing = [signal.Signals(s).name for s in MAIN_SIGNALS
                   if s not in blocked]
        assert not missing, "worker thread %d takes %s" % (tid, missing)
    # The signals are still the main thread's to handle.
    ok, _, _ = p.reload()
    assert ok


def test_fault_in_a_worker_thread_ends_the_process(proxy, monkeypatch):
    # The default action, not a sanitizer's handler: a SIGSEGV sent to a
    # worker thread must end the process as a crash of that thread would.
    for var in ("ASAN_OPTIONS", "TSAN_OPTIONS"):
        opts = os.environ.get(var, "")
        monkeypatch.setenv(var, (opts + ":" if opts else "") +
                           "handle_segv=0")
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "tgkill"):
        pytest.skip("no tgkill in the C library")
    p, _, workers = _workers_up(proxy, {"workers": 2})
    tid = sorted(workers)[-1]
    p.expect_exit = True
    assert libc.tgkill(p.proc.pid, tid, signal.SIGSEGV) == 0, \
        os.strerror(ctypes.get_errno())
    rc = p.wait_exit()
    assert rc == -signal.SIGSEGV, "exit status %s" % rc

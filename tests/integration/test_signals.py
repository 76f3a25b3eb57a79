"""Signals: SIGHUP reload (good and broken files), SIGTERM drain,
SIGUSR1 reopening the decision log."""

import ctypes
import os
import re
import resource
import signal
import socket
import threading

import pytest
import yaml

from helpers import (REPO, TIMEOUT, Tunnel, built_with_tsan, connect_status,
                     dump_yaml, raw_request, read_to_eof, wait_until)

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


def _restart_rows():
    """The rows of tests/data/restart.tsv: a change of each setting that
    needs a restart, and the warnings the reload gives for it."""
    rows = []
    path = REPO / "tests/data/restart.tsv"
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        key, running, reloaded, warnings = line.split("\t")
        rows.append(pytest.param(
            yaml.safe_load(running), yaml.safe_load(reloaded),
            [] if warnings == "-" else warnings.split(" | "),
            id="%s-line%d" % (key, n)))
    return rows


def _laid_over(p, over):
    """The test configuration with the keys of over in place of its own
    (those of a mapping value one by one)."""
    cfg = p.full_config({})
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k] = dict(cfg[k], **v)
        else:
            cfg[k] = v
    return cfg


@pytest.mark.parametrize("running,reloaded,warnings", _restart_rows())
def test_sighup_warns_of_settings_that_need_a_restart(proxy, running,
                                                      reloaded, warnings):
    # Every key of the configuration's keyword table that needs a restart
    # has a row (the unit tests check that against the table).
    p = proxy(start=False)
    p.config = _laid_over(p, running)
    dump_yaml(p.config, p.config_path)
    p.start()
    start = p.nlines()
    p.config = _laid_over(p, reloaded)
    dump_yaml(p.config, p.config_path)
    ok, _, idx = p.reload()
    assert ok
    prefix = "hushgate: reload: "
    got = [line[len(prefix):] for line in p.lines[start:idx]
           if line.startswith(prefix) and
           line.endswith("effect at the next start")]
    assert got == warnings


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


# -- the decision log moving while requests are decided --------------------

class _DeniedClients:
    """Client threads, each making denied CONNECTs one after the other
    (the proxy answers 403 and closes) until stopped, every one to a host
    of its own, reading all the proxy sends.  The proxy accepts and closes
    client sockets as fast as it can meanwhile, so a decision log line
    written to a descriptor closed under it would land in one of them."""

    def __init__(self, port, n=4):
        self.port = port
        self.made = []
        self.problems = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(k,),
                                         daemon=True) for k in range(n)]
        for t in self.threads:
            t.start()

    def _run(self, k):
        i = 0
        while not self.stop.is_set():
            host = "c%d-%d.test" % (k, i)
            i += 1
            req = "CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" % (
                host, host)
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=TIMEOUT) as s:
                    s.sendall(req.encode())
                    got = read_to_eof(s)
            except OSError as e:
                with self.lock:
                    self.problems.append("%s: %s" % (host, e))
                return
            with self.lock:
                if not got.startswith(b"HTTP/1.1 403 ") or b'"ts":' in got:
                    self.problems.append("%s got %r" % (host, got))
                self.made.append(host)

    def count(self):
        with self.lock:
            return len(self.made)

    def more(self, n):
        """Wait until n more requests are done than now."""
        want = self.count() + n
        wait_until(lambda: self.count() >= want or self.problems,
                   "%d requests through the proxy" % want)

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(TIMEOUT)
        assert not any(t.is_alive() for t in self.threads)
        assert not self.problems, self.problems[:5]
        return sorted(self.made)


def _each_logged_once(p, made, paths):
    """Every request in made is logged exactly once, in one of paths."""
    def check():
        hosts = sorted(r["host"] for path in paths
                       for r in p.log_lines(path))
        return hosts == made
    try:
        wait_until(check, "each of %d requests logged once" % len(made))
    except AssertionError:
        hosts = [r["host"] for path in paths for r in p.log_lines(path)]
        lost = set(made) - set(hosts)
        twice = {h for h in hosts if hosts.count(h) > 1}
        raise AssertionError("%d records for %d requests; lost %s, "
                             "logged twice %s" % (
                                 len(hosts), len(made),
                                 sorted(lost)[:5], sorted(twice)[:5]))
    for path in paths:
        assert p.log_lines(path), "no record in %s" % path
    # Nothing went to the proxy's own output either.
    assert not [l for l in p.lines if '"ts":' in l]
    assert b'"ts":' not in (p.dir / "stdout").read_bytes()


def test_log_path_change_under_load(proxy):
    """SIGHUP with a new log.decisions while requests are decided: each
    record goes to the old file or the new one, none is lost, and none
    reaches a client."""
    p = proxy({"default": "deny"})
    paths = [p.log_path, p.dir / "decisions-b.log"]
    clients = _DeniedClients(p.port)
    try:
        for i in range(16):
            clients.more(10)
            p.rewrite_config({"default": "deny",
                              "log": {"decisions": str(paths[(i + 1) % 2]),
                                      "level": "info"}})
            ok, gen, _ = p.reload()
            assert ok and gen == i + 2
        clients.more(10)
    finally:
        made = clients.finish()
    _each_logged_once(p, made, paths)


def test_sigusr1_reopen_under_load(proxy):
    """Log rotation (rename, SIGUSR1) while requests are decided: each
    record is in exactly one of the rotated files or the current one."""
    p = proxy({"default": "deny"})
    paths = []
    clients = _DeniedClients(p.port)
    try:
        for i in range(16):
            clients.more(10)
            rotated = p.dir / ("decisions.log.%d" % i)
            os.rename(p.log_path, rotated)
            paths.append(rotated)
            start = p.nlines()
            p.signal(signal.SIGUSR1)
            p.wait_stderr(r"^hushgate: decision log reopened$", start=start)
        clients.more(10)
    finally:
        made = clients.finish()
    _each_logged_once(p, made, paths + [p.log_path])


def test_reload_to_unopenable_log_fails(proxy):
    """A log.decisions that cannot be opened fails the reload as a bad
    file does: the running configuration and its log are kept."""
    p = proxy({"default": "deny"})
    assert connect_status(p.port, "before.test:443") == 403
    p.wait_log(lambda r: r["host"] == "before.test", "the first record")
    bad = p.dir / "no-such-dir" / "decisions.log"
    # The new file would also allow everything: it must not take effect.
    p.rewrite_config({"default": "allow",
                      "log": {"decisions": str(bad), "level": "info"}})
    start = p.nlines()
    ok, gen, idx = p.reload()
    assert not ok and gen == 1
    warn = "hushgate: reload: decision log %s: No such file or directory" % bad
    assert warn in p.lines[start:idx], p.lines[start:]
    assert connect_status(p.port, "after.test:443") == 403
    p.wait_log(lambda r: r["host"] == "after.test", "a record in the old log")
    assert not bad.parent.exists()
    # A log that can be opened: the reload takes, and records go there.
    good = p.dir / "decisions-new.log"
    p.rewrite_config({"default": "deny",
                      "log": {"decisions": str(good), "level": "info"}})
    ok, gen, _ = p.reload()
    assert ok and gen == 2
    assert connect_status(p.port, "new.test:443") == 403
    p.wait_log(lambda r: r["host"] == "new.test", "a record in the new log",
               path=good)
    assert [r["host"] for r in p.log_lines()] == ["before.test", "after.test"]


def test_sigusr1_unopenable_keeps_the_old_file(proxy, tmp_path):
    """SIGUSR1 when the log's directory has gone: the old file is kept
    and written on, and the log says so."""
    logs = tmp_path / "logs"
    logs.mkdir()
    p = proxy({"default": "deny",
               "log": {"decisions": str(logs / "decisions.log"),
                       "level": "info"}})
    assert connect_status(p.port, "before.test:443") == 403
    moved = tmp_path / "logs.old"
    os.rename(logs, moved)
    start = p.nlines()
    p.signal(signal.SIGUSR1)
    p.wait_stderr(r"^hushgate: reopen: decision log %s: No such file or "
                  r"directory; writing on to the old file$" %
                  re.escape(str(logs / "decisions.log")), start=start)
    assert connect_status(p.port, "after.test:443") == 403
    p.wait_log(lambda r: r["host"] == "after.test", "a record in the old file",
               path=moved / "decisions.log")
    assert not logs.exists()


def test_reloads_under_mixed_load(proxy, echo_server, http_server):
    """Reloads that change the rules, the log level, format and file while
    tunnels, forwarded requests, /metrics and the PAC file are served:
    every answer is right throughout (and against a ThreadSanitizer build
    a race between a reload and the workers fails the test)."""
    paths = [None, None]
    web = "web.test:%d" % http_server.port

    def cfg(i):
        return {"connect_ports": [echo_server.port],
                "http_ports": [http_server.port],
                "categories": {"blocked": {
                    "action": "deny" if i % 2 == 0 else "audit",
                    "hosts": ["blocked.test"]}},
                "log": {"decisions": str(paths[i % 2]),
                        "format": "json" if i % 4 < 2 else "squid",
                        "level": "debug" if i % 3 == 0 else "info"}}

    p = proxy({}, hosts=["echo.test", "web.test", "blocked.test"],
              start=False)
    paths[:] = [p.dir / "decisions-a.log", p.dir / "decisions-b.log"]
    p.rewrite_config(cfg(0))
    p.start()
    done = {"tunnel": 0, "http": 0, "metrics": 0, "pac": 0, "blocked": 0}
    problems = []
    lock = threading.Lock()
    stop = threading.Event()

    def one(kind, n):
        if kind == "tunnel":
            with Tunnel(p.port, "echo.test:%d" % echo_server.port) as t:
                assert t.status == 200, t.resp
                t.echo(b"%d" % n * 100)
        elif kind == "http":
            r = raw_request(p.port, (
                "GET http://%s/r%d HTTP/1.1\r\nHost: %s\r\n"
                "Connection: close\r\n\r\n" % (web, n, web)).encode())
            assert r.status == 200 and \
                r.body == ("hello %s /r%d\n" % (web, n)).encode(), r
        elif kind == "metrics":
            r = raw_request(p.port, b"GET /metrics HTTP/1.1\r\n"
                            b"Host: x\r\n\r\n")
            assert r.status == 200 and b"hushgate_requests_total" in \
                r.body, r
        elif kind == "pac":
            r = raw_request(p.port, b"GET /proxy.pac HTTP/1.1\r\n"
                            b"Host: x\r\n\r\n")
            assert r.status == 200 and b"FindProxyForURL" in r.body, r
        else:
            # deny or audit, whichever generation decides it
            status = connect_status(p.port, "blocked.test:%d" %
                                    echo_server.port)
            assert status in (200, 403), status

    def run(k):
        n = 0
        kinds = sorted(done)
        while not stop.is_set():
            kind = kinds[(n + k) % len(kinds)]
            n += 1
            try:
                one(kind, n)
            except (AssertionError, OSError) as e:
                with lock:
                    problems.append("%s %d: %r" % (kind, n, e))
                return
            with lock:
                done[kind] += 1

    def total():
        with lock:
            return sum(done.values())

    threads = [threading.Thread(target=run, args=(k,), daemon=True)
               for k in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(1, 13):
            want = total() + 10
            wait_until(lambda: total() >= want or problems,
                       "requests between reloads")
            p.rewrite_config(cfg(i))
            ok, gen, _ = p.reload()
            assert ok and gen == i + 1
    finally:
        stop.set()
        for t in threads:
            t.join(TIMEOUT)
    assert not problems, problems[:5]
    assert all(n > 0 for n in done.values()), done
    assert p.log_path.exists() is False
    assert paths[0].stat().st_size > 0 and paths[1].stat().st_size > 0


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

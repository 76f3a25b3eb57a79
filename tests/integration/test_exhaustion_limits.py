"""Resource limits under pressure: max_connections and
max_connections_per_client (the clients beyond the cap get 503, the proxy
goes on serving, and the counts come back exactly once connections end,
however they end), and a client that does not read from a fast tunnel or
download (the proxy holds no more than its high-water marks:
HG_RELAY_HIGH_WATER, 512 KiB, per direction; the bytes arrive intact once
the client reads)."""

import hashlib
import os
import select
import socket
import ssl
import struct
import threading
import time

import pytest

from helpers import (TIMEOUT, Response, Tunnel, open_client, pattern_bytes,
                     read_head, read_response, read_to_eof, run_hushgate,
                     wait_until)


def _tls_port(p):
    """Port of the second listener (the TLS one)."""
    m = p.wait_stderr(r"^hushgate: listening on 127\.0\.0\.1:(\d+)$",
                      start=p.last_index + 1)
    return int(m.group(1))


@pytest.fixture
def certs(tmp_path):
    d = tmp_path / "certs"
    cp = run_hushgate(["certs", "init", "--dir", str(d), "--name",
                       "proxy.test", "--ip", "127.0.0.1"])
    assert cp.returncode == 0, cp.stderr
    return {"ca": str(d / "ca.crt"), "cert": str(d / "server.crt"),
            "key": str(d / "server.key")}


def _tls(sock, ca):
    ctx = ssl.create_default_context(cafile=ca)
    return ctx.wrap_socket(sock, server_hostname="proxy.test")


# ---------------------------------------------------------------------------
# max_connections, max_connections_per_client

CAP = 8


def _overloaded(port, source=None, request=b"GET /healthz HTTP/1.1\r\n\r\n",
                ca=None):
    """A connection beyond the cap: its answer (a Response)."""
    s = open_client(port, source)
    if ca is not None:
        s = _tls(s, ca)
    with s:
        try:
            s.sendall(request)
        except OSError:
            pass        # answered and closed before the request was read
        return read_response(s)


def _fill(port, target, n, source=None):
    """n tunnels that each hold a connection slot.  A tunnel refused with
    503 is tried again: the slots of connections closed just before come
    back once the proxy has seen their close (a slot that never comes back
    times out here)."""
    def room():
        t = Tunnel(port, target, source)
        if t.status == 503:
            t.close()
            return None
        return t
    tunnels = []
    for _ in range(n):
        t = wait_until(room, "a free connection slot (%d of %d held)" % (
            len(tunnels), n))
        assert t.status == 200, "tunnel %d of %d: %r" % (
            len(tunnels) + 1, n, t.resp)
        tunnels.append(t)
    return tunnels


def _open_connections(port):
    """hushgate_connections_open of /metrics (this request included), or
    None when it gets no answer."""
    try:
        s = open_client(port)
        with s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: p\r\n\r\n")
            r = read_response(s)
    except (OSError, AssertionError):
        return None
    if r.status != 200:
        return None
    for line in r.body.decode().splitlines():
        if line.startswith("hushgate_connections_open "):
            return int(line.split()[1])
    return None


def _quiet(port):
    """Wait until no connection but the one asking is open."""
    wait_until(lambda: _open_connections(port) == 1,
               "every connection closed")


def _churn(port, target, echo_port):
    """Connections that end every way there is, each releasing what it
    held (or never held)."""
    ends = []
    # tunnel: echo, then close
    with Tunnel(port, target) as t:
        t.echo(b"churn")
    # denied
    with Tunnel(port, "blocked.test:%d" % echo_port) as t:
        ends.append(t.status)
    # a reset in the middle of a head
    s = open_client(port)
    s.sendall(b"CONNECT echo.te")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    # closed without a byte
    open_client(port).close()
    # a bad request
    s = open_client(port)
    with s:
        s.sendall(b"NONSENSE\r\n\r\n")
        ends.append(read_response(s).status)
    # a reset tunnel
    t = Tunnel(port, target)
    t.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                      struct.pack("ii", 1, 0))
    t.close()
    assert ends == [403, 400], ends


def _slots_back(port, target, n, source=None):
    """n tunnels fit again (the slots of closed connections come back as
    their close is seen), and the next one does not: the count came back
    exactly."""
    held = _fill(port, target, n, source)
    r = _overloaded(port, source)
    for t in held:
        t.close()
    return r


def test_max_connections(proxy, echo_server, certs):
    p = proxy({"max_connections": CAP,
               "listen": ["127.0.0.1:0", {
                   "address": "127.0.0.1:0",
                   "tls": {"cert": certs["cert"], "key": certs["key"]}}],
               "connect_ports": [echo_server.port],
               "categories": {"b": {"action": "deny",
                                    "hosts": ["blocked.test"]}}},
              hosts=["echo.test", "blocked.test"])
    tls_port = _tls_port(p)
    target = "echo.test:%d" % echo_server.port
    for rnd in range(3):
        held = _fill(p.port, target, CAP)
        # Every client beyond the cap gets 503, the TLS one after its
        # handshake; the held tunnels go on working meanwhile.
        for k in range(5):
            r = _overloaded(p.port)
            assert r.status == 503, r
            assert r.headers.get("connection") == "close"
            assert r.body.startswith(b"hushgate: too many connections")
        r = _overloaded(tls_port, ca=certs["ca"])
        assert r.status == 503, r
        for k, t in enumerate(held):
            t.echo(b"held %d of round %d" % (k, rnd))
        for t in held:
            t.close()
        # Ends of every kind release their slots, and only theirs.
        for _ in range(3):
            _quiet(p.port)
            _churn(p.port, target, echo_server.port)
        r = _slots_back(p.port, target, CAP)
        assert r.status == 503, "%d tunnels and one more fit: %r" % (CAP, r)
    over = p.wait_log(lambda r: r["end"] == "overload", "overload records",
                      count=3 * 6 + 3)
    assert all(r["status"] == 503 and r["method"] is None for r in over)


def test_max_connections_per_client(proxy, echo_server):
    cap = 4
    p = proxy({"max_connections_per_client": cap,
               "connect_ports": [echo_server.port],
               "clients": ["127.0.0.0/8"]}, hosts=["echo.test"])
    target = "echo.test:%d" % echo_server.port
    for rnd in range(3):
        held = _fill(p.port, target, cap, source="127.0.0.2")
        r = _overloaded(p.port, source="127.0.0.2")
        assert r.status == 503 and r.body.startswith(
            b"hushgate: too many connections from this address"), r
        # Another address is not held back.
        others = _fill(p.port, target, cap, source="127.0.0.3")
        for t in held + others:
            t.echo(b"round %d" % rnd)
            t.close()
        r = _slots_back(p.port, target, cap, source="127.0.0.2")
        assert r.status == 503, "%d tunnels and one more fit: %r" % (cap, r)
    over = p.wait_log(lambda r: r["end"] == "overload_client",
                      "overload_client records", count=6)
    assert all(r["client"] == "127.0.0.2" and r["status"] == 503
               for r in over)


# ---------------------------------------------------------------------------
# A client that does not read

TOTAL = 64 << 20
BLOCK = 1 << 20


def _block(k):
    return pattern_bytes(BLOCK, seed=k)


def _digest(total):
    h = hashlib.sha256()
    for k in range(total // BLOCK):
        h.update(_block(k))
    return h.hexdigest()


class Firehose:
    """An upstream that sends TOTAL bytes as fast as the connection takes
    them (after an HTTP response head, with http), once told to go.
    .stalls counts the times its socket stayed full for a while: the
    proxy stopped reading."""

    def __init__(self, http=False):
        self.http = http
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.go = threading.Event()
        self.sent = 0
        self.stalls = 0
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            try:
                self._serve(conn)
            except OSError as e:
                self.error = repr(e)

    def _serve(self, conn):
        conn.settimeout(TIMEOUT)
        if self.http:
            head, _ = read_head(conn)
            assert head is not None
        if not self.go.wait(TIMEOUT * 3):
            return
        conn.setblocking(False)
        data = b""
        if self.http:
            data = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % TOTAL
        k = 0
        deadline = time.monotonic() + TIMEOUT * 30
        while data or k < TOTAL // BLOCK:
            if not data:
                data = _block(k)
                k += 1
            _, w, _ = select.select([], [conn], [], 0.2)
            if not w:
                self.stalls += 1
                if time.monotonic() > deadline:
                    raise OSError("the firehose was held for too long")
                continue
            try:
                n = conn.send(data[:262144])
            except BlockingIOError:
                continue
            data = data[n:]
            self.sent += n
        conn.settimeout(TIMEOUT * 3)
        conn.shutdown(socket.SHUT_WR)
        try:
            read_to_eof(conn)
        except socket.timeout:
            pass        # a kept connection of the proxy's pool

    def close(self):
        self.go.set()
        self.sock.close()


def _status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (key, pid))


def _read_all(sock):
    """Read to EOF, hashing; returns (bytes count, sha256)."""
    h = hashlib.sha256()
    n = 0
    while True:
        try:
            d = sock.recv(1 << 20)
        except (ConnectionResetError, ssl.SSLEOFError):
            d = b""
        if not d:
            return n, h.hexdigest()
        h.update(d)
        n += len(d)


# The proxy's memory may grow this much while a client reads nothing of a
# 64 MiB stream: a generous multiple of what the relay keeps
# (HG_RELAY_HIGH_WATER per direction and one read, HG_RELAY_READ_MAX).
RSS_BOUND_KIB = 16 << 10


@pytest.mark.parametrize("how", ["tunnel", "tls-tunnel", "http"])
def test_slow_reader_holds_memory_bounded(proxy, certs, how, monkeypatch):
    # Under AddressSanitizer, freed memory waits in a quarantine (256 MiB
    # by default) and counts in VmRSS: keep it small here, so that VmRSS
    # is what the proxy holds.
    monkeypatch.setenv("ASAN_OPTIONS", ":".join(filter(None, [
        os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=4"])))
    up = Firehose(http=how == "http")
    try:
        cfg = {"connect_ports": [up.port], "http_ports": [up.port],
               "listen": ["127.0.0.1:0", {
                   "address": "127.0.0.1:0",
                   "tls": {"cert": certs["cert"], "key": certs["key"]}}],
               "timeouts": {"idle": "120s", "response": "120s"}}
        p = proxy(cfg, hosts=["fast.test"])
        tls_port = _tls_port(p)
        pid = p.proc.pid
        if how == "http":
            s = open_client(p.port)
            s.sendall(b"GET http://fast.test:%d/ HTTP/1.1\r\n"
                      b"Host: fast.test\r\n\r\n" % up.port)
        else:
            s = open_client(tls_port if how == "tls-tunnel" else p.port)
            if how == "tls-tunnel":
                s = _tls(s, certs["ca"])
            s.sendall(b"CONNECT fast.test:%d HTTP/1.1\r\n\r\n" % up.port)
            head, rest = read_head(s)
            assert head is not None and Response(head, b"").status == 200
            assert rest == b""
            s.sendall(b"hello")     # the upstream reads it at the end
        with s:
            rss0 = _status_kib(pid, "VmRSS")
            up.go.set()
            # The client reads nothing until the proxy stops reading the
            # upstream (or, if it never does, the upstream is done).
            wait_until(lambda: up.stalls >= 5 or up.sent >= TOTAL or
                       up.error, "the upstream held back by the proxy",
                       timeout=TIMEOUT * 6)
            hwm = _status_kib(pid, "VmHWM")
            rss1 = _status_kib(pid, "VmRSS")
            assert up.error is None, up.error
            assert up.sent < TOTAL, \
                "the proxy took all %d bytes from the upstream while its " \
                "client read nothing" % TOTAL
            assert rss1 - rss0 < RSS_BOUND_KIB and \
                hwm - rss0 < RSS_BOUND_KIB, \
                "VmRSS %d -> %d KiB (peak %d) while %d bytes waited for a " \
                "client that did not read" % (rss0, rss1, hwm, up.sent)
            # Now the client reads everything.
            already = b""
            if how == "http":
                s.settimeout(TIMEOUT)
                head, already = read_head(s)
                assert head is not None
                r = Response(head, b"")
                assert r.status == 200 and \
                    r.headers.get("content-length") == str(TOTAL), r
                s.settimeout(TIMEOUT)
                n, digest = _read_some(s, already, TOTAL)
            else:
                n, digest = _read_all(s)
            assert n == TOTAL, "%d of %d bytes arrived" % (n, TOTAL)
            assert digest == _digest(TOTAL), "the bytes arrived changed"
        assert up.error is None, up.error
    finally:
        up.close()


def _read_some(sock, already, total):
    """Read exactly total bytes (a framed body), hashing."""
    h = hashlib.sha256(already)
    n = len(already)
    while n < total:
        d = sock.recv(min(1 << 20, total - n))
        assert d, "closed after %d of %d bytes" % (n, total)
        h.update(d)
        n += len(d)
    return n, h.hexdigest()

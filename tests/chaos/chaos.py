#!/usr/bin/python3
"""chaos.py -- a seeded torture test of hushgate's connection state machine.

It starts the real binary ($HUSHGATE_BIN, default ./hushgate) on a
generated configuration with four listeners (plain, TLS, PROXY protocol,
PROXY protocol + TLS), runs local upstreams on 127.0.0.1 that misbehave on
purpose (echo, close at once, close mid-body, half-close, stall, garbage,
reset, pipelined and unframed HTTP responses ...) and drives many client
connections at once that do at random what clients do: CONNECT tunnels,
plain HTTP with keep-alive and pipelining, denied hosts, TLS to the proxy,
PROXY v1/v2 headers -- and misbehave: close before the answer, half-close,
reset, trickle bytes, send garbage, send a head in pieces.

Every connection's script is drawn from random.Random("SEED:INDEX"), so
`--seed S --only I` replays connection I exactly (thread scheduling aside).

Checks:
  * what each client sees: a denied host gets 403 and no byte reaches any
    upstream (a canary server counts connections), a tunnel's bytes come
    back identical, an HTTP response is the one asked for (X-Tag), intact
    and framed;
  * the decision log: every client connection has its own source address
    (127.x.y.z, or the address its PROXY header names), so its records are
    found by "client" and matched one by one against what it did (method,
    host, port, path, status, action, category, end, bytes); no record is
    left over; the /metrics counters by end agree with the log;
  * the process: no sanitizer report, the open descriptors return exactly
    to their count after a warm-up round once every connection is closed,
    VmRSS grows by less than a bound, and SIGTERM ends it with status 0.

usage: chaos.py [--seed N] [--connections N] [--concurrency N]
                [--warmup N] [--only I,J,...] [--keep DIR] [--no-triage] [-v]
"""

import argparse
import collections
import concurrent.futures
import hashlib
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))
import helpers  # noqa: E402

# The proxy's timeouts: short, so that stalls end soon, but not so short
# that a client thread of a loaded machine looks idle (idle, response).
# Every wait of the driver is bounded by OP_TIMEOUT per socket operation.
PROXY_TIMEOUTS = {"request": "3s", "connect": "3s", "idle": "5s",
                  "response": "5s", "drain": "3s"}
OP_TIMEOUT = max(helpers.TIMEOUT, 20.0)
UPSTREAM_TIMEOUT = 120.0
WARMUP_BASE = 5000000           # connection indices of the warm-up round

HOSTS = ["up.chaos.test", "web.chaos.test", "blocked.chaos.test",
         "x.ads.chaos.test", "audit.chaos.test"]
LISTENERS = ("plain", "tls", "pp", "pptls")
END_CODES = {
    "done", "client_closed", "upstream_closed", "denied", "port_denied",
    "client_denied", "proxy_untrusted", "proxy_protocol_error",
    "destination_guard", "auth_required", "auth_failed", "auth_blocked",
    "bad_request", "too_large", "overload", "overload_client",
    "request_timeout", "client_idle", "served", "resolve_failed",
    "resolve_timeout", "connect_failed", "connect_timeout", "sni_mismatch",
    "sni_missing", "sni_denied", "not_tls", "bad_client_hello", "tls_error",
    "tls_timeout", "response_timeout", "bad_response", "idle_timeout",
    "error", "shutdown",
}
PP_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


class Fail(Exception):
    """A check failed."""


class Eof(Exception):
    """The peer closed (or reset) where more was expected."""


def pattern(tag, n):
    """n deterministic bytes for tag (the upstreams make the same)."""
    if n <= 0:
        return b""
    return random.Random("body:%s" % tag).randbytes(n)


def tunnel_data(tag, n):
    """Tunnel payload: never starts like a TLS record (0x16), so that the
    proxy's tls_sni read lets it through at once."""
    d = pattern(tag, n)
    if d[:1] == b"\x16":
        d = b"x" + d[1:]
    return d


def source_ip(i):
    """The client address of connection i (inside clients and
    trusted_proxies: 127.0.0.0/9)."""
    return "127.%d.%d.%d" % (1 + (i >> 16), (i >> 8) & 255, i & 255)


def outsider_ip(i):
    """An address outside clients and trusted_proxies."""
    return "127.%d.%d.%d" % (128 + ((i >> 16) & 127), (i >> 8) & 255,
                             i & 255)


def pp_addr(i, v6):
    if v6:
        return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(
            socket.AF_INET6, "fd00::%x:%x" % (i >> 16, i & 0xffff)))
    return "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)


def pp_v1(src, sport):
    fam = "TCP6" if ":" in src else "TCP4"
    dst = "fd00::1" if ":" in src else "10.255.255.1"
    return ("PROXY %s %s %s %d 3128\r\n" % (fam, src, dst, sport)).encode()


def pp_v2(src, sport, local=False):
    if local:
        return PP_SIG + b"\x20\x00\x00\x00"
    if ":" in src:
        body = (socket.inet_pton(socket.AF_INET6, src) +
                socket.inet_pton(socket.AF_INET6, "fd00::1"))
        fam = 0x21
    else:
        body = (socket.inet_pton(socket.AF_INET, src) +
                socket.inet_pton(socket.AF_INET, "10.255.255.1"))
        fam = 0x11
    body += struct.pack(">HH", sport, 3128)
    return PP_SIG + bytes([0x21, fam]) + struct.pack(">H", len(body)) + body


def split_pieces(rng, data, most=6):
    """data cut at random places into 1..most pieces."""
    if len(data) < 2:
        return [data]
    cuts = sorted(rng.sample(range(1, len(data)),
                             min(len(data) - 1, rng.randint(1, most - 1))))
    out, last = [], 0
    for c in cuts:
        out.append(data[last:c])
        last = c
    out.append(data[last:])
    return out


# ---------------------------------------------------------------------------
# Expectations on the decision log

class OneOf(frozenset):
    """Any of these values."""

    def __repr__(self):
        return "one of %s" % sorted(map(repr, self))


class Expect:
    """One record a connection should have written: field -> exact value,
    OneOf(values) or a predicate.  optional: it may be missing (a request
    the proxy may or may not have read before the client went away);
    alts: other Expects the record may match instead."""

    def __init__(self, optional=False, alts=(), **fields):
        self.optional = optional
        self.fields = fields
        self.alts = list(alts)

    def why_not(self, rec):
        whys = []
        for e in [self] + self.alts:
            w = e._why_not(rec)
            if w is None:
                return None
            whys.append(w)
        return " / ".join(whys)

    def _why_not(self, rec):
        for k, want in self.fields.items():
            got = rec.get(k)
            if isinstance(want, frozenset):
                ok = got in want
            elif callable(want):
                ok = want(got)
            else:
                ok = got == want
            if not ok:
                return "%s=%r, expected %r" % (k, got, want)
        return None

    def __repr__(self):
        s = "Expect(%s%s)" % ("optional, " if self.optional else "",
                              ", ".join("%s=%r" % kv
                                        for kv in self.fields.items()))
        for a in self.alts:
            s += " or %r" % a
        return s


# ---------------------------------------------------------------------------
# The client side

class Client:
    """One client connection to a listener of the proxy, from its own
    source address, maybe with a PROXY header and TLS; buffered reading."""

    def __init__(self, res, port, source):
        self.res = res
        self.buf = bytearray()
        self.prefix = b""
        self.was_reset = False
        self.tls = False
        self.closed = False
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.settimeout(OP_TIMEOUT)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.bind((source, 0))
            s.connect(("127.0.0.1", port))
        except BaseException:
            s.close()
            raise
        self.sock = s
        self.sport = s.getsockname()[1]

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def start_tls(self, ctx, session=None):
        self.sock = ctx.tls.wrap_socket(self.sock,
                                        server_hostname="proxy.test",
                                        session=session)
        self.tls = True
        ctx.tls_session = self.sock.session

    # -- writing

    def send(self, data):
        data = self.prefix + data
        self.prefix = b""
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise Fail("timed out sending %d bytes" % len(data))

    def send_pieces(self, rng, data, most=6):
        for p in split_pieces(rng, self.prefix + data, most):
            self.prefix = b""
            self.send(p)

    def trickle(self, data):
        data = self.prefix + data
        self.prefix = b""
        for k in range(len(data)):
            self.send(data[k:k + 1])

    def send_lenient(self, data):
        """Send what the peer may no longer read (errors are fine)."""
        try:
            self.send(data)
            return True
        except (OSError, Fail):
            return False

    def shut_wr(self):
        assert not self.tls
        self.sock.shutdown(socket.SHUT_WR)

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    def reset(self):
        """Close with a TCP reset (SO_LINGER 0)."""
        if not self.closed:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack("ii", 1, 0))
            except OSError:
                pass
            self.close()

    def tls_close(self):
        """close_notify, then close (TLS only)."""
        try:
            self.sock.unwrap()
        except (OSError, ValueError):
            pass
        self.close()

    # -- reading

    def _fill(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(262144)
        except TimeoutError:
            raise
        except (ConnectionResetError, BrokenPipeError):
            self.was_reset = True
            data = b""
        except ssl.SSLError as e:
            self.was_reset = True
            self.tls_error = repr(e)
            data = b""
        finally:
            if timeout is not None:
                self.sock.settimeout(OP_TIMEOUT)
        if not data:
            return False
        self.buf += data
        return True

    def fill(self, what):
        try:
            return self._fill()
        except TimeoutError:
            raise Fail("timed out after %gs waiting for %s (have %r)" % (
                OP_TIMEOUT, what, bytes(self.buf[:200])))

    def read_until(self, sep, what, limit=1 << 20):
        while True:
            k = self.buf.find(sep)
            if k >= 0:
                out = bytes(self.buf[:k])
                del self.buf[:k + len(sep)]
                return out
            if len(self.buf) > limit:
                raise Fail("%s: no %r in %d bytes" % (what, sep,
                                                      len(self.buf)))
            if not self.fill(what):
                raise Eof("%s: closed%s (have %r)" % (
                    what, " by a reset" if self.was_reset else "",
                    bytes(self.buf[:200])))

    def read_exact(self, n, what):
        while len(self.buf) < n:
            if not self.fill(what):
                raise Eof("%s: closed after %d of %d bytes" % (
                    what, len(self.buf), n))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_to_eof(self, what, limit=64 << 20):
        while self.fill(what):
            if len(self.buf) > limit:
                raise Fail("%s: more than %d bytes" % (what, limit))
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def expect_eof(self, what):
        rest = self.read_to_eof(what)
        check(self.res, rest == b"", "%s: bytes where the end was due: %r",
              what, rest[:200])

    def quiet_for(self, seconds):
        """True when nothing (not even EOF) arrives within seconds."""
        if self.buf:
            return False
        try:
            self._fill(seconds)
        except TimeoutError:
            return True
        return False

    def read_response(self, what, method="GET"):
        """One HTTP response (1xx interim ones collected in .interim)."""
        interim = []
        while True:
            head = self.read_until(b"\r\n\r\n", what + ": response head",
                                   limit=65536)
            r = HTTPResp(head)
            if 100 <= r.status < 200:
                interim.append(r.status)
                continue
            break
        r.interim = interim
        te = r.get("transfer-encoding")
        cl = r.get("content-length")
        if method == "HEAD" or r.status in (204, 304):
            return r
        if te is not None:
            if te.lower() != "chunked":
                raise Fail("%s: Transfer-Encoding %r" % (what, te))
            r.chunked = True
            body = bytearray()
            while True:
                line = self.read_until(b"\r\n", what + ": chunk size",
                                       limit=8192)
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.read_until(b"\r\n", what + ": trailer",
                                          limit=8192):
                        pass
                    break
                body += self.read_exact(size, what + ": chunk")
                if self.read_exact(2, what + ": chunk end") != b"\r\n":
                    raise Fail("%s: chunk data not followed by CRLF" % what)
            r.body = bytes(body)
        elif cl is not None:
            r.body = self.read_exact(int(cl), what + ": body")
        else:
            if (r.get("connection") or "").lower() != "close":
                raise Fail("%s: a response without Content-Length or "
                           "chunked framing on a connection kept open "
                           "(Connection: %r): %r" % (
                               what, r.get("connection"), head[:500]))
            r.body = self.read_to_eof(what + ": body to EOF")
            r.to_eof = True
        return r

    # -- both ways at once (tunnels)

    def exchange(self, data, total, what):
        """Send data while reading, until total bytes are buffered."""
        sock = self.sock
        sock.setblocking(False)
        sent = 0
        deadline = time.monotonic() + OP_TIMEOUT * 3
        try:
            while len(self.buf) < total:
                if time.monotonic() > deadline:
                    raise Fail("%s: exchange took too long (sent %d of %d, "
                               "got %d of %d)" % (what, sent, len(data),
                                                  len(self.buf), total))
                want_w = sent < len(data)
                pending = self.tls and sock.pending()
                if pending:
                    r, w = [sock], []
                else:
                    r, w, _ = select.select([sock],
                                            [sock] if want_w else [], [],
                                            OP_TIMEOUT)
                    if not r and not w:
                        raise Fail("%s: no progress for %gs (sent %d of %d, "
                                   "got %d of %d)" % (
                                       what, OP_TIMEOUT, sent, len(data),
                                       len(self.buf), total))
                if want_w and w:
                    try:
                        sent += sock.send(data[sent:sent + 65536])
                    except (ssl.SSLWantWriteError, ssl.SSLWantReadError,
                            BlockingIOError):
                        pass
                if r:
                    while True:
                        try:
                            d = sock.recv(262144)
                        except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                                BlockingIOError):
                            break
                        except (ConnectionResetError, ssl.SSLError):
                            d = b""
                        if not d:
                            raise Eof("%s: closed after %d of %d bytes "
                                      "(sent %d of %d)" % (
                                          what, len(self.buf), total, sent,
                                          len(data)))
                        self.buf += d
                        if not (self.tls and sock.pending()):
                            break
            # All of it is back; whatever is left is sent blocking.
        finally:
            sock.setblocking(True)
            sock.settimeout(OP_TIMEOUT)
        if sent < len(data):
            self.send(data[sent:])


class HTTPResp:
    def __init__(self, head):
        self.raw_head = head
        lines = head.split(b"\r\n")
        self.status_line = lines[0].decode("latin-1")
        parts = self.status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or \
                not parts[1].isdigit():
            raise Fail("bad status line %r" % self.status_line)
        self.status = int(parts[1])
        self.headers = []
        for l in lines[1:]:
            k, _, v = l.decode("latin-1").partition(":")
            self.headers.append((k.strip().lower(), v.strip()))
        self.body = b""
        self.chunked = False
        self.to_eof = False
        self.interim = []

    def get(self, name):
        vals = [v for k, v in self.headers if k == name]
        return vals[-1] if vals else None

    def __repr__(self):
        return "<%s %r>" % (self.status_line, self.raw_head[:300])


def check(res, cond, msg, *args):
    if not cond:
        raise Fail(msg % args if args else msg)
    res.checks += 1


class Result:
    """What one connection did and what it expects of the log."""

    def __init__(self, index, kind):
        self.index = index
        self.kind = kind
        self.keys = set()           # client addresses its records carry
        self.expects = []
        self.steps = []
        self.checks = 0
        self.error = None
        self.records = []

    def step(self, s):
        self.steps.append(s)

    def expect(self, **kw):
        e = Expect(**kw)
        self.expects.append(e)
        return e


# ---------------------------------------------------------------------------
# Upstreams

class Reader:
    """Buffered reading on an upstream's accepted socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def fill(self):
        try:
            d = self.sock.recv(262144)
        except (ConnectionResetError, TimeoutError):
            d = b""
        if not d:
            raise Eof()
        self.buf += d

    def until(self, sep, limit=1 << 20):
        while True:
            k = self.buf.find(sep)
            if k >= 0:
                out = bytes(self.buf[:k])
                del self.buf[:k + len(sep)]
                return out
            if len(self.buf) > limit:
                raise Eof()
            self.fill()

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def to_eof(self):
        try:
            while True:
                self.fill()
        except Eof:
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out


GREETING = pattern("greeting", 1000)


class Upstream:
    """A threaded server on 127.0.0.1 with one behaviour (mode)."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.accepted = 0
        self.live = set()
        self.received = {}          # greet: tag -> bytes after the tag
        self.requests = collections.defaultdict(list)   # http: tag -> heads
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(UPSTREAM_TIMEOUT)
            with self.lock:
                self.accepted += 1
                self.live.add(conn)
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        try:
            getattr(self, "_" + self.mode)(conn, Reader(conn))
        except (OSError, Eof, ValueError, IndexError):
            pass
        finally:
            with self.lock:
                self.live.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def close_all(self):
        """Shut every open connection (their peers see EOF)."""
        with self.lock:
            live = list(self.live)
        for s in live:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.close_all()

    @staticmethod
    def _shut_wr(conn):
        try:
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    # -- tunnel modes

    def _echo(self, conn, rd):
        while True:
            d = conn.recv(262144)
            if not d:
                break
            conn.sendall(d)
        self._shut_wr(conn)

    def _deferred(self, conn, rd):
        conn.sendall(rd.to_eof())
        self._shut_wr(conn)

    def _closenow(self, conn, rd):
        pass

    def _tag(self, rd):
        m = re.match(rb"^T(\d+):(\d+)$", rd.until(b"\n", 64))
        if not m:
            raise ValueError("bad tag line")
        return int(m.group(1)), int(m.group(2))

    def _cut(self, conn, rd):
        i, n = self._tag(rd)
        conn.sendall(tunnel_data("cut:%d" % i, n))

    def _rst(self, conn, rd):
        i, n = self._tag(rd)
        conn.sendall(tunnel_data("cut:%d" % i, n))
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))

    def _greet(self, conn, rd):
        conn.sendall(GREETING)
        self._shut_wr(conn)
        data = rd.to_eof()
        tag, _, rest = data.partition(b"\n")
        with self.lock:
            self.received[tag.decode("latin-1")] = rest

    def _stall(self, conn, rd):
        rd.to_eof()

    def _canary(self, conn, rd):
        rd.to_eof()

    # -- HTTP

    def _http(self, conn, rd):
        while True:
            try:
                head = rd.until(b"\r\n\r\n", 65536)
            except Eof:
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ")
            hdrs = []
            for l in lines[1:]:
                k, _, v = l.partition(":")
                hdrs.append((k.strip().lower(), v.strip()))
            hmap = dict(hdrs)
            body = b""
            if hmap.get("transfer-encoding", "").lower() == "chunked":
                out = bytearray()
                while True:
                    size = int(rd.until(b"\r\n", 8192).split(b";")[0], 16)
                    if size == 0:
                        while rd.until(b"\r\n", 8192):
                            pass
                        break
                    out += rd.exact(size)
                    rd.exact(2)
                body = bytes(out)
            elif "content-length" in hmap:
                body = rd.exact(int(hmap["content-length"]))
            parts = target.split("?")[0].split("/")
            kind, arg, tag = parts[2], int(parts[3]), parts[4]
            with self.lock:
                # what the clients check, not the body itself (a long
                # run would keep gigabytes)
                self.requests[tag].append((method, target, version, hdrs,
                                           hashlib.sha256(body).digest()))
            if not self._answer(conn, rd, method, kind, arg, tag, body):
                return

    @staticmethod
    def _head(status, reason, hdrs):
        return ("HTTP/1.1 %d %s\r\n" % (status, reason) + "".join(
            "%s: %s\r\n" % kv for kv in hdrs) + "\r\n").encode("latin-1")

    def _answer(self, conn, rd, method, kind, arg, tag, body):
        head_only = method == "HEAD"
        data = pattern("http:" + tag, arg)
        xt = [("X-Tag", tag), ("Content-Type", "application/octet-stream")]
        cl = [("Content-Length", str(len(data)))]
        send = conn.sendall
        if kind == "cl":
            send(self._head(200, "OK", xt + cl) + (b"" if head_only
                                                   else data))
        elif kind == "hopcl":
            send(self._head(200, "OK", xt + [("Connection",
                                               "Content-Length")] + cl) +
                 (b"" if head_only else data))
        elif kind == "hop":
            send(self._head(200, "OK", xt + [
                ("Connection", "X-Secret, keep-alive"), ("X-Secret", "1"),
                ("Keep-Alive", "timeout=5"), ("Upgrade", "h2c")] + cl) +
                (b"" if head_only else data))
        elif kind == "chunked":
            out = bytearray(self._head(200, "OK", xt + [
                ("Transfer-Encoding", "chunked")]))
            if not head_only:
                r = random.Random("chunks:" + tag)
                k = 0
                while k < len(data):
                    n = r.choice([1, 7, 100, 1000, 4096, 65536])
                    piece = data[k:k + n]
                    out += b"%x" % len(piece)
                    if r.random() < 0.2:
                        out += b";ext=1"
                    out += b"\r\n" + piece + b"\r\n"
                    k += len(piece)
                out += b"0\r\n"
                if r.random() < 0.3:
                    out += b"X-Trailer: dropped\r\n"
                out += b"\r\n"
            send(bytes(out))
        elif kind == "close":
            send(self._head(200, "OK", xt + [("Connection", "close")]) +
                 data)
            return False
        elif kind == "cut":
            send(self._head(200, "OK", xt + cl) + data[:len(data) // 2])
            return False
        elif kind == "stall":
            rd.to_eof()
            return False
        elif kind == "garbage":
            send([b"THIS IS NOT HTTP\r\n\r\n",
                  b"\x00\x01\x02 not a response at all",
                  b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n",
                  self._head(200, "OK", xt + [
                      ("Transfer-Encoding", "chunked")]) +
                  b"5\r\nabcde\r\nzz\r\n"][arg % 4])
            return False
        elif kind == "closeatonce":
            return False
        elif kind == "double":
            send(self._head(200, "OK", xt + cl) + data +
                 self._head(200, "OK", [("X-Tag", "unsolicited"),
                                        ("Content-Length", "5")]) +
                 b"bogus")
        elif kind == "interim":
            send(b"HTTP/1.1 100 Continue\r\n\r\n" +
                 self._head(200, "OK", xt + cl) + data)
        elif kind == "s204":
            send(self._head(204, "No Content", xt))
        elif kind == "s304":
            send(self._head(304, "Not Modified", xt + [
                ("Content-Length", "50")]))
        elif kind == "echo":
            send(self._head(200, "OK", xt + [
                ("Content-Length", str(len(body)))]) + body)
        else:
            return False
        return True


# ---------------------------------------------------------------------------
# The run

class ChaosProxy(helpers.Proxy):
    """helpers.Proxy noting when a sanitizer report begins."""

    report_time = None

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if self.report_time is None and (
                    line.startswith("==") or
                    helpers.SANITIZER_RE.search(line)):
                self.report_time = time.monotonic()
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()


class Chaos:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed
        self.dead = False
        self.tls_session = None
        self.lock = threading.Lock()
        self.kinds = collections.Counter()
        self.failed_kinds = collections.Counter()

    # -- setup

    def setup(self, workdir):
        self.workdir = Path(workdir)
        certs = self.workdir / "certs"
        cp = helpers.run_hushgate(["certs", "init", "--dir", str(certs),
                                   "--name", "proxy.test", "--ip",
                                   "127.0.0.1"])
        if cp.returncode != 0:
            raise Fail("hushgate certs init failed: %s" % cp.stderr)
        self.tls = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        self.up = {m: Upstream(m) for m in (
            "echo", "deferred", "closenow", "cut", "rst", "greet", "stall",
            "canary", "http")}
        self.refused_sock = helpers.closed_port()
        self.refused = self.refused_sock.getsockname()[1]
        tunnel_ports = [self.up[m].port for m in (
            "echo", "deferred", "closenow", "cut", "rst", "greet", "stall")]
        tls_entry = {"cert": str(certs / "server.crt"),
                     "key": str(certs / "server.key")}
        cfg = {
            "listen": [
                "127.0.0.1:0",
                {"address": "127.0.0.1:0", "tls": tls_entry},
                {"address": "127.0.0.1:0", "proxy_protocol": "any"},
                {"address": "127.0.0.1:0", "proxy_protocol": "any",
                 "tls": tls_entry},
            ],
            "workers": 2,
            "clients": ["127.0.0.0/9", "10.0.0.0/8", "fd00::/8"],
            "trusted_proxies": ["127.0.0.0/9"],
            "connect_ports": sorted(tunnel_ports + [self.up["canary"].port,
                                                    self.refused]),
            "http_ports": sorted([self.up["http"].port,
                                  self.up["canary"].port, self.refused]),
            "default": "allow",
            "max_connections": 4096,
            "max_connections_per_client": 1000,
            "timeouts": dict(PROXY_TIMEOUTS),
            "categories": {
                "upstreams": {"action": "allow",
                              "hosts": ["up.chaos.test", "web.chaos.test"]},
                "blocked": {"action": "deny",
                            "hosts": ["blocked.chaos.test",
                                      ".ads.chaos.test"]},
                "watched": {"action": "audit",
                            "hosts": ["audit.chaos.test"]},
            },
        }
        self.proxy = ChaosProxy(self.workdir / "proxy", cfg, hosts=HOSTS,
                                   start=False)
        self.proxy.start()
        ports = [self.proxy.port]
        for _ in range(3):
            m = self.proxy.wait_stderr(
                r"^hushgate: listening on 127\.0\.0\.1:(\d+)$",
                start=self.proxy.last_index + 1)
            ports.append(int(m.group(1)))
        self.ports = dict(zip(LISTENERS, ports))
        self.pid = self.proxy.proc.pid
        self.watch()
        # A ClientHello as a TLS client sends it (for tunnels: tls_sni).
        ctx = ssl.create_default_context()
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, out, server_hostname="up.chaos.test")
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        self.hello = out.read()

    def teardown(self):
        problems = []
        if getattr(self, "proxy", None) is not None:
            problems = self.proxy.finish()
        for u in getattr(self, "up", {}).values():
            u.stop()
        if getattr(self, "refused_sock", None) is not None:
            self.refused_sock.close()
        return problems

    # -- observation of the process

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def tcp_states(self):
        """States of the proxy's TCP sockets (hex codes; 0A is LISTEN)."""
        inodes = set()
        d = "/proc/%d/fd" % self.pid
        for fd in os.listdir(d):
            try:
                link = os.readlink(os.path.join(d, fd))
            except OSError:
                continue
            m = re.match(r"socket:\[(\d+)\]", link)
            if m:
                inodes.add(m.group(1))
        states = collections.Counter()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    next(f)
                    for line in f:
                        p = line.split()
                        if len(p) > 9 and p[9] in inodes:
                            states[p[3]] += 1
            except FileNotFoundError:
                pass
        return states

    def metrics(self):
        try:
            with Client(Result(-1, "metrics"), self.ports["plain"],
                        "127.0.0.1") as c:
                c.send(b"GET /metrics HTTP/1.1\r\nHost: proxy\r\n\r\n")
                r = c.read_response("metrics")
        except (OSError, Eof) as e:
            raise Fail("GET /metrics failed: %s" % e)
        out = {}
        for line in r.body.decode().splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                out[k] = float(v)
        return out

    def watch(self):
        """Note when the proxy exits, or begins a sanitizer report (which
        takes a while to print): for the suspects of a crash."""
        def run():
            self.proxy.proc.wait()
            t = time.monotonic()
            self.death_time = min(t, self.proxy.report_time or t)
            self.dead = True
        self.death_time = None
        threading.Thread(target=run, daemon=True).start()

    def alive(self):
        return self.proxy.proc is not None and self.proxy.proc.poll() is None

    def quiesce(self, what):
        """Wait until the proxy holds no connection at all: no client
        connection (by /metrics), then, the upstreams having closed every
        idle connection, no TCP socket but its listeners."""
        def no_clients():
            if not self.alive():
                raise Fail("hushgate died (%s)" % what)
            m = self.metrics()
            return m if m.get("hushgate_connections_open", 99) <= 1 else None
        m = helpers.wait_until(no_clients, "no client connection open (%s)"
                               % what, timeout=OP_TIMEOUT * 3, interval=0.1)
        for u in self.up.values():
            u.close_all()

        def only_listeners():
            if not self.alive():
                raise Fail("hushgate died (%s)" % what)
            st = self.tcp_states()
            return all(s == "0A" for s in st) and st
        try:
            helpers.wait_until(only_listeners, "only listening sockets (%s)"
                               % what, timeout=OP_TIMEOUT * 3, interval=0.05)
        except AssertionError:
            raise Fail("%s: the proxy still holds TCP sockets in states %s "
                       "(hex, /proc/net/tcp) with no client connected and "
                       "every upstream connection closed" % (
                           what, dict(self.tcp_states())))
        return m

    # -- the connections

    def pick_listener(self, rng):
        return rng.choices(LISTENERS, [50, 20, 20, 10])[0]

    def open(self, res, rng, lst, i):
        """Connect to listener lst as client i: source address, PROXY
        header (sent now, or kept to go with the first bytes), TLS."""
        src = source_ip(i)
        res.keys.add(src)
        res.client = src
        res.listener = lst
        c = Client(res, self.ports[lst], src)
        try:
            if lst in ("pp", "pptls"):
                # (A LOCAL header is a balancer's health check: such a
                # connection is served /healthz only, see test_proxy_protocol.)
                kind = rng.choices(["v1", "v2", "v2-6", "v1-6"],
                                   [35, 35, 15, 15])[0]
                if kind == "v2-local":
                    hdr = pp_v2(None, 0, local=True)
                else:
                    addr = pp_addr(i, kind.endswith("-6"))
                    res.keys.add(addr)
                    res.client = addr
                    hdr = (pp_v1 if kind.startswith("v1") else pp_v2)(
                        addr, c.sport)
                res.step("PROXY %s -> %s" % (kind, res.client))
                how = rng.choice(["now", "pieces", "with-request"])
                if lst == "pptls" and how == "with-request":
                    how = "now"
                if how == "now":
                    c.send(hdr)
                elif how == "pieces":
                    c.send_pieces(rng, hdr)
                else:
                    c.prefix = hdr
            if lst in ("tls", "pptls"):
                sess = self.tls_session if rng.random() < 0.3 else None
                c.start_tls(self, sess)
        except BaseException:
            c.close()
            raise
        return c

    def run_one(self, i):
        rng = random.Random("%d:%d" % (self.seed, i))
        kind = rng.choices(["tunnel", "http", "misc"], [40, 42, 18])[0]
        res = Result(i, kind)
        res.client = None
        res.listener = None
        res.t0 = time.monotonic()
        try:
            getattr(self, "s_" + kind)(res, rng, i)
        except (Fail, Eof, OSError, ssl.SSLError, AssertionError,
                ValueError) as e:
            res.error = "%s: %s" % (type(e).__name__, e)
            if self.args.verbose:
                res.error += "\n" + traceback.format_exc()
        except Exception as e:  # a bug of the driver: say so
            res.error = "driver error %s: %s\n%s" % (
                type(e).__name__, e, traceback.format_exc())
        finally:
            for cc in getattr(res, "clients", []):
                cc.close()
            res.t1 = time.monotonic()
        return res

    # ---- CONNECT

    def s_tunnel(self, res, rng, i):
        lst = self.pick_listener(rng)
        tls = lst in ("tls", "pptls")
        target_kind = rng.choices(
            ["upstream", "deny", "portdeny", "nx", "refused", "badtarget"],
            [80, 8, 3, 3, 3, 3])[0]
        if target_kind != "upstream":
            return self.tunnel_refused(res, rng, i, lst, target_kind)
        mode = rng.choices(["echo", "deferred", "closenow", "cut", "rst",
                            "greet", "stall"],
                           [40, 10, 12, 12, 6, 12, 8])[0]
        if tls and mode == "deferred":
            mode = "echo"
        host = rng.choices(["up.chaos.test", "127.0.0.1",
                            "audit.chaos.test"], [80, 10, 10])[0]
        port = self.up[mode].port
        target = "%s:%d" % (host, port)
        action, category = {"up.chaos.test": ("allow", "upstreams"),
                            "127.0.0.1": ("allow", None),
                            "audit.chaos.test": ("audit", "watched")}[host]
        base = dict(method="CONNECT", host=host, port=port, path=None,
                    action=action, category=category, user=None, group=None)
        head = ("CONNECT %s HTTP/1.1\r\nHost: %s\r\n" % (target, target))
        if rng.random() < 0.2:
            head += "User-Agent: chaos/%d\r\nProxy-Connection: keep-alive\r\n" \
                % i
        head = (head + "\r\n").encode()
        c = self.open(res, rng, lst, i)
        res.clients = [c]
        res.step("listener %s, CONNECT %s (%s)" % (lst, target, mode))
        ups = "127.0.0.1:%d" % port
        tag = b"T%d:%d\n"

        def send_head(early=b""):
            how = rng.choices(["whole", "pieces", "trickle"], [70, 20, 10])[0]
            res.step("head %s%s" % (how, ", early %d bytes" % len(early)
                                    if early else ""))
            if how == "whole":
                c.send(head + early)
            elif how == "pieces":
                c.send_pieces(rng, head + early)
            else:
                c.trickle(head)
                if early:
                    c.send(early)

        def read_200():
            r = HTTPResp(c.read_until(b"\r\n\r\n", "CONNECT answer",
                                      limit=65536))
            check(res, r.status == 200, "CONNECT %s: %r", target, r)
            return r

        def client_end_set(*extra):
            s = {"client_closed"} | set(extra)
            if tls:
                s.add("tls_error")
            return OneOf(s)

        if mode == "echo":
            beh = rng.choices(["exchange", "hello", "close_after_200",
                               "rst_mid", "close_before_200",
                               "rst_before_200"],
                              [50, 15, 10, 10, 8, 7])[0]
            res.step(beh)
            if beh == "exchange":
                n = rng.choice([1, 10, 1000, 5000, 20000, 70000,
                                rng.randint(1, 300000)])
                data = tunnel_data("echo:%d" % i, n)
                early = data[:rng.randint(0, min(n, 2000))] \
                    if rng.random() < 0.3 else b""
                send_head(early)
                read_200()
                c.exchange(data[len(early):], n, "echo of %d bytes" % n)
                got = bytes(c.buf[:n])
                del c.buf[:n]
                check(res, got == data, "tunnel echoed different bytes "
                      "(%d bytes)", n)
                fin = rng.choice(["close", "shut"] if not tls else
                                 ["close", "tls_close"])
                res.step("then " + fin)
                if fin == "shut":
                    c.shut_wr()
                    c.expect_eof("echo server's EOF after ours")
                elif fin == "tls_close":
                    c.tls_close()
                c.close()
                res.expect(status=200, end=client_end_set(),
                           bytes_up=n, bytes_down=n, sni=None,
                           upstream=ups, **base)
            elif beh == "hello":
                hello = self.hello
                split = rng.choice(["whole", "two", "early"])
                res.step("ClientHello " + split)
                if split == "early":
                    send_head(hello)
                    read_200()
                else:
                    send_head()
                    read_200()
                    if split == "two":
                        k = rng.randint(1, len(hello) - 1)
                        c.send(hello[:k])
                        c.send(hello[k:])
                    else:
                        c.send(hello)
                got = c.read_exact(len(hello), "echo of the ClientHello")
                check(res, got == hello, "ClientHello echoed differently")
                c.close()
                res.expect(status=200, end=client_end_set(),
                           bytes_up=len(hello), bytes_down=len(hello),
                           sni="up.chaos.test", **base)
            elif beh == "close_after_200":
                send_head()
                read_200()
                c.close()
                res.expect(status=200, end=client_end_set(),
                           bytes_up=0, bytes_down=0, **base)
            elif beh == "rst_mid":
                send_head()
                read_200()
                data = tunnel_data("echo:%d" % i, rng.randint(1, 60000))
                c.send_lenient(data)
                if rng.random() < 0.5:
                    c.read_exact(1, "some echo")
                c.reset()
                res.expect(status=200, end=client_end_set(), **base)
            else:
                send_head()
                if beh == "close_before_200":
                    c.close()
                else:
                    c.reset()
                bare = Expect(method=None, status=None,
                              end=client_end_set())
                res.expect(status=OneOf({200, None}), end=client_end_set(),
                           alts=[bare] if beh == "rst_before_200" else [],
                           **base)
        elif mode == "deferred":
            n = rng.choice([0, 1, 100, 10000, rng.randint(1, 200000)])
            data = tunnel_data("def:%d" % i, n)
            beh = rng.choice(["halfclose", "close"])
            res.step("%s after %d bytes" % (beh, n))
            send_head()
            read_200()
            c.send(data)
            if beh == "halfclose":
                c.shut_wr()
                got = c.read_to_eof("deferred echo")
                check(res, got == data, "half-closed tunnel returned %d "
                      "bytes, not the %d sent", len(got), n)
                c.close()
                res.expect(status=200, end="client_closed", bytes_up=n,
                           bytes_down=n, **base)
            else:
                c.close()
                res.expect(status=200, end=client_end_set(), bytes_up=n,
                           **base)
        elif mode == "closenow":
            beh = rng.choice(["close_after_200", "wait_eof", "send_close"])
            res.step(beh)
            send_head()
            read_200()
            if beh == "wait_eof":
                c.expect_eof("EOF from an upstream that closed at once")
                end = "upstream_closed"
            elif beh == "send_close":
                c.send_lenient(tunnel_data("x%d" % i, rng.randint(1, 5000)))
                end = OneOf({"upstream_closed", "client_closed"})
            else:
                end = OneOf({"upstream_closed", "client_closed"})
            if tls and beh != "wait_eof":
                end = OneOf(set(end) | {"tls_error"})
            c.close()
            res.expect(status=200, end=end, bytes_down=0, **base)
        elif mode in ("cut", "rst"):
            n = rng.choice([0, 1, 1000, 50000, rng.randint(1, 300000)])
            line = tag % (i, n)
            early = rng.random() < 0.4
            send_head(line if early else b"")
            read_200()
            if not early:
                c.send(line)
            got = c.read_to_eof("tunnel bytes until the upstream's close")
            want = tunnel_data("cut:%d" % i, n)
            if mode == "cut":
                check(res, got == want, "got %d bytes from an upstream that "
                      "sent %d and closed (equal prefix: %d)", len(got), n,
                      common_prefix(got, want))
                res.expect(status=200, end="upstream_closed", bytes_down=n,
                           bytes_up=len(line), upstream=ups, **base)
            else:
                check(res, want.startswith(got), "bytes from an upstream "
                      "that reset are not a prefix of what it sent")
                res.expect(status=200, end=OneOf({"upstream_closed"}),
                           bytes_up=len(line), **base)
            c.close()
        elif mode == "greet":
            m = rng.choice([0, 10, 5000, rng.randint(1, 100000)])
            send_head()
            read_200()
            got = c.read_to_eof("greeting until the upstream's half-close")
            check(res, got == GREETING, "greeting arrived as %d bytes "
                  "(equal prefix %d)", len(got), common_prefix(got,
                                                                GREETING))
            key = "G%d" % i
            data = tunnel_data("greet:%d" % i, m)
            c.send(key.encode() + b"\n" + data)
            if tls:
                c.tls_close()
            elif rng.random() < 0.5:
                c.shut_wr()
            c.close()
            up = self.up["greet"]
            helpers.wait_until(lambda: key in up.received,
                               "the upstream's EOF after the bytes sent "
                               "past its half-close", timeout=OP_TIMEOUT)
            with up.lock:
                got = up.received.pop(key)
            check(res, got == data, "the upstream got %d bytes after its "
                  "half-close, not the %d sent", len(got), m)
            res.expect(status=200, end="upstream_closed",
                       bytes_down=len(GREETING),
                       bytes_up=len(key) + 1 + m, **base)
        elif mode == "stall":
            n = rng.randint(1, 4000)
            send_head()
            read_200()
            c.send(tunnel_data("stall:%d" % i, n))
            beh = rng.choice(["giveup", "giveup", "wait"])
            res.step(beh)
            if beh == "giveup":
                quiet = c.quiet_for(rng.choice([0.05, 0.2]))
                c.close()
                res.expect(status=200, bytes_up=n, bytes_down=0,
                           end=client_end_set() if quiet else
                           client_end_set("idle_timeout"), **base)
            else:
                c.expect_eof("the proxy closing an idle tunnel")
                c.close()
                res.expect(status=200, bytes_up=n, bytes_down=0,
                           end="idle_timeout", **base)

    def tunnel_refused(self, res, rng, i, lst, what):
        """CONNECT that the proxy answers itself (no upstream reached)."""
        tls = lst in ("tls", "pptls")
        canary = self.up["canary"].port
        if what == "deny":
            host = rng.choice(["blocked.chaos.test", "x.ads.chaos.test",
                               "BLOCKED.chaos.test."])
            target = "%s:%d" % (host, canary)
            host = host.lower().rstrip(".")
            exp = dict(status=403, end="denied", action="deny",
                       category="blocked", host=host, port=canary)
        elif what == "portdeny":
            port = self.up["http"].port
            target = "up.chaos.test:%d" % port
            exp = dict(status=403, end="port_denied", action="deny",
                       host="up.chaos.test", port=port)
        elif what == "nx":
            target = "nx.chaos.test:%d" % self.up["echo"].port
            exp = dict(status=502, end="resolve_failed",
                       host="nx.chaos.test")
        elif what == "refused":
            target = "up.chaos.test:%d" % self.refused
            exp = dict(status=502, end="connect_failed",
                       host="up.chaos.test", port=self.refused)
        else:
            target = rng.choice(["bad..host:443", "nohost", "a b:1",
                                 "host:99999", "[::1:443"])
            exp = dict(status=400, end="bad_request", action="deny")
        exp.update(bytes_up=0, bytes_down=0, upstream=None)
        if what != "badtarget":
            exp["method"] = "CONNECT"
        c = self.open(res, rng, lst, i)
        res.clients = [c]
        beh = rng.choices(["read", "close", "rst"], [80, 10, 10])[0]
        res.step("listener %s, CONNECT %s (%s), %s" % (lst, target, what,
                                                       beh))
        c.send(("CONNECT %s HTTP/1.1\r\nHost: x\r\n\r\n" % target).encode())
        if beh == "read":
            r = c.read_response("answer to CONNECT %s" % target)
            check(res, r.status == exp["status"], "CONNECT %s: %r",
                  target, r)
            check(res, (r.get("connection") or "").lower() == "close",
                  "CONNECT refused without Connection: close: %r", r)
            check(res, r.body.startswith(b"hushgate: "),
                  "refusal body %r", r.body[:100])
            if what == "deny":
                check(res, r.get("x-hushgate-category") == "blocked",
                      "X-Hushgate-Category %r", r.get("x-hushgate-category"))
            if what == "portdeny":
                check(res, r.get("x-hushgate-reason") == "port",
                      "X-Hushgate-Reason %r", r.get("x-hushgate-reason"))
            c.expect_eof("close after the refusal")
            c.close()
            res.expect(**exp)
        else:
            (c.close if beh == "close" else c.reset)()
            alts = []
            if beh == "rst":
                # The reset may end it before the answer, or before the
                # request was read.
                e = {"client_closed"} | ({"tls_error"} if tls else set())
                alts = [Expect(method=OneOf({None, "CONNECT"}), status=None,
                               end=OneOf(e))]
            res.expect(alts=alts, **exp)

    # ---- plain HTTP

    def http_request(self, rng, i, j, version):
        """One plain-HTTP request: a dict with the bytes to send and what
        to expect back and in the log."""
        hport = self.up["http"].port
        canary = self.up["canary"].port
        tag = "%d-%d" % (i, j)
        # The connection goes on after these ...
        kinds = ["cl", "chunked", "hop", "hopcl", "double", "interim",
                 "s204", "s304", "echo", "deny", "portdeny"]
        weights = [30, 15, 4, 4, 4, 4, 2, 2, 8, 12, 2]
        # ... and ends after these (the caller stops the list there).
        kinds += ["close", "cut", "stall", "garbage", "closeatonce", "nx",
                  "refused", "badurl", "healthz", "connclose"]
        weights += [3, 3, 2, 3, 3, 1, 1, 1, 1, 3]
        kind = rng.choices(kinds, weights)[0]
        method = "GET"
        size = rng.choice([0, 1, 100, 1000, 10000, 100000,
                           rng.randint(0, 600000)])
        body = None
        chunked_req = False
        if kind in ("cl", "chunked", "hop", "hopcl") and rng.random() < 0.15:
            method = "HEAD"
        if kind == "echo" or (kind == "deny" and rng.random() < 0.2):
            method = "POST"
            body = pattern("req:" + tag, rng.choice([0, 10, 5000,
                                                     rng.randint(0, 200000)]))
            chunked_req = version == "1.1" and rng.random() < 0.4
        host = rng.choices(["web.chaos.test", "127.0.0.1",
                            "audit.chaos.test"], [80, 10, 10])[0]
        port = hport
        action, category = {"web.chaos.test": ("allow", "upstreams"),
                            "127.0.0.1": ("allow", None),
                            "audit.chaos.test": ("audit", "watched")}[host]
        upkind = kind if kind not in ("deny", "portdeny", "nx", "refused",
                                      "badurl", "healthz", "connclose") \
            else "cl"
        if kind == "garbage":
            size = rng.randint(0, 3)
        elif kind == "cut":
            size = max(size, 1)     # a body of 0 bytes cannot be cut
        path = "/k/%s/%d/%s" % (upkind, size, tag)
        if rng.random() < 0.2:
            path += "?q=%d&r=%s" % (j, "x" * rng.randint(0, 50))
        end, status, terminal = "done", 200, False
        extra = []
        if kind == "deny":
            host = rng.choice(["blocked.chaos.test", "y.ads.chaos.test"])
            port = canary
            action, category = "deny", "blocked"
            end, status = "denied", 403
            # A request with a body (not Content-Length: 0) ends the
            # connection; so does HTTP/1.0.
            terminal = (body is not None and (len(body) > 0 or
                                              chunked_req)) or \
                version == "1.0"
        elif kind == "portdeny":
            port = self.up["echo"].port
            action, category = "deny", "*"
            end, status = "port_denied", 403
            terminal = version == "1.0"
        elif kind == "nx":
            host, action, category = "nx.chaos.test", "allow", None
            end, status, terminal = "resolve_failed", 502, True
        elif kind == "refused":
            port, end, status, terminal = self.refused, "connect_failed", \
                502, True
        elif kind == "badurl":
            end, status, terminal = "bad_request", 400, True
            action, category = "deny", None
        elif kind in ("close", "cut"):
            terminal = True
            if kind == "cut":
                end = "upstream_closed"
        elif kind == "stall":
            end, status, terminal = "response_timeout", 504, True
        elif kind == "garbage":
            end = OneOf({"bad_response", "upstream_closed"})
            status = 200 if size == 3 else 502
            terminal = True
        elif kind == "closeatonce":
            end, status, terminal = "upstream_closed", 502, True
        elif kind == "s204":
            status = 204
        elif kind == "s304":
            status = 304
        elif kind == "healthz":
            terminal = True
        elif kind == "connclose":
            terminal = True
            extra.append("Connection: close")
        if version == "1.0":
            terminal = True
        authority = host if port == 80 else "%s:%d" % (host, port)
        if kind == "badurl":
            url = rng.choice(["http://user@web.chaos.test:%d/x" % port,
                              "http://web.chaos.test:%d/x#frag" % port,
                              "http://bad..host/x", "https://web.chaos.test/"])
        elif kind == "healthz":
            url = "/healthz"
        else:
            url = "http://%s%s" % (authority, path)
        lines = ["%s %s HTTP/%s" % (method, url, version)]
        if rng.random() < 0.9:
            lines.append("Host: %s" % ("elsewhere.test" if rng.random() < 0.1
                                       else authority))
        if rng.random() < 0.3:
            lines.append("User-Agent: chaos")
        if rng.random() < 0.1:
            lines.append("Proxy-Connection: keep-alive")
        lines += extra
        raw_body = b""
        if body is not None:
            if chunked_req:
                lines.append("Transfer-Encoding: chunked")
                for piece in split_pieces(rng, body, 5) if body else []:
                    raw_body += b"%x\r\n%s\r\n" % (len(piece), piece)
                raw_body += b"0\r\n\r\n"
            else:
                lines.append("Content-Length: %d" % len(body))
                raw_body = body
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + raw_body
        rq = dict(kind=kind, method=method, tag=tag, data=data, size=size,
                  body=body, host=host, port=port, url=url, status=status,
                  end=end, terminal=terminal, action=action,
                  category=category, version=version)
        pathq = path if kind not in ("badurl", "healthz") else None
        if kind == "healthz":
            rq["log"] = None
        else:
            exp = dict(method=method, status=status, end=end, action=action)
            if kind not in ("badurl",):
                exp.update(host=host, port=port, path=pathq)
                if category != "*":
                    exp["category"] = category
            if end == "done":
                exp["bytes_down"] = 0 if method == "HEAD" or status in (
                    204, 304) else (len(body) if kind == "echo" else size)
                exp["bytes_up"] = len(body) if body is not None else 0
                exp["upstream"] = "127.0.0.1:%d" % port
            elif kind == "cut":
                exp["bytes_down"] = size // 2
            elif kind in ("deny", "portdeny", "nx", "refused", "badurl"):
                exp["upstream"] = None
                exp["bytes_down"] = 0
            rq["log"] = exp
        return rq

    def check_http_response(self, res, c, rq, what):
        """Read and check the answer to rq."""
        kind, tag = rq["kind"], rq["tag"]
        if kind == "cut":
            head = c.read_until(b"\r\n\r\n", what + ": head", limit=65536)
            r = HTTPResp(head)
            check(res, r.status == 200 and r.get("x-tag") == tag,
                  "%s: %r", what, r)
            got = c.read_to_eof(what + ": body until the cut")
            want = pattern("http:" + tag, rq["size"])
            check(res, got == want[:rq["size"] // 2], "%s: a body cut at "
                  "%d of %d bytes arrived as %d bytes", what,
                  rq["size"] // 2, rq["size"], len(got))
            return r
        if kind == "garbage" and rq["size"] == 3 and rq["version"] == "1.1":
            # A 200 head, then a malformed chunk: the body cannot end.
            try:
                r = c.read_response(what, rq["method"])
            except Eof:
                return None
            raise Fail("%s: a complete response out of a malformed chunked "
                       "one: %r" % (what, r))
        r = c.read_response(what, rq["method"])
        check(res, r.status == rq["status"], "%s: status %d, expected %d "
              "(%r)", what, r.status, rq["status"], r)
        conn = (r.get("connection") or "").lower()
        if rq["terminal"]:
            if not r.to_eof:
                check(res, conn == "close", "%s: Connection %r on the last "
                      "answer", what, conn)
        else:
            check(res, conn == "keep-alive", "%s: Connection %r on an "
                  "answer that keeps the connection (%r)", what, conn, r)
        if kind == "healthz":
            check(res, r.body == b"ok\n", "%s: healthz body %r", what,
                  r.body)
            return r
        if rq["status"] in (403, 400, 502, 504) and kind not in (
                "garbage", "closeatonce"):
            if kind == "deny":
                check(res, r.get("x-hushgate-category") == "blocked",
                      "%s: X-Hushgate-Category %r", what,
                      r.get("x-hushgate-category"))
                if rq["method"] != "HEAD":
                    check(res, ("Blocked: %s" % rq["host"]).encode() in
                          r.body, "%s: block page %r", what, r.body[:300])
            elif kind == "portdeny":
                check(res, r.get("x-hushgate-reason") == "port",
                      "%s: X-Hushgate-Reason %r", what,
                      r.get("x-hushgate-reason"))
            else:
                check(res, r.body.startswith(b"hushgate: "),
                      "%s: error body %r", what, r.body[:200])
            return r
        if kind in ("garbage", "closeatonce"):
            if r.status == 502:
                check(res, r.body.startswith(b"hushgate: "),
                      "%s: error body %r", what, r.body[:200])
            return r
        check(res, r.get("x-tag") == tag, "%s: the response of another "
              "request (X-Tag %r, expected %r): %r", what, r.get("x-tag"),
              tag, r)
        check(res, r.get("via") == "1.1 hushgate", "%s: Via %r", what,
              r.get("via"))
        for h in ("x-secret", "keep-alive", "upgrade",
                  "proxy-connection"):
            check(res, r.get(h) is None, "%s: hop-by-hop header %s passed "
                  "on", what, h)
        if rq["method"] == "HEAD" or rq["status"] in (204, 304):
            check(res, r.body == b"", "%s: a body on a bodiless response",
                  what)
        elif kind == "echo":
            check(res, r.body == rq["body"], "%s: echoed body differs (%d "
                  "bytes, sent %d)", what, len(r.body), len(rq["body"]))
        else:
            want = pattern("http:" + tag, rq["size"])
            check(res, r.body == want, "%s: body of %d bytes, expected %d "
                  "(equal prefix %d)", what, len(r.body), len(want),
                  common_prefix(r.body, want))
        if kind == "interim":
            check(res, r.interim == ([100] if rq["version"] == "1.1" else
                                     []), "%s: interim responses %r", what,
                  r.interim)
        if kind == "chunked" and rq["method"] != "HEAD":
            check(res, r.chunked == (rq["version"] == "1.1"),
                  "%s: chunked=%s for an HTTP/%s client", what, r.chunked,
                  rq["version"])
        up = self.up["http"]
        with up.lock:
            seen = up.requests.pop(tag, [])
        check(res, seen, "%s: answered, but the upstream never saw it", what)
        m, target, _, hdrs, body = seen[-1]
        hd = dict(hdrs)
        check(res, m == rq["method"] and hd.get("host") == (
            rq["host"] if rq["port"] == 80 else "%s:%d" % (rq["host"],
                                                           rq["port"])),
            "%s: the upstream got %s with Host %r", what, m, hd.get("host"))
        check(res, "proxy-connection" not in hd and
              hd.get("via") == "1.1 hushgate", "%s: upstream headers %r",
              what, hdrs)
        if rq["body"] is not None:
            check(res, body == hashlib.sha256(rq["body"]).digest(),
                  "%s: the upstream got another body than the %d bytes "
                  "sent", what, len(rq["body"]))
        return r

    def s_http(self, res, rng, i):
        lst = self.pick_listener(rng)
        tls = lst in ("tls", "pptls")
        version = "1.0" if rng.random() < 0.08 else "1.1"
        c = self.open(res, rng, lst, i)
        res.clients = [c]
        if version == "1.1" and rng.random() < 0.04:
            return self.http_mass_pipeline(res, rng, i, c, lst)
        nreq = 1 if version == "1.0" else rng.choice(
            [1, 1, 2, 3, 4, 6, 10, rng.randint(1, 30)])
        reqs = []
        for j in range(nreq):
            rq = self.http_request(rng, i, j, version)
            reqs.append(rq)
            if rq["terminal"]:
                break
        style = rng.choices(["seq", "pipe"], [60, 40])[0]
        ending = rng.choices(["close", "shut", "rst", "idle", "abort",
                              "halfclose_pipe"],
                             [50, 15, 10, 3, 15, 7])[0]
        if tls and ending in ("shut", "halfclose_pipe"):
            ending = "close"
        if ending == "halfclose_pipe":
            style = "pipe"
        if style == "pipe" and sum(len(r["data"]) for r in reqs) > 32768:
            # All of it must fit in the socket buffers: the proxy reads
            # the next request only once this one's answer is taken.
            style = "seq"
            if ending == "halfclose_pipe":
                ending = "close"
        sendhow = rng.choices(["whole", "pieces", "trickle"], [70, 22, 8])[0]
        res.step("listener %s, HTTP/%s, %d request(s) %s, %s, ending %s: %s"
                 % (lst, version, len(reqs), style, sendhow, ending,
                    " ".join("%s:%s" % (r["method"], r["kind"])
                             for r in reqs)))

        def send(rq_bytes, first):
            if sendhow == "pieces":
                c.send_pieces(rng, rq_bytes)
            elif sendhow == "trickle" and first and len(rq_bytes) < 4096:
                c.trickle(rq_bytes)
            else:
                c.send(rq_bytes)

        abort_at = rng.randint(0, len(reqs) - 1) if ending == "abort" \
            else None
        abort_rst = rng.random() < 0.5
        answered = 0
        if style == "pipe":
            send(b"".join(r["data"] for r in reqs), True)
            if ending == "halfclose_pipe":
                c.shut_wr()
        for k, rq in enumerate(reqs):
            what = "request %d/%d %s %s" % (k + 1, len(reqs), rq["method"],
                                            rq["url"])
            if style == "seq":
                send(rq["data"], k == 0)
            if abort_at is not None and k == abort_at:
                res.step("abort before answer %d" % (k + 1))
                break
            if ending == "halfclose_pipe" and k > 0:
                # Only the first answer is owed after a half-close; the
                # others may come, and then must be right.
                try:
                    self.check_http_response(res, c, rq, what)
                except Eof:
                    break
            else:
                self.check_http_response(res, c, rq, what)
            answered += 1
        # The log: answered requests have their record; the others may.
        # After a reset (a close with unread bytes is one too), a head the
        # proxy had not read whole yet may be a record without a request.
        bare = [Expect(method=None, status=None, end=OneOf(
            {"client_closed"} | ({"tls_error"} if tls else set())))] \
            if abort_at is not None else []
        for k, rq in enumerate(reqs):
            if rq["log"] is None:
                if k >= answered and bare:
                    res.expect(optional=True, alts=bare[1:], **bare[0].fields)
                continue
            if k < answered:
                res.expect(**rq["log"])
            else:
                lg = dict(rq["log"])
                lg["end"] = OneOf(
                    (set(lg["end"]) if isinstance(lg["end"], frozenset)
                     else {lg["end"]}) | {"client_closed"} |
                    ({"tls_error"} if tls else set()))
                lg["status"] = OneOf({lg["status"], None})
                for f in ("bytes_down", "bytes_up", "upstream"):
                    lg.pop(f, None)
                res.expect(optional=True, alts=bare, **lg)
        if abort_at is not None:
            (c.reset if abort_rst else c.close)()
            return
        last_terminal = reqs[-1]["terminal"] and answered == len(reqs)
        if last_terminal or ending == "halfclose_pipe":
            c.expect_eof("the close after the last answer")
            c.close()
        elif ending == "close":
            c.close()
        elif ending == "rst":
            c.reset()
        elif ending == "shut":
            c.shut_wr()
            c.expect_eof("the close after our half-close")
            c.close()
        elif ending == "idle":
            c.expect_eof("the close of an idle kept-open connection")
            c.close()

    def http_mass_pipeline(self, res, rng, i, c, lst):
        """Hundreds of denied requests pipelined on one connection, many
        in each read of the proxy (short ones: a port not allowed)."""
        n = rng.randint(200, 1500)
        short = rng.random() < 0.6
        canary = self.up["canary"].port
        res.step("listener %s, %d denied requests pipelined (%s)" % (
            lst, n, "port" if short else "host"))
        if short:
            reqs = [b"GET http://a:1/%d HTTP/1.1\r\n\r\n" % k
                    for k in range(n)]
        else:
            reqs = [b"GET http://blocked.chaos.test:%d/m/%d HTTP/1.1\r\n"
                    b"Host: blocked.chaos.test:%d\r\n\r\n" % (canary, k,
                                                               canary)
                    for k in range(n)]
        c.send(b"".join(reqs))
        for k in range(n):
            r = c.read_response("denied request %d/%d" % (k + 1, n))
            check(res, r.status == 403 and (r.get("connection") or "")
                  .lower() == "keep-alive", "denied request %d/%d: %r",
                  k + 1, n, r)
            if short:
                res.expect(method="GET", host="a", port=1, path="/%d" % k,
                           status=403, end="port_denied", action="deny")
            else:
                res.expect(method="GET", host="blocked.chaos.test",
                           port=canary, path="/m/%d" % k, status=403,
                           end="denied", action="deny", category="blocked")
        c.close()

    # ---- everything else

    def s_misc(self, res, rng, i):
        what = rng.choices(
            ["silent_close", "silent_rst", "garbage_line", "binary_close",
             "huge_head", "many_headers", "healthz", "idle_wait",
             "partial_wait", "outsider", "pp_bad", "pp_untrusted",
             "tls_garbage", "tls_close", "bad_version"],
            [12, 8, 10, 10, 6, 6, 8, 2, 2, 8, 7, 6, 6, 6, 6])[0]
        res.step(what)
        tls_ends = {"tls_error"}
        if what in ("outsider", "pp_untrusted"):
            src = outsider_ip(i)
            res.keys.add(src)
            lst = "plain" if what == "outsider" else \
                rng.choice(["pp", "pptls"])
            res.step("listener %s from %s" % (lst, src))
            c = Client(res, self.ports[lst], src)
            res.clients = [c]
            if what == "outsider":
                c.send(b"CONNECT up.chaos.test:443 HTTP/1.1\r\n\r\n")
                r = c.read_response("answer to a client not in clients")
                check(res, r.status == 403, "outsider got %r", r)
                c.expect_eof("close after the 403")
                res.expect(client=src, status=403, end="client_denied",
                           method=None)
            else:
                c.send_lenient(pp_v2(pp_addr(i, False), c.sport))
                c.expect_eof("untrusted balancer: close without answer")
                res.expect(client=src, status=None, end="proxy_untrusted")
            c.close()
            return
        if what in ("pp_bad",):
            lst = rng.choice(["pp", "pptls"])
            src = source_ip(i)
            res.keys.add(src)
            c = Client(res, self.ports[lst], src)
            res.clients = [c]
            bad = rng.choice([b"PROXY TCP4 1.2.3 4.5.6.7 1 2\r\n",
                              b"PROXY UNKNOWN\n",
                              PP_SIG + b"\x21\x11\x00\x04abcd",
                              b"GET / HTTP/1.1\r\n\r\n",
                              b"\x16\x03\x01\x00\x05hello"])
            res.step("listener %s, header %r" % (lst, bad))
            c.send_lenient(bad)
            c.expect_eof("malformed PROXY header: close without answer")
            c.close()
            res.expect(client=src, status=None, end="proxy_protocol_error",
                       method=None)
            return
        if what in ("tls_garbage", "tls_close"):
            lst = "tls"
            src = source_ip(i)
            res.keys.add(src)
            c = Client(res, self.ports[lst], src)
            res.clients = [c]
            res.step("listener tls from %s" % src)
            if what == "tls_garbage":
                c.send_lenient(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                try:
                    c.read_to_eof("close after garbage instead of a "
                                  "ClientHello")
                except Fail:
                    raise
                c.close()
                res.expect(client=src, status=None, method=None,
                           end="tls_error")
            else:
                c.start_tls(self)
                (c.close if rng.random() < 0.5 else c.tls_close)()
                res.expect(client=src, status=None, method=None,
                           end=OneOf({"client_closed", "tls_error"}))
            return
        lst = self.pick_listener(rng)
        tls = lst in ("tls", "pptls")
        if what in ("silent_close", "silent_rst", "idle_wait"):
            # A bare connection: no PROXY header, no TLS handshake.
            src = source_ip(i)
            res.keys.add(src)
            res.step("bare connection to listener %s" % lst)
            c = Client(res, self.ports[lst], src)
            res.clients = [c]
            ends = {"client_closed"}
            if lst == "tls":
                ends.add("tls_error")
            if lst in ("pp", "pptls"):
                ends.add("proxy_protocol_error")
            if what == "silent_close":
                c.close()
                res.expect(client=src, status=None, method=None,
                           end=OneOf(ends))
            elif what == "silent_rst":
                c.reset()
                res.expect(optional=True, client=src, status=None,
                           method=None, end=OneOf(ends))
            else:
                got = c.read_to_eof("the close of a silent client")
                if lst == "tls":
                    res.expect(client=src, status=None, method=None,
                               end="tls_timeout")
                elif lst in ("pp", "pptls"):
                    # no PROXY header in time: closed without an answer
                    check(res, got == b"", "a silent client got %r",
                          got[:200])
                    res.expect(client=src, status=None, method=None,
                               end="proxy_protocol_error")
                else:
                    check(res, got.startswith(b"HTTP/1.1 408 "),
                          "a silent client got %r", got[:200])
                    res.expect(client=src, status=408, method=None,
                               end="request_timeout")
                c.close()
            return
        c = self.open(res, rng, lst, i)
        res.clients = [c]
        res.step("listener %s" % lst)
        if what == "garbage_line":
            line = rng.choice([b"HELLO", b"GET",
                               b"GET http://web.chaos.test/ HTTP/9.9",
                               b"\x01\x02\x03 x y", b"GET  / HTTP/1.1",
                               b"GET http://web.chaos.test/ HTTP/1.1\nX: y",
                               b"GET http://web.chaos.test/ HTTP/1.1\r\n"
                               b" folded: header"])
            c.send(line + b"\r\n\r\n")
            r = c.read_response("answer to %r" % line)
            check(res, r.status == 400, "%r: %r", line, r)
            c.expect_eof("close after the 400")
            c.close()
            res.expect(status=400, end="bad_request", action="deny")
        elif what == "binary_close":
            data = bytes(rng.choice(b"abc\x00\x01\xff /:") for _ in range(
                rng.randint(1, 300)))
            if rng.random() < 0.5:
                c.send(data)
            else:
                c.send_pieces(rng, data)
            if rng.random() < 0.7 and not tls:
                c.shut_wr()
                c.expect_eof("close after a truncated head")
            c.close()
            res.expect(status=None, end=OneOf({"bad_request"} |
                                              (tls_ends if tls else set())))
        elif what == "huge_head":
            c.send_lenient(b"GET http://web.chaos.test/ HTTP/1.1\r\nX: " +
                           b"a" * rng.randint(9000, 30000))
            r = c.read_response("answer to an endless head")
            check(res, r.status == 431, "endless head: %r", r)
            c.close()
            res.expect(status=431, end="too_large")
        elif what == "many_headers":
            c.send(b"GET http://web.chaos.test/ HTTP/1.1\r\n" +
                   b"".join(b"X-H%d: v\r\n" % k for k in range(
                       rng.randint(101, 150))) + b"\r\n")
            r = c.read_response("answer to too many headers")
            check(res, r.status == 431, "too many headers: %r", r)
            c.expect_eof("close after the 431")
            c.close()
            res.expect(status=431, end="too_large")
        elif what == "healthz":
            c.send(b"GET /healthz HTTP/1.1\r\nHost: proxy\r\n\r\n")
            r = c.read_response("healthz")
            check(res, r.status == 200 and r.body == b"ok\n", "healthz: %r",
                  r)
            c.expect_eof("close after healthz")
            c.close()
            # /healthz writes no record
        elif what == "partial_wait":
            c.send(b"GET http://web.chaos.test/ HTTP/1.1\r\nHost: w")
            r = c.read_response("answer to half a head")
            check(res, r.status == 408, "half a head got %r", r)
            c.expect_eof("close after the 408")
            c.close()
            res.expect(status=408, end="request_timeout")
        elif what == "bad_version":
            c.send(b"GET http://web.chaos.test/ HTTP/2.0\r\nHost: w\r\n\r\n")
            r = c.read_response("answer to HTTP/2.0")
            check(res, r.status in (400, 505), "HTTP/2.0 got %r", r)
            c.expect_eof("close after the refusal")
            c.close()
            res.expect(status=r.status, end="bad_request")

    # -- driving

    def run_round(self, indices, label):
        results = []
        it = iter(indices)
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(
                max_workers=self.args.concurrency) as ex:
            futs = set()

            def submit():
                if self.dead:
                    return False
                try:
                    k = next(it)
                except StopIteration:
                    return False
                futs.add(ex.submit(self.run_one, k))
                return True

            for _ in range(self.args.concurrency * 2):
                if not submit():
                    break
            while futs:
                done, _ = concurrent.futures.wait(
                    futs, timeout=OP_TIMEOUT * 10,
                    return_when=concurrent.futures.FIRST_COMPLETED)
                if not done:
                    raise Fail("%s: no connection finished for %gs" % (
                        label, OP_TIMEOUT * 10))
                for f in done:
                    futs.discard(f)
                    res = f.result()
                    results.append(res)
                    if self.args.verbose:
                        print("chaos: connection %d (%s): %s%s" % (
                            res.index, res.kind, " | ".join(res.steps),
                            "" if res.error is None else " -- FAILED"),
                            flush=True)
                    self.kinds[res.kind] += 1
                    if res.error is not None:
                        self.failed_kinds[res.kind] += 1
                        if not self.alive():
                            self.dead = True
                    submit()
        print("chaos: %s: %d connections in %.1fs" % (
            label, len(results), time.monotonic() - started), flush=True)
        return results


def common_prefix(a, b):
    n = min(len(a), len(b))
    k = 0
    while k < n and a[k] == b[k]:
        k += 1
    return k


def log_problems(proxy, results, m):
    """Match the decision log against what the connections did, record
    by record as the file is read (a long run's log is large); returns
    (problems, records matched)."""
    problems = []
    total = m.get("hushgate_requests_total")

    def complete():
        try:
            with open(proxy.log_path, "rb") as f:
                n = sum(chunk.count(b"\n") for chunk in iter(
                    lambda: f.read(1 << 20), b""))
        except FileNotFoundError:
            n = 0
        return n >= (total or 0)
    try:
        helpers.wait_until(complete, "the decision log to hold the %s "
                           "records /metrics counts" % total)
    except AssertionError as e:
        problems.append(str(e))
    owner = {}
    for r in results:
        for k in r.keys:
            owner[k] = r
        r.ei = r.nrec = 0
        for e in r.expects:
            if "client" not in e.fields and r.client is not None:
                e.fields["client"] = OneOf(r.keys) if e.optional else \
                    r.client
    stray = []
    nrec = 0
    by_end = collections.Counter()
    with open(proxy.log_path, "rb") as f:
        for raw in f:
            if not raw.endswith(b"\n") or not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except ValueError:
                problems.append("decision log line is not JSON: %r" % raw)
                continue
            nrec += 1
            by_end[rec.get("end")] += 1
            why = record_problem(rec)
            if why:
                problems.append(why)
            r = owner.get(rec.get("client"))
            if r is None:
                stray.append(rec)
                continue
            if len(r.records) < 8:
                r.records.append(rec)
            r.nrec += 1
            if r.error is None:
                feed(r, rec)
    if stray:
        problems.append("%d record(s) of no connection of the run, e.g. %s" %
                        (len(stray), json.dumps(stray[0])))
    matched = 0
    for r in results:
        if r.error is not None:
            continue
        missing = [e for e in r.expects[r.ei:] if not e.optional]
        if missing:
            r.error = "decision log: missing record(s): %r (have %d " \
                "record(s))" % (missing[:3], r.nrec)
        else:
            matched += r.nrec
    # /metrics counts what the log holds.
    if total != nrec:
        problems.append("/metrics counts %s requests, the log holds %d" % (
            total, nrec))
    for k, v in m.items():
        mm = re.match(r'^hushgate_requests_by_end_total\{end="(\w+)"\}$', k)
        if mm and mm.group(1) != "other" and by_end.get(mm.group(1), 0) != v:
            problems.append("/metrics: %s requests ended %s, the log has %d" %
                            (int(v), mm.group(1), by_end.get(mm.group(1), 0)))
    return problems, matched


def record_problem(rec):
    """What is wrong with a record whoever wrote it, or None."""
    missing = [f for f in helpers.LOG_FIELDS if f not in rec]
    if missing:
        return "record without %s: %s" % (missing, json.dumps(rec))
    if rec.get("end") not in END_CODES:
        return "record with end %r: %s" % (rec.get("end"), json.dumps(rec))
    if not helpers.TS_RE.match(str(rec.get("ts"))):
        return "record with ts %r" % rec.get("ts")
    for f in ("bytes_up", "bytes_down", "duration_ms"):
        if not isinstance(rec.get(f), int) or rec[f] < 0:
            return "record with %s %r: %s" % (f, rec.get(f), json.dumps(rec))
    return None


def feed(r, rec):
    """Match the next record of connection r against its expectations
    (in order; an optional one that does not match is skipped)."""
    while r.ei < len(r.expects):
        e = r.expects[r.ei]
        why = e.why_not(rec)
        if why is None:
            r.ei += 1
            return
        r.ei += 1
        if not e.optional:
            r.error = "decision log: record %d %s: %s (expected %r)" % (
                r.nrec, json.dumps(rec), why, e)
            return
    r.error = "decision log: unexpected record %d: %s" % (r.nrec,
                                                           json.dumps(rec))


def triage(args, suspects):
    """Replay the suspects of a crash on fresh proxies (a child run each,
    with --only) and narrow them down by halves to the connections that
    crash it; returns them, or None when it does not come back."""
    runs = [0]
    last = []

    def crashes(idx):
        # A few at a time first (a race inside one connection comes back
        # best on a quiet proxy; stalls overlap), then all at once (a race
        # between connections).
        return replay(idx, 8) or replay(idx, args.concurrency)

    def replay(idx, concurrency):
        runs[0] += 1
        cmd = [sys.executable, os.path.abspath(__file__), "--seed",
               str(args.seed), "--only", ",".join(map(str, idx)),
               "--no-triage", "--concurrency", str(concurrency), "-v"]
        try:
            cp = subprocess.run(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT,
                                timeout=OP_TIMEOUT * 30)
        except subprocess.TimeoutExpired:
            return False
        out = cp.stdout.decode("utf-8", "replace")
        bad = "hushgate died" in out or "sanitizer report" in out
        if bad:
            last[:] = [l for l in out.splitlines()
                       if l.startswith("chaos: connection ")]
        print("chaos: triage: %d connection(s), %d at a time: %s" % (
            len(idx), concurrency, "crash" if bad else "no crash"),
            flush=True)
        return bad

    deadline = time.monotonic() + OP_TIMEOUT * 12
    cands = list(suspects)
    if not crashes(cands):
        print("chaos: triage: the connections open at the crash do not "
              "crash it again on their own")
        return None
    while len(cands) > 1 and runs[0] < 24 and time.monotonic() < deadline:
        half = len(cands) // 2
        if crashes(cands[:half]):
            cands = cands[:half]
        elif crashes(cands[half:]):
            cands = cands[half:]
        else:
            break
    for l in last:
        print(l.replace("chaos: connection", "chaos: triage: connection"))
    return cands


def sanitizer_report(lines):
    """The sanitizer reports of a stderr, without the shadow byte dump
    and without the proxy's own lines that came in between."""
    out, on = [], False
    for l in lines:
        if helpers.SANITIZER_RE.search(l) or l.startswith("=="):
            on = True
        if not on:
            continue
        if l.startswith("hushgate: "):
            continue
        if l.startswith("Shadow bytes around"):
            on = False
            continue
        out.append(l)
        if l.startswith("SUMMARY:"):
            on = False
    return "\n".join(out[:200])


def sanitizer_default_quarantine():
    """Bytes ASan may keep in quarantine (they show in VmRSS)."""
    m = re.search(r"quarantine_size_mb=(\d+)", os.environ.get(
        "ASAN_OPTIONS", ""))
    return int(m.group(1)) if m else 256


def is_asan(pid):
    try:
        with open("/proc/%d/maps" % pid) as f:
            if "libasan" in f.read():
                return True
    except OSError:
        pass
    try:
        with open(helpers.hushgate_bin(), "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--connections", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=48)
    ap.add_argument("--warmup", type=int, default=None,
                    help="connections of the warm-up round (default: "
                    "10%% of --connections, 50 to 400)")
    ap.add_argument("--only", default=None,
                    help="run only these connection indices (comma "
                    "separated), without the warm-up round")
    ap.add_argument("--keep", default=None,
                    help="work in this directory and keep it")
    ap.add_argument("--rss-slack-mib", type=int, default=None)
    ap.add_argument("--no-triage", action="store_true",
                    help="after a crash, do not replay the connections "
                    "open then to find the one that crashes it")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 32)
    print("chaos: seed %d" % args.seed, flush=True)
    # The proxy runs in its own directory: the binary's path is made
    # absolute here.
    os.environ["HUSHGATE_BIN"] = os.path.abspath(helpers.hushgate_bin())
    started = time.monotonic()
    workdir = args.keep or tempfile.mkdtemp(prefix="hushgate-chaos-")
    os.makedirs(workdir, exist_ok=True)
    ch = Chaos(args)
    failures = []
    results = []
    summary = {}
    problems = []
    try:
        ch.setup(workdir)
        asan = is_asan(ch.pid)
        if args.only:
            only = [int(x) for x in args.only.split(",") if x]
            results = ch.run_round(only, "connections %s" % args.only)
            m = ch.quiesce("after the run")
        else:
            nwarm = args.warmup if args.warmup is not None else \
                max(50, min(400, args.connections // 10))
            results = ch.run_round(range(WARMUP_BASE, WARMUP_BASE + nwarm),
                                   "warm-up")
            m = ch.quiesce("after the warm-up")
            fd0, rss0 = ch.fd_count(), ch.rss_kib()
            results += ch.run_round(range(args.connections), "run")
            m = ch.quiesce("after the run")
            fd1, rss1 = ch.fd_count(), ch.rss_kib()
            slack = args.rss_slack_mib
            if slack is None:
                slack = 64 + (sanitizer_default_quarantine() if asan else 0)
            summary.update(fds=(fd0, fd1), rss=(rss0, rss1), slack=slack)
            if fd1 != fd0:
                problems.append("open descriptors: %d after the warm-up, "
                                "%d after the run" % (fd0, fd1))
            if rss1 - rss0 > slack * 1024:
                problems.append("VmRSS grew from %d to %d KiB (more than "
                                "%d MiB)" % (rss0, rss1, slack))
        if ch.up["canary"].accepted:
            problems.append("%d connection(s) reached the upstream of the "
                            "denied hosts" % ch.up["canary"].accepted)
        p, matched = log_problems(ch.proxy, results, m)
        problems += p
        summary["matched"] = matched
    except (Fail, AssertionError, Eof, OSError) as e:
        problems.append("%s: %s" % (type(e).__name__, e))
    finally:
        died = getattr(ch, "proxy", None) is not None and \
            ch.proxy.proc is not None and not ch.alive()
        if died:
            rc = ch.proxy.proc.returncode
            problems.append("hushgate died (%s)" % (
                "killed by %s" % signal.Signals(-rc).name if rc < 0
                else "exit %d" % rc))
        # (its stderr goes to a file, not into the report)
        problems += [p for p in ch.teardown() if not p.startswith(
            "stderr of ")]
        if getattr(ch, "proxy", None) is not None:
            with open(ch.proxy.dir / "stderr", "w") as f:
                f.write(ch.proxy.stderr_text() + "\n")
            report = sanitizer_report(ch.proxy.lines)
            if report:
                problems.append("sanitizer report:\n" + report)
            if problems:
                problems.append("stderr of hushgate: %s" % (
                    ch.proxy.dir / "stderr"))
    failures = [r for r in results if r.error is not None]
    culprit = None
    if died and ch.death_time is not None:
        # The connections that failed once it was gone are noise; those
        # open when it died, or just done (the proxy may crash on a close
        # a moment later), are the suspects, failed or not.
        t = ch.death_time
        suspects = sorted((r for r in results
                           if r.t0 <= t and r.t1 >= t - 1.0),
                          key=lambda r: max(0.0, t - r.t1))
        print("chaos: hushgate died with %d connection(s) open or just "
              "done" % len(suspects), flush=True)
        # the 64 nearest to the moment it died, in their order
        suspects = sorted(suspects[:64], key=lambda r: r.t0)
        failures = [r for r in suspects if r.error is not None]
        if not args.no_triage and suspects:
            culprit = triage(args, [r.index for r in suspects])
    elapsed = time.monotonic() - started
    checks = sum(r.checks for r in results)
    print("chaos: %d connections driven, %d outcomes checked by the "
          "clients, %d log records matched, %.1fs" % (
              len(results), checks, summary.get("matched", 0), elapsed))
    for kind in sorted(ch.kinds):
        rs = [r for r in results if r.kind == kind]
        print("chaos:   %-6s %6d connections, %7d checks, %7d records, "
              "%d failed" % (kind, len(rs), sum(r.checks for r in rs),
                             sum(getattr(r, "nrec", 0) for r in rs
                                 if r.error is None),
                             sum(r.error is not None for r in rs)))
    if "fds" in summary:
        print("chaos: descriptors %d -> %d, VmRSS %d -> %d KiB "
              "(bound +%d MiB)" % (summary["fds"] + summary["rss"] +
                                   (summary["slack"],)))
    if failures or problems:
        for r in failures[:20]:
            recs = ""
            if r.error.startswith("decision log"):
                recs = "\n    records:\n      " + ("\n      ".join(
                    json.dumps(x)[:600] for x in r.records[:8]) or "none")
            print("chaos: FAILED connection %d (%s, client %s): %s\n"
                  "    steps: %s%s" % (
                      r.index, r.kind, r.client, r.error[:2000],
                      " | ".join(r.steps), recs))
        if len(failures) > 20:
            print("chaos: ... and %d more failed connections" %
                  (len(failures) - 20))
        for p in problems:
            print("chaos: FAILED: %s" % p)
        print("chaos: %d of %d connections failed (%s); seed %d" % (
            len(failures), len(results), ", ".join(
                "%s %d" % kv for kv in sorted(ch.failed_kinds.items()))
            or "-", args.seed))
        if culprit:
            print("chaos: the crash comes back with: %s --seed %d --only %s"
                  % (sys.argv[0], args.seed, ",".join(map(str, culprit))))

        elif failures:
            print("chaos: replay with: %s --seed %d --only %s" % (
                sys.argv[0], args.seed, ",".join(
                    str(r.index) for r in failures[:5])))
        if not args.keep:
            print("chaos: work directory kept: %s" % workdir)
        return 1
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    print("chaos: ok (seed %d)" % args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The HTTP/1.1 conformance tables (tests/data/conformance/) through the
live proxy: every request row is sent by a raw client through hushgate to
a recording origin, every response row is sent by the origin to hushgate
for a raw client; the test checks the status, the exact bytes of the body
that reach the other side (chunked bodies re-framed, trailers passed on)
and, for refused requests, that nothing reached the origin. The unit
tests (tests/unit/test_conform.c) run the same rows against the parsers
alone."""

import re
import socket

import pytest

from helpers import (TIMEOUT, OriginServer, ProxyFactory, read_head,
                     read_to_eof, wait_until)

TABLES = "tests/data/conformance"
HOSTS = ["a.test", "example.com", "hypnotoad.org", "0-home0.netscape.com",
         "home0.netscape.com", "home_0.netscape.com", "foo.bar.com"]
# The rows' targets, sent to the origin's port instead of theirs.
HOST_RE = re.compile(r"(http://|^CONNECT )(a\.test|example\.com|"
                     r"hypnotoad\.org|[-\w.]+\.(?:com|COM))(:\d+)?(?=[/? ])")


def unescape(s):
    """The tables' escapes: \\\\ \\t \\r \\n \\0 \\s \\{ \\xHH, {rep:N:T}."""
    s = re.sub(r"\{rep:(\d+):((?:[^}\\]|\\.)*)\}",
               lambda m: m.group(2) * int(m.group(1)), s)
    out = bytearray()
    i = 0
    simple = {"\\": b"\\", "t": b"\t", "r": b"\r", "n": b"\n", "0": b"\0",
              "s": b" ", "{": b"{", "}": b"}"}
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n == "x":
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            out += simple[n]
            i += 2
            continue
        out += c.encode("utf-8")
        i += 1
    return bytes(out)


def rows(name):
    import os
    from helpers import REPO
    out = []
    with open(os.path.join(REPO, TABLES, name), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            facts = {}
            for kv in cols[6:]:
                k, _, v = kv.partition("=")
                facts.setdefault(k, []).append(v)
            out.append(dict(name=cols[0], section=cols[1], where=cols[2],
                            llhttp=cols[3], input=cols[4], outcome=cols[5],
                            facts=facts))
    return out


REQUESTS = rows("requests.tsv")
RESPONSES = rows("responses.tsv")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """One origin and one proxy for every row of the module."""
    origin = OriginServer()
    conf = {}
    origin.handlers["conf"] = lambda oc, req: _answer_row(conf, oc, req)
    factory = ProxyFactory(tmp_path_factory.mktemp("conformance"))
    p = factory({"http_ports": [origin.port], "connect_ports": [origin.port]},
                hosts=HOSTS)
    try:
        yield p, origin, conf
    finally:
        problems = factory.cleanup()
        origin.close()
    assert not problems, problems


def _answer_row(conf, oc, req):
    """The origin's answer for /conf/NAME: the raw bytes of that response
    row, then the connection closes (close-delimited bodies end)."""
    oc.send(conf[req.path.split("/")[2]])
    return False


def _exchange(port, data):
    """Send data, then read until the proxy closes (it closes after a
    refusal, a close-delimited body, or the client's own close below)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        s.sendall(data)
        return read_to_eof(s)
    except ConnectionResetError:
        return b""
    finally:
        s.close()


def _read_answers(s, n):
    """The statuses of n answers read in turn (each with its
    Content-Length), fewer when the proxy closes first."""
    out = []
    rest = b""
    while len(out) < n:
        buf = rest
        while b"\r\n\r\n" not in buf:
            data = s.recv(65536)
            if not data:
                return out
            buf += data
        head, _, rest = buf.partition(b"\r\n\r\n")
        out.append(int(head.split(b" ", 2)[1]))
        m = re.search(rb"\r\ncontent-length: *(\d+)", head.lower())
        need = int(m.group(1)) if m else 0
        while len(rest) < need:
            data = s.recv(65536)
            if not data:
                return out
            rest += data
        rest = rest[need:]
    return out


def _statuses(raw):
    return [int(m) for m in re.findall(rb"(?:^|\r\n)HTTP/1\.1 (\d{3}) ",
                                       raw)]


def _expected_answers(data):
    """For a pipelined row: how many requests get an answer before the
    connection ends (Connection: close, or HTTP/1.0 without keep-alive)."""
    n = 0
    for m in re.finditer(rb"([A-Z]+) http://\S+ HTTP/1\.(\d)\r\n"
                         rb"((?:[^\r\n]+\r\n)*)\r\n", data):
        n += 1
        hdrs = m.group(3).lower()
        if b"connection: close" in hdrs or (
                m.group(2) == b"0" and b"keep-alive" not in hdrs):
            break
    return n


@pytest.mark.parametrize("row", REQUESTS, ids=[r["name"] for r in REQUESTS])
def test_request_row(live, row):
    p, origin, _ = live
    data = unescape(HOST_RE.sub(lambda m: "%s%s:%d" % (
        m.group(1), m.group(2), origin.port), row["input"]))
    before = len(origin.requests)
    f = row["facts"]
    if row["outcome"] == "incomplete":
        # The proxy waits for the rest; the client gives up: nothing is
        # answered 2xx and no whole request reaches the origin.
        s = socket.create_connection(("127.0.0.1", p.port), timeout=TIMEOUT)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        raw = read_to_eof(s)
        s.close()
        assert not [x for x in _statuses(raw) if x < 300], raw
        assert not [q for q in origin.requests[before:] if q.complete]
        return
    if row["section"] == "pipelining":
        want = _expected_answers(data)
        s = socket.create_connection(("127.0.0.1", p.port), timeout=TIMEOUT)
        try:
            s.sendall(data)
            got = _read_answers(s, want)
        finally:
            s.close()
        if row["outcome"] == "accept":
            assert got == [200] * want, got
        else:
            # the last request is the one refused
            assert got == [200] * (want - 1) + [int(row["outcome"])], got
        return
    # One message; Connection: close after it would change the row, so
    # the client reads one answer and closes.
    s = socket.create_connection(("127.0.0.1", p.port), timeout=TIMEOUT)
    try:
        s.sendall(data)
        head, rest = read_head(s)
    finally:
        s.close()
    assert head is not None, "no answer to %r" % data
    status = int(head.split(b" ", 2)[1])
    if row["outcome"] != "accept":
        assert status == int(row["outcome"]), head
        if f.get("at", [""])[0] in ("skip", "head", "framing", "proxy"):
            # refused before anything went on
            assert not [q for q in origin.requests[before:]], \
                origin.requests[before:]
        return
    assert status == 200, head
    if f.get("body", [""])[0] == "tunnel":
        return		# "Connection established": the rest is the tunnel's
    q = wait_until(lambda: [q for q in origin.requests[before:]
                            if q.complete] or None,
                   "the request at the origin")[0]
    if "method" in f:
        assert q.method == unescape(f["method"][0]).decode("latin-1")
    if "out" in f:
        assert q.raw_body == unescape(f["out"][0]), q.raw_body
    elif "data" in f:
        assert q.body == unescape(f["data"][0]), q.body
    elif f.get("body", [""])[0] == "none":
        assert not q.body


@pytest.mark.parametrize("row", RESPONSES,
                         ids=[r["name"] for r in RESPONSES])
def test_response_row(live, row):
    p, origin, conf = live
    conf[row["name"]] = unescape(row["input"])
    f = row["facts"]
    method = "HEAD" if f.get("to", [""])[0] == "HEAD" else "GET"
    req = ("%s http://a.test:%d/conf/%s HTTP/1.1\r\nHost: a.test\r\n"
           "TE: trailers\r\nConnection: close\r\n\r\n" % (
               method, origin.port, row["name"])).encode()
    raw = _exchange(p.port, req)
    # interim heads first, then the final one
    heads = []
    while True:
        end = raw.find(b"\r\n\r\n")
        assert end >= 0, "no whole answer head: %r" % raw
        head, raw = raw[:end + 2], raw[end + 4:]
        heads.append(head)
        if int(head.split(b" ", 2)[1]) >= 200:
            break
    final = heads[-1]
    status = int(final.split(b" ", 2)[1])
    chunked = b"\r\ntransfer-encoding: chunked" in final.lower()
    if row["outcome"] == "502":
        if f.get("at", [""])[0] in ("body", "chunk", "trailers"):
            # found once the head went on: the client's body is cut
            assert status == 502 or (chunked and not raw.endswith(
                b"0\r\n\r\n")), (final, raw)
        else:
            assert status == 502, final
        return
    if row["outcome"] == "incomplete":
        # cut by the upstream's close: a 502 before the head, a body that
        # never ends after it
        if status != 502:
            assert chunked and not raw.endswith(b"0\r\n\r\n") or \
                not chunked, (final, raw)
        return
    if "status" in f:
        assert status == int(f["status"][0]), final
    else:
        assert status < 600 and status != 502, final
    if "interim" in f:
        assert [int(h.split(b" ", 2)[1]) for h in heads[:-1]] == \
            [int(x) for x in f["interim"][0].split(",")], heads
    if "out" in f:
        assert chunked, final
        assert raw == unescape(f["out"][0]), raw
    elif "data" in f:
        assert (_dechunk(raw) if chunked else raw) == \
            unescape(f["data"][0]), raw


def _dechunk(raw):
    out = b""
    while True:
        line, raw = raw.split(b"\r\n", 1)
        n = int(line, 16)
        if n == 0:
            return out
        out += raw[:n]
        raw = raw[n + 2:]

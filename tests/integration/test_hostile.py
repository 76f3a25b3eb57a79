"""What a hostile client or upstream sends on purpose: pipelines of
requests that the proxy answers itself (each answer used to start the next
request from within the previous one, recursing until the stack ran out),
a tunnel whose upstream closes at once while the client never speaks (a
use-after-free in the SNI check), and an upstream that names its framing
header in Connection.  Each case ends with the proxy alive and, on the
sanitizer build, silent (the proxy fixture fails a test on any report)."""

import socket
import ssl

import pytest

from helpers import (TIMEOUT, HTTPClient, OriginServer, TCPServer, Tunnel,
                     connect_status, read_to_eof)
from test_tls_listener import certs, tls_cfg, tls_client  # noqa: F401

# A request the proxy answers itself (port 1 is not in http_ports: 403),
# keeping the connection: 25 bytes, the shortest that still parses.
DENIED = b"G http://a:1 HTTP/1.1\r\n\r\n"


def _count_answers(sock, want):
    """Read until want answers have come (each ends with its short body);
    returns their status lines."""
    got = b""
    statuses = []
    while len(statuses) < want:
        chunk = sock.recv(1 << 16)
        assert chunk, "closed after %d of %d answers" % (len(statuses),
                                                         want)
        got += chunk
        while True:
            i = got.find(b"HTTP/1.1 ")
            j = got.find(b"HTTP/1.1 ", i + 1) if i >= 0 else -1
            if j < 0:
                break
            statuses.append(got[i:got.index(b"\r\n", i)])
            got = got[j:]
        # the last answer is whole when its body is there
        if len(statuses) == want - 1 and got.endswith(b"\n") and \
                b"\r\n\r\n" in got:
            statuses.append(got[:got.index(b"\r\n")])
    return statuses


@pytest.mark.parametrize("count", [3000])
def test_pipelined_answers_do_not_recurse(proxy, echo_server, count):
    p = proxy({"connect_ports": [echo_server.port]}, hosts=["echo.test"])
    s = socket.create_connection(("127.0.0.1", p.port), timeout=TIMEOUT)
    s.sendall(DENIED * count)
    statuses = _count_answers(s, count)
    assert len(statuses) == count
    assert set(statuses) == {b"HTTP/1.1 403 Forbidden"}, set(statuses)
    s.close()
    # Others are served meanwhile and after.
    with Tunnel(p.port, "echo.test:%d" % echo_server.port) as t:
        t.echo(b"still here")
    recs = p.wait_log(lambda r: r["end"] == "port_denied", "denials",
                      count=count)
    assert len(recs) >= count


def test_pipelined_answers_over_tls_in_one_write(proxy, certs, echo_server):
    p = proxy(tls_cfg(certs, echo_server.port), hosts=["echo.test"])
    s = tls_client(p.port, certs["ca"])
    s.sendall(DENIED * 400)		# one TLS write, 10,000 bytes
    statuses = _count_answers(s, 400)
    assert set(statuses) == {b"HTTP/1.1 403 Forbidden"}
    s.close()
    other = tls_client(p.port, certs["ca"])
    other.sendall(("CONNECT echo.test:%d HTTP/1.1\r\n\r\n" %
                   echo_server.port).encode())
    assert other.recv(64).startswith(b"HTTP/1.1 200")
    other.close()


def test_client_that_does_not_read_its_answers_is_held(proxy):
    # The answers pile up only to a bound: the proxy stops reading the
    # client's requests until they have gone out, then goes on, and
    # answers every one of them.
    p = proxy({})
    s = socket.create_connection(("127.0.0.1", p.port), timeout=TIMEOUT)
    n = 20000
    s.setblocking(False)
    data = DENIED * n
    sent = 0
    while sent < len(data):
        try:
            sent += s.send(data[sent:])
        except BlockingIOError:
            break
    s.setblocking(True)
    s.settimeout(TIMEOUT)
    # Answers for all of it (3.6 MB, far past what the proxy lets pile
    # up before it stops reading) once the client reads.
    rest = data[sent:]
    got = 0
    buf = b""
    while got < n:
        if rest:
            try:
                s.setblocking(False)
                k = s.send(rest)
                rest = rest[k:]
            except BlockingIOError:
                pass
            finally:
                s.setblocking(True)
        chunk = s.recv(1 << 16)
        assert chunk, "closed after %d answers" % got
        buf += chunk
        got += buf.count(b"HTTP/1.1 403")
        buf = buf[buf.rfind(b"HTTP/1.1 403") + 1:] if b"HTTP/1.1 403" in \
            buf else buf[-16:]
    s.close()
    assert got == n


def test_upstream_closes_at_once_client_never_speaks(proxy):
    # tls_sni: log (the default) waits for the client's ClientHello; the
    # upstream's EOF is passed on, then the client closes without a byte.
    closer = TCPServer("close")
    try:
        p = proxy({"connect_ports": [closer.port]}, hosts=["close.test"])
        for _ in range(3):
            t = Tunnel(p.port, "close.test:%d" % closer.port)
            assert t.status == 200
            assert t.read_to_eof() == b""
            t.close()
        recs = p.wait_log(lambda r: r["host"] == "close.test",
                          "the tunnels' records", count=3)
        assert all(r["end"] in ("upstream_closed", "client_closed")
                   for r in recs), recs
        assert connect_status(p.port, "close.test:%d" % closer.port) == 200
    finally:
        closer.close()


@pytest.mark.parametrize("named", ["Content-Length", "content-length, x-a"])
def test_connection_cannot_remove_content_length(proxy, named):
    origin = OriginServer()
    body = b"ok"

    def handler(oc, req):
        oc.send(b"HTTP/1.1 200 OK\r\nConnection: " + named.encode() +
                b"\r\nContent-Length: 2\r\nX-A: 1\r\n\r\n" + body)
        return True
    origin.handlers["cl"] = handler
    try:
        p = proxy({"http_ports": [origin.port]}, hosts=["web.test"])
        with HTTPClient(p.port) as c:
            url = "http://web.test:%d" % origin.port
            c.request("GET", url + "/cl")
            r = c.response()
            assert r.status == 200 and r.body == body, r
            assert r.headers.get("content-length") == "2", r
            # the connection goes on, framed: the next answer is whole
            c.request("GET", url + "/after")
            r2 = c.response()
            assert r2.status == 200
            assert r2.body.startswith(b"hello web.test"), r2
    finally:
        origin.close()

"""What a hostile client sends on purpose: pipelines of requests that the
proxy answers itself (each answer used to start the next request from
within the previous one, recursing until the stack ran out), and a client
that does not read those answers.  Each case ends with the proxy alive
and, on the sanitizer build, silent (the proxy fixture fails a test on any
report).  A tunnel whose upstream closes at once while the client never
speaks (a use-after-free in the SNI check) is a case in cases/connect.yaml;
an upstream that names its framing header in Connection is one in
cases/http-upstream.yaml."""

import socket

import pytest

from helpers import TIMEOUT, Tunnel
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


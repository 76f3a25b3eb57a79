"""The connection state machine under chaos: the regressions that
tests/chaos/chaos.py found, each as a plain test."""

import socket

import pytest

from helpers import TIMEOUT, read_to_eof


def _half_closed(port, request):
    """Send request, shut our write side at once, read to EOF."""
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    with s:
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        return read_to_eof(s)


@pytest.mark.parametrize("request_", [
    # the proxy's own answer: 502, name not found
    b"GET http://nx.test/ HTTP/1.1\r\nHost: nx.test\r\n\r\n",
    # a deny page that closes the connection (a request with a body)
    b"POST http://blocked.test/ HTTP/1.1\r\nHost: blocked.test\r\n"
    b"Content-Length: 3\r\n\r\nabc",
    # a refusal of a CONNECT
    b"CONNECT blocked.test:443 HTTP/1.1\r\nHost: blocked.test\r\n\r\n",
], ids=["502", "deny-page", "connect-403"])
def test_half_closed_client_gets_the_whole_answer(proxy, request_):
    """A client that half-closes right after its request still gets the
    proxy's whole answer, not a connection closed before it is written."""
    p = proxy({"categories": {"b": {"action": "deny",
                                    "hosts": ["blocked.test"]}}},
              hosts=["blocked.test"])
    for _ in range(20):
        got = _half_closed(p.port, request_)
        head, _, body = got.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 "), got[:200]
        length = [l for l in head.split(b"\r\n")
                  if l.lower().startswith(b"content-length:")]
        assert length and len(body) == int(length[0].split(b":")[1]), \
            "answer cut short: %r" % got[:300]


def test_half_closed_client_gets_the_whole_response(proxy, origin):
    """The same for an upstream's response on a connection that closes
    after it (HTTP/1.0): every byte of the body arrives."""
    p = proxy({"http_ports": [origin.port]}, hosts=["web.test"])
    n = 8 << 20     # more than the socket buffers hold
    for _ in range(3):
        got = _half_closed(p.port, b"GET http://web.test:%d/cl/%d "
                           b"HTTP/1.0\r\n\r\n" % (origin.port, n))
        head, _, body = got.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), got[:200]
        assert len(body) == n, "body cut at %d of %d bytes" % (len(body), n)

"""The connection state machine under chaos: tests/chaos/chaos.py in a
bounded mode (a few thousand connections, seeded; `make torture` runs it
long), and the regressions it found, each as a plain test."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import TIMEOUT, read_to_eof

CHAOS = Path(__file__).resolve().parents[1] / "chaos" / "chaos.py"

# Bounded: well under two minutes on two cores under ASan.
CONNECTIONS = int(os.environ.get("HUSHGATE_CHAOS_CONNECTIONS", "2500"))


def test_chaos(hushgate, tmp_path):
    """Thousands of connections that misbehave at random, against
    upstreams that misbehave at random; every outcome and every decision
    log record checked, no sanitizer report, descriptors back to their
    count, exit 0 on SIGTERM.  HUSHGATE_CHAOS_SEED replays a run."""
    args = [sys.executable, str(CHAOS), "--connections", str(CONNECTIONS),
            "--concurrency", "48", "--keep", str(tmp_path / "chaos")]
    seed = os.environ.get("HUSHGATE_CHAOS_SEED")
    if seed:
        args += ["--seed", seed]
    env = dict(os.environ, HUSHGATE_BIN=hushgate)
    cp = subprocess.run(args, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, env=env,
                        timeout=TIMEOUT * 60)
    out = cp.stdout.decode("utf-8", "replace")
    print(out)
    assert cp.returncode == 0, "chaos run failed:\n" + out[-60000:]
    assert "chaos: ok" in out


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

# Bytes and half-closes that arrive before the tunnel is up: the client
# sends CONNECT, its first data and its EOF in one go (a client that
# pipelines its ClientHello, or `printf ... | nc -q`). The data must reach
# the upstream, the EOF must be passed on after it, and the echo must come
# back before the proxy closes.

import socket

from helpers import TIMEOUT


def _recv_all(s):
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            return out
        out += d


def test_data_and_eof_before_tunnel_is_up(proxy, echo_server):
    p = proxy({"connect_ports": [echo_server.port]}, hosts=["echo.test"])
    payload = bytes(range(256)) * 64          # 16 KiB
    s = socket.create_connection(("127.0.0.1", p.port), timeout=TIMEOUT)
    try:
        s.sendall(b"CONNECT echo.test:%d HTTP/1.1\r\n\r\n" % echo_server.port
                  + payload)
        s.shutdown(socket.SHUT_WR)
        got = _recv_all(s)
    finally:
        s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert body == payload
    rec = p.wait_log(lambda r: r["host"] == "echo.test", "tunnel record")[0]
    assert rec["bytes_up"] == len(payload)
    assert rec["bytes_down"] == len(payload)
    assert rec["end"] == "client_closed"


def test_client_gone_before_tunnel_is_up_is_logged(proxy):
    # The upstream never accepts (a listening socket with no accept and a
    # full backlog is not portable); a name that does not resolve is: the
    # client gives up at once, the proxy answers 502 to nobody and records
    # the request.
    p = proxy({"connect_ports": [443]}, hosts=["known.test"])
    s = socket.create_connection(("127.0.0.1", p.port), timeout=TIMEOUT)
    s.sendall(b"CONNECT missing.test:443 HTTP/1.1\r\n\r\n")
    s.shutdown(socket.SHUT_WR)
    got = _recv_all(s)
    s.close()
    assert got.startswith(b"HTTP/1.1 502 ")
    rec = p.wait_log(lambda r: r["host"] == "missing.test", "record")[0]
    assert rec["status"] == 502 and rec["end"] == "resolve_failed"

"""Connection caps: max_connections (all clients) and
max_connections_per_client (one address, the PROXY header's when a load
balancer sends one): beyond them a client gets 503 and a log line, and
others are not affected."""

import socket
import struct

from helpers import Tunnel, open_client, read_head, Response


def _cfg(port, **extra):
    cfg = {"connect_ports": [port]}
    cfg.update(extra)
    return cfg


def test_per_client_cap(proxy, echo_server):
    p = proxy(_cfg(echo_server.port, max_connections_per_client=2),
              hosts=["echo.test"])
    target = "echo.test:%d" % echo_server.port
    a = Tunnel(p.port, target, source="127.0.0.2")
    b = Tunnel(p.port, target, source="127.0.0.2")
    try:
        assert a.status == 200 and b.status == 200
        with Tunnel(p.port, target, source="127.0.0.2") as c:
            assert c.status == 503
            assert b"too many connections from this address" in c.resp.body
        # another address is not held back
        with Tunnel(p.port, target, source="127.0.0.3") as d:
            assert d.status == 200
            d.echo(b"other client")
        a.echo(b"still open")
    finally:
        a.close()
    rec = p.wait_log(lambda r: r["end"] == "overload_client", "record")[0]
    assert rec["client"] == "127.0.0.2" and rec["status"] == 503
    p.wait_stderr(r"127\.0\.0\.2: max_connections_per_client \(2\) reached")
    # a closed tunnel gives its place back
    p.wait_log(lambda r: r["client"] == "127.0.0.2" and
               r["end"] == "client_closed", "the closed tunnel")
    with Tunnel(p.port, target, source="127.0.0.2") as e:
        assert e.status == 200
    b.close()


def test_global_cap(proxy, echo_server):
    p = proxy(_cfg(echo_server.port, max_connections=2),
              hosts=["echo.test"])
    target = "echo.test:%d" % echo_server.port
    with Tunnel(p.port, target) as a, Tunnel(p.port, target,
                                             source="127.0.0.4") as b:
        assert a.status == 200 and b.status == 200
        with Tunnel(p.port, target, source="127.0.0.5") as c:
            assert c.status == 503
    rec = p.wait_log(lambda r: r["end"] == "overload", "record")[0]
    assert rec["client"] == "127.0.0.5"


SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(src):
    body = socket.inet_aton(src) + socket.inet_aton("198.51.100.1") + \
        struct.pack(">HH", 40000, 3128)
    return SIG + b"\x21\x11" + struct.pack(">H", len(body)) + body


def pp_connect(port, src, target):
    s = open_client(port)
    s.sendall(v2(src) + ("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (
        target, target)).encode())
    head, rest = read_head(s)
    return s, Response(head, rest)


def test_per_client_cap_counts_the_proxy_protocol_address(proxy,
                                                         echo_server):
    p = proxy({"listen": [{"address": "127.0.0.1:0",
                           "proxy_protocol": "v2"}],
               "trusted_proxies": ["127.0.0.1/32"],
               "clients": ["127.0.0.0/8", "192.0.2.0/24"],
               "connect_ports": [echo_server.port],
               "max_connections_per_client": 1}, hosts=["echo.test"])
    target = "echo.test:%d" % echo_server.port
    s1, r1 = pp_connect(p.port, "192.0.2.1", target)
    s2, r2 = pp_connect(p.port, "192.0.2.2", target)
    s3, r3 = pp_connect(p.port, "192.0.2.1", target)
    try:
        assert r1.status == 200
        assert r2.status == 200, "another client behind the same balancer"
        assert r3.status == 503
    finally:
        for s in (s1, s2, s3):
            s.close()

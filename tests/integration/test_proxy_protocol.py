"""Listeners behind a load balancer that need more than a case file: a
plain listener beside a proxy_protocol one, and a real HAProxy (TCP mode,
send-proxy-v2) in front.  The raw PROXY headers (v1, v2, malformed,
incomplete, naming no client, from an untrusted sender) are
cases/proxy-protocol.yaml.  v1() and v2() make headers for the other
tests."""

import re
import socket
import struct

from helpers import (HAProxy, Response, open_client, read_head, recv_exact,
                     wait_until)


SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src, dst="198.51.100.1", sport=51234, dport=3128):
    fam = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport,
                                          dport)).encode()


def v2(src, dst="198.51.100.1", sport=51234, dport=3128, local=False):
    if local:
        return SIG + b"\x20\x00\x00\x00"
    if ":" in src:
        body = (socket.inet_pton(socket.AF_INET6, src) +
                socket.inet_pton(socket.AF_INET6, dst))
        fam = 0x21
    else:
        body = (socket.inet_pton(socket.AF_INET, src) +
                socket.inet_pton(socket.AF_INET, dst))
        fam = 0x11
    body += struct.pack(">HH", sport, dport)
    return SIG + bytes([0x21, fam]) + struct.pack(">H", len(body)) + body


def _cfg(port, pp="v2", trusted=("127.0.0.1/32",), extra_listen=()):
    return {
        "listen": [{"address": "127.0.0.1:0", "proxy_protocol": pp}] +
        list(extra_listen),
        "trusted_proxies": list(trusted),
        "clients": ["127.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"],
        "connect_ports": [port],
    }


def connect_via(port, header, target, source=None, split=False):
    """Send header + CONNECT target; return (sock, Response)."""
    sock = open_client(port, source)
    data = header + ("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (
        target, target)).encode()
    if split:
        for i in range(len(data)):
            sock.sendall(data[i:i + 1])
    else:
        sock.sendall(data)
    head, rest = read_head(sock)
    return sock, (Response(head, rest) if head is not None else None)


def test_plain_and_proxy_listeners_side_by_side(proxy, echo_server):
    p = proxy(_cfg(echo_server.port, extra_listen=["127.0.0.1:0"]),
              hosts=["echo.test"])
    def both():
        found = re.findall(r"listening on 127\.0\.0\.1:(\d+)",
                           p.stderr_text())
        return [int(m) for m in found] if len(found) == 2 else None
    ports = wait_until(both, "two listening lines")
    assert ports[0] == p.port
    # the plain listener takes a CONNECT as it is
    sock, r = connect_via(ports[1], b"", "echo.test:%d" % echo_server.port)
    with sock:
        assert r.status == 200
    # and sees a PROXY header as a bad request
    sock = open_client(ports[1])
    with sock:
        sock.sendall(v1("192.0.2.10") + b"\r\n")
        head, rest = read_head(sock)
        assert head is not None and Response(head, rest).status == 400


# -- behind a real HAProxy --------------------------------------------------

def test_behind_haproxy_send_proxy_v2(proxy, echo_server, haproxy_bin,
                                      tmp_path):
    p = proxy(_cfg(echo_server.port), hosts=["echo.test"])
    ha = HAProxy(haproxy_bin, tmp_path, [p.port])
    try:
        for source in ("127.0.0.2", "127.0.0.3"):
            sock, r = connect_via(ha.port, b"",
                                  "echo.test:%d" % echo_server.port,
                                  source=source)
            with sock:
                assert r is not None and r.status == 200
                sock.sendall(b"via haproxy")
                assert recv_exact(sock, 11, r.body) == b"via haproxy"
        recs = p.wait_log(lambda r: r["host"] == "echo.test", "records",
                          count=2)
        assert sorted(r["client"] for r in recs) == ["127.0.0.2",
                                                     "127.0.0.3"]
    finally:
        ha.stop()


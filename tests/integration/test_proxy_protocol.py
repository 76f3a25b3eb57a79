"""Listeners behind a load balancer: listen entries with proxy_protocol
(v1, v2, any) take the PROXY header only from trusted_proxies, and the
client address it carries is the one used for the clients check, the
policy and the decision log.  Raw headers are sent by hand; a real HAProxy
(TCP mode, send-proxy-v2) sits in front in the last tests."""

import re
import socket
import struct

import pytest

from helpers import (HAProxy, Response, open_client, read_head, read_to_eof,
                     recv_exact, wait_until)

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


@pytest.mark.parametrize("make", [v1, v2], ids=["v1", "v2"])
def test_header_names_the_client(proxy, echo_server, make):
    p = proxy(_cfg(echo_server.port, pp="any"), hosts=["echo.test"])
    sock, r = connect_via(p.port, make("192.0.2.10"),
                          "echo.test:%d" % echo_server.port)
    with sock:
        assert r is not None and r.status == 200
        sock.sendall(b"through the balancer")
        assert recv_exact(sock, 20, r.body) == b"through the balancer"
    rec = p.wait_log(lambda r: r["host"] == "echo.test", "record")[0]
    assert rec["client"] == "192.0.2.10"
    assert rec["status"] == 200


@pytest.mark.parametrize("header,split,status,client", [
    (v2("2001:db8::7", "2001:db8::1"), False, 200, "2001:db8::7"),
    (v2("192.0.2.11"), True, 200, "192.0.2.11"),       # a byte at a time
    (v2("203.0.113.5"), False, 403, "203.0.113.5"),    # not in clients
], ids=["ipv6", "trickled", "not-a-client"])
def test_client_address_from_v2(proxy, echo_server, header, split, status,
                                client):
    p = proxy(_cfg(echo_server.port), hosts=["echo.test"])
    sock, r = connect_via(p.port, header, "echo.test:%d" % echo_server.port,
                          split=split)
    with sock:
        assert r.status == status
    rec = p.wait_log(lambda r: r["client"] == client, "record")[0]
    assert rec["status"] == status
    if status == 403:
        assert rec["end"] == "client_denied"


def test_untrusted_sender_is_closed(proxy, echo_server):
    p = proxy(_cfg(echo_server.port), hosts=["echo.test"])
    # 127.0.0.2 is an allowed client but not a trusted balancer
    sock, r = connect_via(p.port, v2("192.0.2.10"),
                          "echo.test:%d" % echo_server.port,
                          source="127.0.0.2")
    with sock:
        assert r is None, "an untrusted sender got an answer"
    rec = p.wait_log(lambda r: r["client"] == "127.0.0.2", "record")[0]
    assert rec["end"] == "proxy_untrusted"
    p.wait_stderr(r"127\.0\.0\.2: PROXY header expected from an untrusted")


@pytest.mark.parametrize("header", [
    b"PROXY TCP4 192.0.2.10 198.51.100.1 51234\r\n",
    b"PROXY TCP4 192.0.2.999 198.51.100.1 1 2\r\n",
    b"PROXY TCP4 192.0.2.10 198.51.100.1 1 2\n",
    SIG + b"\x21\x11\x00\x04abcd",
    SIG + b"\x22\x11\x00\x0c" + b"\x00" * 12,
    b"CONNECT a.test:443 HTTP/1.1\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\n\r\n",
], ids=["v1-fields", "v1-address", "v1-lf", "v2-short", "v2-command",
        "no-header-connect", "no-header-get"])
def test_malformed_or_missing_header_closes(proxy, echo_server, header):
    p = proxy(_cfg(echo_server.port, pp="any"), hosts=["echo.test"])
    sock = open_client(p.port)
    with sock:
        sock.sendall(header)
        assert read_to_eof(sock) == b""
    rec = p.wait_log(lambda r: r["end"] == "proxy_protocol_error",
                     "record")[0]
    assert rec["client"] == "127.0.0.1"
    # the proxy goes on serving
    sock, r = connect_via(p.port, v1("192.0.2.12"),
                          "echo.test:%d" % echo_server.port)
    with sock:
        assert r.status == 200


def test_v1_only_listener_refuses_v2(proxy, echo_server):
    p = proxy(_cfg(echo_server.port, pp="v1"), hosts=["echo.test"])
    sock = open_client(p.port)
    with sock:
        sock.sendall(v2("192.0.2.10"))
        assert read_to_eof(sock) == b""


def test_local_command_health_check(proxy, echo_server):
    p = proxy(_cfg(echo_server.port), hosts=["echo.test"])
    sock = open_client(p.port)
    with sock:
        sock.sendall(v2("", local=True) +
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head, rest = read_head(sock)
        assert head is not None
        r = Response(head, rest)
        assert r.status == 200


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


# -- headers that name no client --------------------------------------------

NO_CLIENT = [
    v2("", local=True),                     # LOCAL
    SIG + b"\x21\x00\x00\x00",              # PROXY, family UNSPEC
    b"PROXY UNKNOWN\r\n",
    b"PROXY UNKNOWN 192.0.2.10 198.51.100.1 51234 3128\r\n",
]
NO_CLIENT_IDS = ["v2-local", "v2-unspec", "v1-unknown", "v1-unknown-fields"]


@pytest.mark.parametrize("header", NO_CLIENT, ids=NO_CLIENT_IDS)
def test_no_client_header_gets_no_tunnel(proxy, echo_server, header):
    # The balancer speaking for itself (its health checks) is no client:
    # a CONNECT or a proxied request on such a connection is refused, not
    # served as the balancer's address past clients and the per-client
    # bound.
    cfg = _cfg(echo_server.port, pp="any")
    cfg["max_connections_per_client"] = 1
    p = proxy(cfg, hosts=["echo.test"])
    sock, r = connect_via(p.port, header, "echo.test:%d" % echo_server.port)
    with sock:
        assert r is not None and r.status == 403, r
        assert b"/healthz" in read_to_eof(sock, r.body)
    sock = open_client(p.port)
    with sock:
        sock.sendall(header + b"GET http://echo.test:%d/ HTTP/1.1\r\n"
                     b"Host: echo.test\r\n\r\n" % echo_server.port)
        head, rest = read_head(sock)
        assert head is not None and Response(head, rest).status == 403
    recs = p.wait_log(lambda r: r["status"] == 403, "records", count=2)
    for rec in recs:
        assert rec["client"] == "127.0.0.1"
        assert rec["end"] == "client_denied"
    p.wait_stderr(r"127\.0\.0\.1: request after a PROXY LOCAL or UNKNOWN "
                  r"header refused")


@pytest.mark.parametrize("header", NO_CLIENT, ids=NO_CLIENT_IDS)
def test_no_client_header_serves_healthz(proxy, echo_server, header):
    # Health checks come from the balancer: not held to clients.
    cfg = _cfg(echo_server.port, pp="any")
    cfg["clients"] = ["192.0.2.0/24"]
    p = proxy(cfg, hosts=["echo.test"])
    sock = open_client(p.port)
    with sock:
        sock.sendall(header + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head, rest = read_head(sock)
        assert head is not None
        r = Response(head, rest)
        assert r.status == 200
        assert recv_exact(sock, 3, rest) == b"ok\n"


# -- IPv4-mapped sources ----------------------------------------------------

@pytest.mark.parametrize("make", [v1, v2], ids=["v1", "v2"])
def test_ipv4_mapped_source_is_ipv4(proxy, echo_server, make):
    cfg = _cfg(echo_server.port, pp="any")
    cfg["clients"] = ["127.0.0.0/8"]
    cfg["max_connections_per_client"] = 1
    p = proxy(cfg, hosts=["echo.test"])
    sock, r = connect_via(p.port, make("::ffff:127.0.0.9", "::1"),
                          "echo.test:%d" % echo_server.port)
    with sock:
        assert r is not None and r.status == 200, r
        sock.sendall(b"mapped")
        assert recv_exact(sock, 6, r.body) == b"mapped"
        # the same client as 127.0.0.9 written as IPv4: one connection
        # each, counted together
        sock2, r2 = connect_via(p.port, make("127.0.0.9"),
                                "echo.test:%d" % echo_server.port)
        with sock2:
            assert r2 is not None and r2.status == 503, r2
    recs = p.wait_log(lambda r: r["client"] == "127.0.0.9", "records",
                      count=2)
    assert sorted(r["end"] for r in recs) == ["client_closed",
                                              "overload_client"]
    assert not [r for r in p.log_lines() if r["client"] != "127.0.0.9"]


# -- a header that does not come whole ---------------------------------------

INCOMPLETE = [
    (b"", "nothing"),
    (SIG[:5], "v2-signature"),
    (SIG + b"\x21\x11\x00\x0c" + b"\xc0\x00\x02\x0a", "v2-body"),
    (b"PROXY TCP4 192.0.2.10 198.51.100.1", "v1-line"),
]


@pytest.mark.parametrize("header,eof", [(h, False) for h, _ in INCOMPLETE] +
                         [(h, True) for h, _ in INCOMPLETE if h],
                         ids=["%s-timeout" % i for _, i in INCOMPLETE] +
                         ["%s-eof" % i for h, i in INCOMPLETE if h])
def test_incomplete_header_closes_without_answer(proxy, echo_server, header,
                                                 eof):
    # Not complete when timeouts.request is over, or when the sender
    # closes: closed without an answer, like a malformed header.
    cfg = _cfg(echo_server.port, pp="any")
    cfg["timeouts"] = {"request": "300ms"}
    p = proxy(cfg, hosts=["echo.test"])
    sock = open_client(p.port)
    with sock:
        sock.sendall(header)
        if eof:
            sock.shutdown(socket.SHUT_WR)
        assert read_to_eof(sock) == b"", "an incomplete header got an answer"
    rec = p.wait_log(lambda r: r["end"] == "proxy_protocol_error",
                     "record")[0]
    assert rec["client"] == "127.0.0.1"
    assert rec["status"] in (0, None)
    # the proxy goes on serving
    sock, r = connect_via(p.port, v1("192.0.2.12"),
                          "echo.test:%d" % echo_server.port)
    with sock:
        assert r.status == 200

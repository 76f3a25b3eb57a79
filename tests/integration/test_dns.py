# Name resolution: a resolver that never answers gives 504 resolve_timeout;
# a server-list entry may carry a port. The "resolver" is a UDP socket on
# 127.0.0.1 that reads queries and never replies, so nothing leaves the
# loopback interface.

import signal
import socket
import struct

from helpers import (TIMEOUT, Tunnel, dump_yaml, open_client,
                     sanitizer_lines)


def _silent_resolver():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def test_resolver_silence_is_504_resolve_timeout(proxy, echo_server):
    resolver = _silent_resolver()
    try:
        rport = resolver.getsockname()[1]
        p = proxy({"connect_ports": [echo_server.port],
                   "timeouts": {"connect": "700ms"}},
                  hosts=["known.test"], start=False)
        servers = ["127.0.0.1:%d" % rport]
        assert all(s.startswith("127.0.0.1:") for s in servers)
        p.config["dns"]["servers"] = servers
        dump_yaml(p.config, p.config_path)
        p.start()
        with Tunnel(p.port, "silent-name.test:%d" % echo_server.port) as t:
            assert t.status == 504
        rec = p.wait_log(lambda r: r["host"] == "silent-name.test",
                         "resolve timeout record")[0]
        assert rec["end"] == "resolve_timeout"
        assert rec["status"] == 504
        assert rec["upstream"] is None
        # The query did reach the silent resolver (on loopback).
        resolver.settimeout(5)
        data, addr = resolver.recvfrom(512)
        assert addr[0] == "127.0.0.1" and len(data) > 12
        # A name from the hosts file still resolves without the server.
        with Tunnel(p.port, "known.test:%d" % echo_server.port) as t:
            assert t.status == 200
    finally:
        resolver.close()


def _query_names(resolver, want):
    """Read queries from the silent resolver until every name of want
    was asked for (the lookups are in flight)."""
    seen = set()
    resolver.settimeout(TIMEOUT)
    while not want <= seen:
        data, _ = resolver.recvfrom(512)
        labels, i = [], 12
        while i < len(data) and data[i] != 0:
            n = data[i]
            labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        seen.add(".".join(labels).lower())


def _silent_proxy(proxy, resolver, config):
    p = proxy(dict({"workers": 1, "connect_ports": [443],
                    "timeouts": {"connect": "120s", "drain": "120s"}},
                   **config), start=False)
    p.config["dns"]["servers"] = ["127.0.0.1:%d" %
                                  resolver.getsockname()[1]]
    dump_yaml(p.config, p.config_path)
    return p.start()


def _connect_only(port, name):
    """Send CONNECT name:443 and return the socket without waiting for
    an answer (there is none while the name resolves)."""
    s = open_client(port)
    s.sendall(("CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" %
               (name, name)).encode())
    return s


def _reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    sock.close()


def test_client_reset_during_lookup_while_draining(proxy):
    """The last connection of a draining worker goes while its lookup is
    in flight: the worker ends, and the connection is freed all the same
    (the sanitizer build's leak check at exit)."""
    resolver = _silent_resolver()
    try:
        p = _silent_proxy(proxy, resolver, {})
        s = _connect_only(p.port, "hang.test")
        _query_names(resolver, {"hang.test"})
        start = p.nlines()
        p.expect_exit = True
        p.signal(signal.SIGTERM)
        p.wait_stderr(r"^hushgate: shutting down: 1 connections open",
                      start=start)
        _reset(s)
        assert p.wait_exit() == 0
        assert not sanitizer_lines(p.lines), p.stderr_text()
        rec = p.wait_log(lambda r: r["host"] == "hang.test", "record")[0]
        assert rec["end"] == "client_closed"
    finally:
        resolver.close()


def test_lookups_cut_by_second_signal(proxy):
    """A second SIGTERM closes every connection of a worker at once, many
    of them waiting for a lookup: each is freed before the worker ends
    (the sanitizer build's leak check at exit)."""
    names = ["hang%d.test" % i for i in range(24)]
    resolver = _silent_resolver()
    socks = []
    try:
        p = _silent_proxy(proxy, resolver, {})
        socks = [_connect_only(p.port, n) for n in names]
        _query_names(resolver, set(names))
        start = p.nlines()
        p.expect_exit = True
        p.signal(signal.SIGTERM)
        p.wait_stderr(r"^hushgate: shutting down: %d connections open" %
                      len(names), start=start)
        p.signal(signal.SIGTERM)
        assert p.wait_exit() == 0
        assert not sanitizer_lines(p.lines), p.stderr_text()
        recs = p.wait_log(lambda r: r["host"] in names, "records",
                          count=len(names))
        assert {r["end"] for r in recs} == {"shutdown"}
    finally:
        for s in socks:
            s.close()
        resolver.close()

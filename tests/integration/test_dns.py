# Name resolution: a resolver that never answers gives 504 resolve_timeout;
# a server-list entry may carry a port. The "resolver" is a UDP socket on
# 127.0.0.1 that reads queries and never replies, so nothing leaves the
# loopback interface.

import socket

from helpers import Tunnel, dump_yaml


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

"""The destination guard (destinations: {guard, allow}): after name
resolution, a gateway refuses to connect to loopback, private, link-local
and other non-public addresses unless destinations.allow lists them.

Every destination here is a loopback address (the class the guard refuses
like the others), so no test sends a packet outside 127.0.0.0/8."""

import pytest

from helpers import HTTPClient, Tunnel


def _cfg(port, **dest):
    cfg = {"connect_ports": [port], "http_ports": [port]}
    if dest:
        cfg["destinations"] = dest
    return cfg


def test_guard_off_by_default(proxy, echo_server):
    p = proxy(_cfg(echo_server.port), hosts=["inner.test"])
    with Tunnel(p.port, "inner.test:%d" % echo_server.port) as t:
        assert t.status == 200
        t.echo(b"reached")


def test_guard_refuses_a_name_that_resolves_to_loopback(proxy, echo_server):
    p = proxy(_cfg(echo_server.port, guard="on"), hosts=["inner.test"])
    with Tunnel(p.port, "inner.test:%d" % echo_server.port) as t:
        assert t.status == 403
        body = t.resp.body.decode()
        assert "destination guard" in body
        assert "127.0.0.1 (loopback)" in body
    rec = p.wait_log(lambda r: r["host"] == "inner.test", "guard record")[0]
    assert rec["status"] == 403
    assert rec["end"] == "destination_guard"
    assert rec["upstream"] is None
    assert rec["bytes_up"] == 0 and rec["bytes_down"] == 0
    # the proxy said why on its diagnostics too
    p.wait_stderr(r"inner\.test:%d resolves to 127\.0\.0\.1 \(loopback\)"
                  % echo_server.port)


def test_guard_refuses_an_ip_literal(proxy, echo_server):
    p = proxy(_cfg(echo_server.port, guard="on"))
    with Tunnel(p.port, "127.0.0.1:%d" % echo_server.port) as t:
        assert t.status == 403
        assert b"127.0.0.1 (loopback)" in t.resp.body


def test_allow_list_lets_a_prefix_through(proxy, echo_server):
    p = proxy(_cfg(echo_server.port, guard="on", allow=["127.0.0.1/32"]),
              hosts={"inner.test": "127.0.0.1", "other.test": "127.0.0.2"})
    with Tunnel(p.port, "inner.test:%d" % echo_server.port) as t:
        assert t.status == 200
        t.echo(b"allowed by prefix")
    # another loopback address, outside the prefix, stays refused
    with Tunnel(p.port, "other.test:%d" % echo_server.port) as t:
        assert t.status == 403
        assert b"127.0.0.2 (loopback)" in t.resp.body


def test_guard_applies_to_plain_http(proxy, origin):
    p = proxy(_cfg(origin.port, guard="on"), hosts=["web.test"])
    with HTTPClient(p.port) as c:
        c.request("GET", "http://web.test:%d/guarded" % origin.port)
        r = c.response()
        assert r.status == 403
        assert b"destination guard" in r.body
    # the origin never saw a connection
    assert origin.accepted == 0
    assert origin.find(lambda r: r.path == "/guarded") == []


def test_reload_turns_the_guard_on(proxy, echo_server):
    p = proxy(_cfg(echo_server.port), hosts=["inner.test"])
    with Tunnel(p.port, "inner.test:%d" % echo_server.port) as open_tunnel:
        assert open_tunnel.status == 200
        p.rewrite_config(_cfg(echo_server.port, guard="on"))
        ok, _, _ = p.reload()
        assert ok
        # new tunnels are refused; the open one keeps relaying
        with Tunnel(p.port, "inner.test:%d" % echo_server.port) as t:
            assert t.status == 403
        open_tunnel.echo(b"still open")


@pytest.mark.parametrize("guard", ["off", "false", "no"])
def test_guard_spellings_of_off(proxy, echo_server, guard):
    p = proxy(_cfg(echo_server.port, guard=guard), hosts=["inner.test"])
    with Tunnel(p.port, "inner.test:%d" % echo_server.port) as t:
        assert t.status == 200


def test_allow_destinations_lets_loopback_through(proxy, echo_server):
    """The issue's spelling: a top-level allow_destinations list."""
    p = proxy(dict(_cfg(echo_server.port, guard="on"),
                   allow_destinations=["127.0.0.0/8"]), hosts=["inner.test"])
    for target in ("127.0.0.1:%d" % echo_server.port,
                   "inner.test:%d" % echo_server.port):
        with Tunnel(p.port, target) as t:
            assert t.status == 200
            t.echo(b"allowed")


@pytest.mark.parametrize("target", [
    "[::127.0.0.1]", "[::ffff:0:7f00:1]", "[64:ff9b::127.0.0.1]"])
def test_guard_refuses_ipv6_spellings_of_loopback(proxy, echo_server,
                                                  target):
    # The target is 127.0.0.1 to the rules and the guard alike. Only an
    # allow rule for 127.0.0.0/8 lets it reach the guard: were it still an
    # IPv6 address, the default (deny) would refuse it, never connecting.
    cfg = _cfg(echo_server.port, guard="on")
    cfg.update({"default": "deny",
                "categories": {"lo": {"action": "allow",
                                      "hosts": ["127.0.0.0/8"]}}})
    p = proxy(cfg)
    with Tunnel(p.port, "%s:%d" % (target, echo_server.port)) as t:
        assert t.status == 403
        assert b"127.0.0.1 (loopback)" in t.resp.body
    rec = p.wait_log(lambda r: r["port"] == echo_server.port, "guard")[0]
    assert rec["end"] == "destination_guard"
    assert rec["host"] == "127.0.0.1" and rec["category"] == "lo"


@pytest.mark.parametrize("target", [
    "[64:ff9b:1::7f00:1]", "[2002:7f00:1::1]",
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]"])
def test_guard_refuses_relay_forms_carrying_loopback(proxy, echo_server,
                                                     target):
    # The NAT64 local-use prefix, 6to4 and Teredo name a network or a
    # relay: the target stays IPv6 (rules see it as written), and the
    # guard judges it by the IPv4 addresses it carries, refusing it
    # before any connection is tried.
    p = proxy(_cfg(echo_server.port, guard="on"))
    with Tunnel(p.port, "%s:%d" % (target, echo_server.port)) as t:
        assert t.status == 403
        assert b"(loopback)" in t.resp.body, t.resp.body
    rec = p.wait_log(lambda r: r["port"] == echo_server.port, "guard")[0]
    assert rec["end"] == "destination_guard"
    assert ":" in rec["host"], rec


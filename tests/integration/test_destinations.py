"""The destination guard (destinations: {guard, allow}) turned on by a
reload while a tunnel is open.  The other checks of the guard are
cases/destinations.yaml.

Every destination here is a loopback address (the class the guard refuses
like the others), so no test sends a packet outside 127.0.0.0/8."""

from helpers import Tunnel


def _cfg(port, **dest):
    cfg = {"connect_ports": [port], "http_ports": [port]}
    if dest:
        cfg["destinations"] = dest
    return cfg


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

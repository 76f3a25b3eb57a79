"""Connection caps: max_connections_per_client, beyond which a client
gets 503 and a log line while others are not affected, and a closed
tunnel gives its place back.  The global cap and the per-client cap
behind a load balancer are cases/caps.yaml."""

from helpers import Tunnel


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

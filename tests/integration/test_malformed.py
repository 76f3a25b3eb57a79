"""The connection limit: past max_connections a new client is answered 503
while the tunnels it counts keep relaying, and a slot is free again once
one of them closed.  The malformed request heads are the case table
cases/malformed-heads.yaml; the proxy's own answers (health check,
origin-form paths, head size limit, request head timeout) are in
cases/proxy-answers.yaml."""

from helpers import Tunnel, connect_status, wait_until


def test_max_connections_503(proxy, echo_server):
    p = proxy({"connect_ports": [echo_server.port], "workers": 1,
               "max_connections": 2}, hosts=["echo.test"])
    target = "echo.test:%d" % echo_server.port
    t1 = Tunnel(p.port, target)
    t2 = Tunnel(p.port, target)
    try:
        assert t1.status == 200 and t2.status == 200
        t1.echo(b"one")
        t2.echo(b"two")
        with Tunnel(p.port, target) as t3:
            assert t3.status == 503
        rec = p.wait_log(lambda r: r["end"] == "overload", "overload")[0]
        assert rec["status"] == 503
        t1.echo(b"one still works")
    finally:
        t1.close()
    p.wait_log(lambda r: r["end"] == "client_closed", "t1 closed")
    # A slot is free again once the proxy has closed t1.
    wait_until(lambda: connect_status(p.port, target) == 200,
               "a new tunnel to be accepted after one closed")
    t2.echo(b"two still works")
    t2.close()

# Plain HTTP and the proxy's life cycle: a reload applies to the next
# request of a kept-open client connection, and SIGTERM ends kept-open
# connections after the request in flight instead of serving new ones.

import http.client
import signal

from helpers import TIMEOUT


def _cfg(port):
    return {"http_ports": [port],
            "categories": {"later": {"action": "allow",
                                     "hosts": ["other.test"]}}}


def _get(conn, port, host, path="/x"):
    conn.request("GET", "http://%s:%d%s" % (host, port, path))
    resp = conn.getresponse()
    body = resp.read()
    return resp, body


def test_reload_applies_to_next_request_on_kept_connection(proxy,
                                                           http_server):
    p = proxy(_cfg(http_server.port), hosts=["web.test", "other.test"])
    conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=TIMEOUT)
    try:
        resp, body = _get(conn, http_server.port, "web.test")
        assert resp.status == 200 and body.startswith(b"hello web.test")
        cfg = _cfg(http_server.port)
        cfg["categories"]["later"] = {"action": "deny",
                                      "hosts": ["web.test"]}
        p.rewrite_config(cfg)
        ok, gen, _ = p.reload()
        assert ok and gen == 2
        # Same TCP connection, next request: the new rule decides.
        resp, body = _get(conn, http_server.port, "web.test")
        assert resp.status == 403
        assert resp.getheader("X-Hushgate-Category") == "later"
        assert b"later" in body
        # The connection went on after the deny.
        resp, body = _get(conn, http_server.port, "other.test")
        assert resp.status == 200
    finally:
        conn.close()
    recs = p.wait_log(lambda r: r.get("path") == "/x", "three records",
                      count=3)
    assert [r["action"] for r in recs] == ["allow", "deny", "allow"]


def test_sigterm_closes_kept_connection_after_request(proxy, http_server):
    p = proxy(_cfg(http_server.port), hosts=["web.test"])
    conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=TIMEOUT)
    try:
        resp, body = _get(conn, http_server.port, "web.test")
        assert resp.status == 200
        assert resp.getheader("Connection") == "keep-alive"
        start = p.nlines()
        p.signal(signal.SIGTERM)
        p.wait_stderr(r"shutting down", start=start)
        # By the time "shutting down" is printed every worker has stopped
        # accepting and closed its idle kept connections: the next request
        # on this one fails instead of being served.
        failed = False
        try:
            _get(conn, http_server.port, "web.test")
        except (http.client.HTTPException, OSError):
            failed = True
        assert failed
    finally:
        conn.close()
    assert p.terminate() == 0

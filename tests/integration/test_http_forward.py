"""Plain HTTP forwarding (absolute-form requests): real clients (curl,
urllib, http.client, wget, raw sockets) through the proxy to a scripted
origin server that records exactly what it received."""

import http.client
import shutil
import socket
import subprocess
import threading
import urllib.request

import pytest
import yaml

from helpers import (DATA, REPO, TIMEOUT, HTTPClient, HTTPResponse,
                     OriginServer, Tunnel, clean_env, closed_port,
                     has_ipv6_loopback, hushgate_bin, node_line,
                     pattern_bytes, raw_request, rule_matches, run_hushgate,
                     sha256, wait_until)

MIB = 1024 * 1024
HOSTS = ["web.test", "other.test", "blocked.test", "audited.test"]
HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "te",
              "trailer", "upgrade", "proxy-authorization",
              "transfer-encoding"}


def _cfg(origin, **extra):
    cfg = {
        "http_ports": [origin.port],
        "categories": {
            "blocked": {"action": "deny", "hosts": ["blocked.test"]},
            "audited": {"action": "audit", "hosts": ["audited.test"]},
        },
    }
    cfg.update(extra)
    return cfg


def _start(proxy, origin, **extra):
    return proxy(_cfg(origin, **extra), hosts=HOSTS)


def _url(origin, path, host="web.test"):
    return "http://%s:%d%s" % (host, origin.port, path)


def _run(cmd, env=None, timeout=TIMEOUT * 3):
    cp = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        timeout=timeout, env=env or clean_env())
    return cp


def _curl(curl, p, *args):
    cp = _run([curl, "-sS", "--max-time", str(int(TIMEOUT * 3)),
               "-x", "http://127.0.0.1:%d" % p.port] + list(args))
    assert cp.returncode == 0, "curl %s failed: %s" % (
        " ".join(args), cp.stderr.decode(errors="replace"))
    return cp.stdout


def _rec(p, path, what=None, count=1):
    """The decision record(s) of the request for path (path without the
    query is enough to find it)."""
    return p.wait_log(
        lambda r: (r.get("path") or "").split("?")[0] == path,
        what or "record for %s" % path, count=count)[-1]


def _assert_allowed_record(rec, origin, method, path, status=200,
                           host="web.test"):
    assert rec["method"] == method, rec
    assert rec["host"] == host, rec
    assert rec["port"] == origin.port, rec
    assert rec["path"] == path, rec
    assert rec["action"] == "allow", rec
    assert rec["status"] == status, rec
    assert rec["upstream"] == "127.0.0.1:%d" % origin.port, rec


# --- real clients ------------------------------------------------------------

def test_curl_get(proxy, origin, curl):
    p = _start(proxy, origin)
    out = _curl(curl, p, "-w", "\n%{http_code}",
                _url(origin, "/hello/curl?x=1&y=two"))
    body, _, code = out.decode().rpartition("\n")
    assert code == "200"
    assert body == "hello web.test:%d /hello/curl?x=1&y=two\n" % origin.port
    req = origin.by_path("/hello/curl")[0]
    assert req.request_line == "GET /hello/curl?x=1&y=two HTTP/1.1"
    assert req.header("host") == "web.test:%d" % origin.port
    rec = _rec(p, "/hello/curl")
    _assert_allowed_record(rec, origin, "GET", "/hello/curl?x=1&y=two")
    assert rec["bytes_up"] == 0
    assert rec["bytes_down"] == len(body.encode())
    assert rec["end"] in ("done", "client_closed"), rec


def test_curl_post_content_length(proxy, origin, curl, tmp_path):
    p = _start(proxy, origin)
    data = pattern_bytes(300000, seed=1)
    src = tmp_path / "post.bin"
    src.write_bytes(data)
    out_file = tmp_path / "out.bin"
    _curl(curl, p, "-H", "Expect:", "-H",
          "Content-Type: application/octet-stream", "--data-binary",
          "@%s" % src, "-o", str(out_file), _url(origin, "/echo"))
    assert out_file.read_bytes() == data
    req = origin.by_path("/echo")[0]
    assert req.method == "POST"
    assert req.header("content-length") == str(len(data))
    assert not req.chunked
    assert req.body == data
    rec = _rec(p, "/echo")
    _assert_allowed_record(rec, origin, "POST", "/echo")
    assert rec["bytes_up"] == len(data)
    assert rec["bytes_down"] == len(data)


def test_urllib_proxy_handler(proxy, origin):
    p = _start(proxy, origin)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(
        {"http": "http://127.0.0.1:%d" % p.port}))
    with opener.open(_url(origin, "/hello/urllib?q=1"),
                     timeout=TIMEOUT) as r:
        assert r.status == 200
        assert r.read() == ("hello web.test:%d /hello/urllib?q=1\n"
                            % origin.port).encode()
    data = b"form=1&x=" + b"z" * 5000
    with opener.open(_url(origin, "/echo"), data=data,
                     timeout=TIMEOUT) as r:
        assert r.status == 200
        assert r.read() == data
    assert origin.by_path("/echo")[0].body == data
    assert origin.by_path("/hello/urllib")[0].request_line == \
        "GET /hello/urllib?q=1 HTTP/1.1"
    _rec(p, "/echo")


def test_wget_http_proxy_env(proxy, origin, wget, tmp_path):
    p = _start(proxy, origin)
    env = clean_env()
    env["http_proxy"] = "http://127.0.0.1:%d/" % p.port
    out_file = tmp_path / "wget.bin"
    cp = _run([wget, "-q", "--tries=1", "--timeout=%d" % int(TIMEOUT * 3),
               "-O", str(out_file), _url(origin, "/cl/250000")], env=env)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    assert out_file.read_bytes() == pattern_bytes(250000)
    req = origin.by_path("/cl/250000")[0]
    assert "wget" in (req.header("user-agent") or "").lower()
    assert req.request_line == "GET /cl/250000 HTTP/1.1"
    rec = _rec(p, "/cl/250000")
    _assert_allowed_record(rec, origin, "GET", "/cl/250000")
    assert rec["bytes_down"] == 250000


def test_http_client_keepalive_allowed_denied_allowed(proxy, origin):
    """Three requests on one client connection: two hosts allowed, one
    denied in between; the connection stays open throughout."""
    p = _start(proxy, origin)
    conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=TIMEOUT)
    try:
        conn.request("GET", _url(origin, "/ka/one?n=1"))
        r1 = conn.getresponse()
        b1 = r1.read()
        local = conn.sock.getsockname()
        assert r1.status == 200
        assert b1 == ("hello web.test:%d /ka/one?n=1\n"
                      % origin.port).encode()

        conn.request("GET", _url(origin, "/ka/two", host="blocked.test"))
        r2 = conn.getresponse()
        b2 = r2.read().decode("utf-8", "replace")
        assert r2.status == 403
        assert r2.getheader("X-Hushgate-Category") == "blocked"
        assert r2.getheader("Content-Type", "").startswith("text/html")
        assert "blocked.test" in b2 and "blocked" in b2
        assert not r2.will_close, "denied request without a body closed " \
            "the connection"
        assert conn.sock is not None and conn.sock.getsockname() == local

        conn.request("GET", _url(origin, "/ka/three", host="other.test"))
        r3 = conn.getresponse()
        b3 = r3.read()
        assert r3.status == 200
        assert b3 == ("hello other.test:%d /ka/three\n"
                      % origin.port).encode()
        assert conn.sock is not None and conn.sock.getsockname() == local, \
            "the third request went over a new client connection"
    finally:
        conn.close()
    assert not origin.find(lambda r: r.path == "/ka/two"), \
        "a denied request reached the origin"
    recs = p.wait_log(lambda r: (r.get("path") or "").startswith("/ka/"),
                      "three keep-alive records", count=3)
    assert [(r["method"], r["host"], r["port"], r["path"], r["status"],
             r["action"]) for r in recs] == [
        ("GET", "web.test", origin.port, "/ka/one?n=1", 200, "allow"),
        ("GET", "blocked.test", origin.port, "/ka/two", 403, "deny"),
        ("GET", "other.test", origin.port, "/ka/three", 200, "allow")]
    assert recs[0]["end"] == "done", recs[0]
    assert recs[1]["category"] == "blocked"
    line = node_line(p.config_path, "categories", "blocked", "hosts",
                     "blocked.test")
    assert rule_matches(recs[1]["rule"], p.config_path, line), recs[1]
    assert recs[1]["rule"] in b2, "403 body does not name the rule"
    assert recs[1]["upstream"] is None


def test_denied_request_with_body_closes(proxy, origin):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("POST", _url(origin, "/echo", host="blocked.test"),
                  body=b"x" * 1000)
        r = c.response()
        assert r.status == 403
        assert r.headers.get("x-hushgate-category") == "blocked"
        assert "close" in r.headers.get("connection", "").lower()
        assert c.at_eof()
    assert not origin.find(lambda r: True)
    rec = p.wait_log(lambda r: r["host"] == "blocked.test", "denied POST")[0]
    assert rec["method"] == "POST" and rec["status"] == 403


def test_audit_category_allowed_and_logged(proxy, origin):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/audited", host="audited.test"))
        r = c.response()
    assert r.status == 200
    assert r.body == ("hello audited.test:%d /audited\n"
                      % origin.port).encode()
    rec = _rec(p, "/audited")
    assert rec["action"] == "audit" and rec["category"] == "audited"
    assert rec["status"] == 200


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS",
                                    "POST"])
def test_other_methods(proxy, origin, method):
    p = _start(proxy, origin)
    body = ("%s body\n" % method).encode()
    with HTTPClient(p.port) as c:
        c.request(method, _url(origin, "/echo?m=" + method), body=body)
        r = c.response(method)
    assert r.status == 200
    assert r.body == body
    req = origin.by_path("/echo")[0]
    assert req.request_line == "%s /echo?m=%s HTTP/1.1" % (method, method)
    assert req.body == body
    rec = _rec(p, "/echo")
    assert rec["method"] == method
    assert rec["bytes_up"] == len(body)


# --- bodies ------------------------------------------------------------------

def test_chunked_upload_curl(proxy, origin, curl, tmp_path):
    p = _start(proxy, origin)
    data = pattern_bytes(3 * MIB + 12345, seed=2)
    src = tmp_path / "up.bin"
    src.write_bytes(data)
    out = _curl(curl, p, "-H", "Transfer-Encoding: chunked",
                "--data-binary", "@%s" % src, _url(origin, "/sha"))
    assert out.decode().strip() == sha256(data)
    req = origin.by_path("/sha")[0]
    assert req.complete and req.body == data
    # Re-framed, not necessarily chunked again; never both.
    assert not (req.chunked and req.header("content-length") is not None)
    rec = _rec(p, "/sha")
    _assert_allowed_record(rec, origin, "POST", "/sha")
    assert rec["bytes_up"] == len(data)


@pytest.mark.parametrize("path", ["/chunked/%d" % (5 * MIB + 777),
                                  "/cl/%d" % (6 * MIB + 3)],
                         ids=["chunked", "content-length"])
def test_download_curl(proxy, origin, curl, tmp_path, path):
    p = _start(proxy, origin)
    n = int(path.rsplit("/", 1)[1])
    out_file = tmp_path / "down.bin"
    _curl(curl, p, "-o", str(out_file), _url(origin, path))
    assert sha256(out_file.read_bytes()) == sha256(pattern_bytes(n))
    rec = _rec(p, path)
    _assert_allowed_record(rec, origin, "GET", path)
    assert rec["bytes_down"] == n


def test_chunked_download_raw_drops_trailers(proxy, origin):
    p = _start(proxy, origin)
    n = 200000
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/chunked/%d" % n))
        r = c.response()
        assert r.status == 200
        assert r.body == pattern_bytes(n)
        assert r.chunked, "HTTP/1.1 response without length not re-chunked"
        assert b"X-Trailer-Field" not in r.raw_body, "trailer relayed"
        # The connection is still usable.
        c.request("GET", _url(origin, "/cl/10"))
        assert c.response().body == pattern_bytes(10)


def test_close_delimited_download(proxy, origin):
    p = _start(proxy, origin)
    n = 300000
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/close/%d" % n))
        r = c.response()
        assert r.status == 200
        assert r.body == pattern_bytes(n)
    rec = _rec(p, "/close/%d" % n)
    assert rec["bytes_down"] == n


def test_response_body_streams(proxy, origin):
    """The proxy relays the first chunk before the origin sent the rest."""
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/stream"))
        r = c.read_head()
        assert r.status == 200
        c.read_until(b"first\n")
        origin.go.set()
        rest = c.read_until(b"second\n")
        assert b"first" not in rest


def test_request_body_streams(proxy, origin):
    """The origin gets the first half of a body before the client sent the
    second half."""
    p = _start(proxy, origin)
    body = pattern_bytes(40000, seed=3)
    with HTTPClient(p.port) as c:
        c.send(("POST %s HTTP/1.1\r\nHost: web.test:%d\r\n"
                "Content-Length: %d\r\n\r\n" % (_url(origin, "/echo"),
                                               origin.port, len(body))
                ).encode() + body[:20000])
        req = origin.by_path("/echo")[0]
        wait_until(lambda: len(req.body) == 20000,
                   "the first half of the body at the origin")
        c.send(body[20000:])
        r = c.response()
    assert r.body == body
    assert req.body == body


# --- bodiless responses and Expect -------------------------------------------

def test_head_has_no_body(proxy, origin, curl):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        for path in ("/cl/1000", "/chunked/1000"):
            c.request("HEAD", _url(origin, path))
            r = c.response("HEAD")
            assert r.status == 200
            if path.startswith("/cl/"):
                assert r.headers.get("content-length") == "1000"
            # The next response on the connection parses cleanly: no body
            # bytes were relayed after the HEAD head.
            c.request("GET", _url(origin, "/cl/17"))
            r2 = c.response()
            assert r2.status == 200 and r2.body == pattern_bytes(17), r2
    assert [q.method for q in origin.find(lambda q: True)] == [
        "HEAD", "GET", "HEAD", "GET"]
    out = _curl(curl, p, "-I", _url(origin, "/cl/5000"))
    assert out.startswith(b"HTTP/1.1 200"), out
    assert b"\r\n\r\n" in out and out.endswith(b"\r\n\r\n"), out
    rec = _rec(p, "/cl/1000")
    assert rec["method"] == "HEAD" and rec["bytes_down"] == 0


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(proxy, origin, status):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        for _ in range(2):
            c.request("GET", _url(origin, "/status/%d" % status),
                      headers=[("If-None-Match", '"v1"')])
            r = c.response()
            assert r.status == status
            assert r.headers.get("etag") == '"v1"'
            assert "transfer-encoding" not in r.headers
            c.request("GET", _url(origin, "/cl/33"))
            r2 = c.response()
            assert r2.status == 200 and r2.body == pattern_bytes(33), r2
    req = origin.by_path("/status/%d" % status)[0]
    assert req.header("if-none-match") == '"v1"'
    rec = _rec(p, "/status/%d" % status)
    assert rec["status"] == status and rec["bytes_down"] == 0


def test_expect_100_continue_raw(proxy, origin):
    """The 100 Continue reaches the client before it sends the body."""
    p = _start(proxy, origin)
    body = pattern_bytes(200000, seed=4)
    with HTTPClient(p.port) as c:
        c.request("POST", _url(origin, "/sha"),
                  headers=[("Expect", "100-continue"),
                           ("Content-Length", str(len(body)))])
        r = c.response(interim=True)
        assert r.status == 100, r
        c.send(body)
        r = c.response()
        assert r.status == 200
        assert r.body.decode().strip() == sha256(body)
    req = origin.by_path("/sha")[0]
    assert req.header("expect") == "100-continue"
    assert req.body == body


def test_expect_100_continue_curl(proxy, origin, curl, tmp_path):
    p = _start(proxy, origin)
    data = pattern_bytes(2 * MIB, seed=5)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    # curl asks for 100-continue by itself for a body this large.
    out = _curl(curl, p, "--data-binary",
                "@%s" % src, "-w", "\n%{http_code}", _url(origin, "/sha"))
    body, _, code = out.decode().rpartition("\n")
    assert code == "200"
    assert body.strip() == sha256(data)
    req = origin.by_path("/sha")[0]
    assert (req.header("expect") or "").lower() == "100-continue"
    assert req.body == data


# --- what the origin receives ------------------------------------------------

def test_request_head_at_origin(proxy, origin):
    p = _start(proxy, origin)
    target = "/hdrs/a?x=1&y=%20z"
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, target), host=False, headers=[
            ("Host", "somewhere-else.example"),
            ("User-Agent", "hushgate-test/1"),
            ("Accept", "text/plain, */*;q=0.1"),
            ("Cookie", "a=b; c=d"),
            ("X-End-To-End", "kept as is"),
            ("Via", "1.0 downstream-cache"),
            ("Connection", "keep-alive, X-Drop-Me"),
            ("X-Drop-Me", "named by Connection"),
            ("Proxy-Connection", "keep-alive"),
            ("Keep-Alive", "timeout=30"),
            ("TE", "trailers"),
            ("Trailer", "X-Checksum"),
            ("Upgrade", "websocket"),
            ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
        ])
        r = c.response()
        assert r.status == 200
    req = origin.by_path("/hdrs/a")[0]
    assert req.request_line == "GET %s HTTP/1.1" % target
    assert req.headers_named("host") == ["web.test:%d" % origin.port]
    leaked = req.names() & (HOP_BY_HOP | {"x-drop-me"})
    assert not leaked, "hop-by-hop headers reached the origin: %s\n%r" % (
        sorted(leaked), req.raw_head)
    assert req.header("user-agent") == "hushgate-test/1"
    assert req.header("accept") == "text/plain, */*;q=0.1"
    assert req.header("cookie") == "a=b; c=d"
    assert req.header("x-end-to-end") == "kept as is"
    via = ", ".join(req.headers_named("via"))
    assert "1.1 hushgate" in via, req.raw_head
    assert "1.0 downstream-cache" in via, req.raw_head


def test_response_hop_by_hop_removed(proxy, origin):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/hop"))
        r = c.response()
    assert r.status == 200 and r.body == b"hop\n"
    names = r.names()
    for h in ("x-resp-secret", "keep-alive", "proxy-connection", "upgrade",
              "trailer"):
        assert h not in names, "%s relayed: %r" % (h, r.raw_head)
    assert "x-resp-secret" not in r.headers.get("connection", "").lower()
    assert r.headers.get("x-end-to-end") == "kept"
    assert r.headers.get("cache-control") == "max-age=60"
    assert "1.1 hushgate" in r.headers.get("via", ""), r.raw_head


# --- ports -------------------------------------------------------------------

def test_port_not_in_http_ports(proxy, origin):
    """http_ports defaults to [80]; connect_ports does not count."""
    p = proxy({"connect_ports": [origin.port]}, hosts=HOSTS)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/port/denied"))
        r = c.response()
    assert r.status == 403
    assert r.headers.get("x-hushgate-reason") == "port"
    rec = p.wait_log(lambda r: r["host"] == "web.test", "port denial")[0]
    assert rec["status"] == 403 and rec["action"] == "deny"
    assert rec["port"] == origin.port
    assert rec["end"] == "port_denied", rec
    assert origin.accepted == 0


def test_connect_port_not_widened_by_http_ports(proxy, echo_server):
    p = proxy({"http_ports": [echo_server.port]}, hosts=["echo.test"])
    with Tunnel(p.port, "echo.test:%d" % echo_server.port) as t:
        assert t.status == 403
    rec = p.wait_log(lambda r: r["method"] == "CONNECT", "CONNECT")[0]
    assert "path" in rec and rec["path"] is None, rec


def test_http_ports_range(proxy, origin):
    lo, hi = origin.port - 1, origin.port + 1
    p = proxy({"http_ports": [80, "%d-%d" % (lo, hi)]}, hosts=HOSTS)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/in/range"))
        r = c.response()
        assert r.status == 200
        c.request("GET", "http://web.test:%d/out/of/range" % (hi + 1))
        r = c.response()
        assert r.status == 403
        assert r.headers.get("x-hushgate-reason") == "port"
        # A port denial of a request without a body keeps the connection.
        c.request("GET", _url(origin, "/in/range/again"))
        assert c.response().status == 200
    rec = p.wait_log(lambda r: r["port"] == hi + 1, "out of range")[0]
    assert rec["end"] == "port_denied"


# --- HTTP/1.0 and connection reuse -------------------------------------------

@pytest.mark.parametrize("extra", ["", "Connection: keep-alive\r\n"],
                         ids=["plain", "keep-alive-asked"])
def test_http10_client_gets_close_delimited(proxy, origin, extra):
    p = _start(proxy, origin)
    n = 150000
    with HTTPClient(p.port) as c:
        c.send(("GET %s HTTP/1.0\r\nHost: web.test:%d\r\n%s\r\n" % (
            _url(origin, "/chunked/%d" % n), origin.port, extra)).encode())
        r = c.read_head()
        assert r.status == 200
        assert "transfer-encoding" not in r.headers, r.raw_head
        assert "close" in r.headers.get("connection", "").lower(), r.raw_head
        body = c.read_to_eof()
    assert body == pattern_bytes(n), "body differs (%d bytes)" % len(body)
    req = origin.by_path("/chunked/%d" % n)[0]
    assert req.version == "HTTP/1.1"


def test_upstream_connection_reused(proxy, origin):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/reuse/1"))
        r1 = c.response()
        c.request("GET", _url(origin, "/reuse/2"))
        r2 = c.response()
    assert r1.status == 200 and r2.status == 200
    a, b = origin.by_path("/reuse/1")[0], origin.by_path("/reuse/2")[0]
    assert a.conn == b.conn, "second request used a new upstream connection"
    assert (a.seq, b.seq) == (1, 2)
    assert r2.headers.get("x-conn") == r1.headers.get("x-conn")
    assert origin.accepted == 1
    recs = p.wait_log(lambda r: (r.get("path") or "").startswith("/reuse/"),
                      "two records", count=2)
    assert recs[0]["end"] == "done"


def test_upstream_not_reused_after_close(proxy, origin):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/close/100"))
        r1 = c.response()
        assert r1.body == pattern_bytes(100)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/after/close"))
        r2 = c.response()
    assert r2.status == 200
    assert r2.headers.get("x-conn") != r1.headers.get("x-conn")
    assert origin.by_path("/after/close")[0].seq == 1


# --- upstream failures -------------------------------------------------------

def test_upstream_closes_mid_body(proxy, origin):
    p = _start(proxy, origin)
    n = 200000
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/cut/%d" % n))
        r = c.read_head()
        assert r.status == 200
        assert r.headers.get("content-length") == str(n)
        got = c.read_to_eof()
    assert len(got) < n, "truncated body presented as complete"
    assert got == pattern_bytes(n)[:len(got)]
    rec = _rec(p, "/cut/%d" % n)
    assert rec["end"] == "upstream_closed", rec
    # The proxy still serves.
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/cl/64"))
        assert c.response().body == pattern_bytes(64)


def test_upstream_closes_mid_chunked_body(proxy, origin):
    def cut_chunked(oc, req):
        oc.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"6\r\npart1\n\r\n")
        return False
    origin.handlers["cutchunk"] = cut_chunked
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/cutchunk"))
        r = c.read_head()
        assert r.status == 200
        rest = c.read_to_eof()
    assert b"part1\n" in rest
    assert not rest.endswith(b"0\r\n\r\n"), \
        "truncated chunked body ended with a last chunk: %r" % rest
    rec = _rec(p, "/cutchunk")
    assert rec["end"] == "upstream_closed", rec


def test_slow_upstream_response_timeout(proxy, origin):
    p = _start(proxy, origin, timeouts={"response": "700ms"})
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/slow"))
        r = c.response()
    assert r.status == 504
    origin.by_path("/slow")
    rec = _rec(p, "/slow")
    assert rec["status"] == 504
    assert rec["end"] == "response_timeout", rec


@pytest.mark.parametrize("path", ["/bighead/20", "/garbage"])
def test_bad_upstream_response_502(proxy, origin, path):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, path))
        r = c.response()
    assert r.status == 502
    rec = _rec(p, path)
    assert rec["status"] == 502
    assert rec["end"] == "bad_response", rec


def test_response_head_under_limit(proxy, origin):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/bighead/12"))
        r = c.response()
    assert r.status == 200 and r.body == b"ok"
    assert r.headers.get("x-filler-11") == "f" * 1000


def test_unresolvable_host_502(proxy, origin):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/nx", host="not-in-hosts.test"))
        r = c.response()
    assert r.status == 502
    rec = p.wait_log(lambda r: r["host"] == "not-in-hosts.test", "nx")[0]
    assert rec["end"] == "resolve_failed"


# --- request limits ----------------------------------------------------------

@pytest.mark.parametrize("n,status", [(150, 431), (50, 200)])
def test_header_line_limit(proxy, origin, n, status):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/many"),
                  headers=[("X-Many-%d" % i, "1") for i in range(n)])
        r = c.response()
    assert r.status == status
    if status == 431:
        rec = p.wait_log(lambda r: r["status"] == 431, "431 record")[0]
        assert rec["end"] == "too_large"
        assert not origin.find(lambda q: True)


def test_request_head_too_large(proxy, origin):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/big"),
                  headers=[("X-Big", "b" * 9000)])
        r = c.response()
    assert r.status == 431
    assert not origin.find(lambda q: q.path == "/big")


# --- decision log ------------------------------------------------------------

def test_log_path_truncated(proxy, origin):
    p = _start(proxy, origin)
    target = "/long/" + "a" * 1500 + "?q=" + "b" * 500
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, target))
        r = c.response()
    assert r.status == 200
    assert origin.by_path("/long/" + "a" * 1500)[0].target == target
    rec = p.wait_log(lambda r: (r.get("path") or "").startswith("/long/"),
                     "long path")[0]
    assert rec["path"] == target[:1024]


def test_log_path_escaped(proxy, origin):
    """Characters that need escaping in JSON leave a parseable record."""
    p = _start(proxy, origin)
    target = '/esc/"quoted"\\back?x="1"'
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, target))
        r = c.response()
    assert r.status in (200, 400), r
    rec = p.wait_log(lambda r: r["host"] == "web.test", "escaped")[0]
    assert rec["path"] in (None, target), rec
    if r.status == 200:
        assert rec["path"] == target


def test_log_bytes_both_ways(proxy, origin):
    p = _start(proxy, origin)
    up = pattern_bytes(123457, seed=6)
    with HTTPClient(p.port) as c:
        c.request("POST", _url(origin, "/echo?bytes"), body=up)
        r = c.response()
        assert r.body == up
        c.request("GET", _url(origin, "/chunked/98765"))
        assert c.response().body == pattern_bytes(98765)
    rec = _rec(p, "/echo")
    assert (rec["bytes_up"], rec["bytes_down"]) == (len(up), len(up))
    assert rec["end"] == "done"
    rec = _rec(p, "/chunked/98765")
    assert (rec["bytes_up"], rec["bytes_down"]) == (0, 98765)


# --- smuggling and malformed requests ----------------------------------------

def _load_smuggling():
    with open(DATA / "http_smuggling.yaml") as f:
        cases = yaml.safe_load(f)
    out = []
    for c in cases:
        assert set(c) == {"name", "request", "status"}, c
        out.append(pytest.param(c["request"], c["status"],
                                id=c["name"].replace(" ", "-")))
    return out


SMUGGLING = _load_smuggling()


@pytest.fixture(scope="module")
def smug_origin():
    s = OriginServer()
    yield s
    s.close()


@pytest.fixture(scope="module")
def smug_proxy(module_proxy, smug_origin):
    return module_proxy(_cfg(smug_origin), hosts=HOSTS)


@pytest.fixture(scope="module")
def keepalive_client(smug_proxy, smug_origin):
    """A keep-alive client connection opened before the batch and used
    after every case."""
    c = HTTPClient(smug_proxy.port)
    c.request("GET", _url(smug_origin, "/cl/64"))
    assert c.response().body == pattern_bytes(64)
    yield c
    c.close()


def _expand(req, origin):
    authority = "web.test:%d" % origin.port
    return req.replace("{url}", "http://%s/echo" % authority).replace(
        "{authority}", authority).encode("latin-1")


def test_smuggling_case_count():
    assert len(SMUGGLING) >= 15


@pytest.mark.parametrize("request_text,status", SMUGGLING)
def test_smuggling_rejected(smug_proxy, smug_origin, keepalive_client,
                            request_text, status):
    p = smug_proxy
    prior = len([r for r in p.log_lines() if r["end"] == "bad_request"])
    data = _expand(request_text, smug_origin)
    with HTTPClient(p.port) as c:
        c.send(data)
        r = c.response()
        assert r.status == status, "sent %r, got %r" % (data, r)
        assert c.at_eof()
    rec = p.wait_log(lambda r: r["end"] == "bad_request",
                     "a bad_request record", count=prior + 1)[-1]
    assert rec["status"] == status
    keepalive_client.request("GET", _url(smug_origin, "/cl/64"))
    assert keepalive_client.response().body == pattern_bytes(64)


def test_smuggling_parallel_client_survived(smug_proxy, smug_origin,
                                            keepalive_client):
    keepalive_client.request("POST", _url(smug_origin, "/echo"),
                             body=b"after the batch\n")
    assert keepalive_client.response().body == b"after the batch\n"
    assert smug_proxy.proc.poll() is None


def test_host_header_disagreeing_is_fine(proxy, origin):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/host/mismatch"), host=False,
                  headers=[("Host", "blocked.test")])
        r = c.response()
    assert r.status == 200
    assert origin.by_path("/host/mismatch")[0].header("host") == \
        "web.test:%d" % origin.port


# --- explain --http agrees with the live proxy -------------------------------

def test_explain_http_agrees_with_proxy(proxy, origin):
    balanced = REPO / "rules" / "sets" / "balanced.yaml"
    allowed = "ctldl.windowsupdate.com"
    denied = "watson.events.data.microsoft.com"
    hosts = [allowed, denied, "plain.example.test"]
    p = proxy({"include": [str(balanced)], "default": "allow",
               "http_ports": [80, origin.port]}, hosts=hosts)
    closed = origin.port + 1
    targets = ["%s:%d" % (h, origin.port) for h in hosts]
    targets += ["%s:%d" % (allowed, closed), allowed]
    cp = run_hushgate(["explain", "-c", str(p.config_path), "--http"]
                      + targets)
    assert cp.returncode == 0, cp.stderr
    rows = [l.split("\t") for l in cp.stdout.splitlines()]
    assert len(rows) == len(targets), cp.stdout
    by = {r[0]: r for r in rows}
    assert by["%s:%d" % (allowed, origin.port)][1] == "allow", rows
    assert by["%s:%d" % (denied, origin.port)][1] == "deny", rows
    assert by["%s:%d" % (denied, origin.port)][2] == \
        "windows-error-reporting", rows
    assert by["%s:80" % allowed][1] == "allow", rows
    port_row = by["%s:%d" % (allowed, closed)]
    assert port_row[1:] == ["deny", "-", "http_ports"], port_row
    # The same targets from stdin; without --http, the CONNECT rules apply.
    cp2 = run_hushgate(["explain", "-c", str(p.config_path), "--http"],
                       input=("\n".join(targets) + "\n").encode())
    assert cp2.returncode == 0 and cp2.stdout == cp.stdout, cp2.stdout
    cp3 = run_hushgate(["explain", "-c", str(p.config_path),
                        "%s:%d" % (allowed, origin.port)])
    assert cp3.stdout.split("\t")[1:] == ["deny", "-", "connect_ports\n"], \
        cp3.stdout
    mismatches = []
    for target in targets[:4]:
        with HTTPClient(p.port) as c:
            c.request("GET", "http://%s/explain" % target)
            r = c.response()
        row = by[target]
        want = 403 if row[1] == "deny" else 200
        cat = r.headers.get("x-hushgate-category")
        if r.status != want or (want == 403 and row[2] != "-"
                                and cat != row[2]):
            mismatches.append("%s: explain %s, proxy %d %s" % (
                target, "\t".join(row[1:]), r.status, cat))
        elif want == 200:
            assert r.body == ("hello %s /explain\n" % target).encode()
        elif row[2] == "-":
            assert r.headers.get("x-hushgate-reason") == "port", r
    assert not mismatches, "\n".join(mismatches)
    rec = p.wait_log(lambda r: r["host"] == denied, "denied shipped host")[0]
    row = by["%s:%d" % (denied, origin.port)]
    assert rec["category"] == row[2]
    assert rec["rule"] == row[3]


# --- request targets ---------------------------------------------------------

def test_url_without_path(proxy, origin):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", "http://web.test:%d" % origin.port)
        assert c.response().status == 200
        c.request("GET", "http://web.test:%d?only=query" % origin.port)
        assert c.response().status == 200
    got = [q.request_line for q in origin.find(lambda q: True)]
    assert got == ["GET / HTTP/1.1", "GET /?only=query HTTP/1.1"]
    recs = p.wait_log(lambda r: r["host"] == "web.test", "two", count=2)
    assert [r["path"] for r in recs] == ["/", "/?only=query"]


def test_url_scheme_and_host_case(proxy, origin):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", "HTTP://WEB.Test:%d/Case/Kept" % origin.port)
        r = c.response()
        assert r.status == 200
        c.request("GET", "http://Blocked.TEST:%d/x" % origin.port)
        assert c.response().status == 403
    req = origin.by_path("/Case/Kept")[0]
    assert req.header("host") == "web.test:%d" % origin.port
    rec = _rec(p, "/Case/Kept")
    assert rec["host"] == "web.test"


def test_ipv4_literal_url(proxy, origin):
    p = proxy({"http_ports": [origin.port]})
    with HTTPClient(p.port) as c:
        c.request("GET", "http://127.0.0.1:%d/v4/literal" % origin.port)
        r = c.response()
    assert r.status == 200
    assert origin.by_path("/v4/literal")[0].header("host") == \
        "127.0.0.1:%d" % origin.port
    rec = _rec(p, "/v4/literal")
    assert rec["host"] == "127.0.0.1"


if has_ipv6_loopback():
    @pytest.fixture
    def origin_v6():
        s = OriginServer(host="::1")
        yield s
        s.close()

    def test_ipv6_literal_url(proxy, origin_v6):
        p = proxy({"http_ports": [origin_v6.port]})
        with HTTPClient(p.port) as c:
            c.request("GET", "http://[::1]:%d/v6/literal" % origin_v6.port)
            r = c.response()
        assert r.status == 200
        assert origin_v6.by_path("/v6/literal")[0].header("host") == \
            "[::1]:%d" % origin_v6.port
        rec = _rec(p, "/v6/literal")
        assert rec["upstream"] == "[::1]:%d" % origin_v6.port


def test_default_deny_category(proxy, origin):
    p = proxy({"http_ports": [origin.port], "default": "deny",
               "categories": {"ok": {"action": "allow",
                                     "hosts": ["web.test"]}}},
              hosts=HOSTS)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/not/listed", host="other.test"))
        r = c.response()
        assert r.status == 403
        assert r.headers.get("x-hushgate-category") == "default"
        c.request("GET", _url(origin, "/listed"))
        assert c.response().status == 200
    assert not origin.find(lambda q: q.path == "/not/listed")


# --- keep-alive details ------------------------------------------------------

def test_pipelined_requests(proxy, origin):
    """Requests sent in one write are answered in order, each decided on
    its own: a request to a denied host hidden behind a POST body is
    refused."""
    p = _start(proxy, origin)
    a = "GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % _url(origin, "/pipe/1")
    b = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
         % _url(origin, "/echo"))
    d = "GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % _url(origin, "/pipe/denied",
                                                   host="blocked.test")
    e = "GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % _url(origin, "/pipe/3",
                                                   host="other.test")
    with HTTPClient(p.port) as c:
        c.send((a + b + d + e).encode())
        r1, r2, r3, r4 = (c.response() for _ in range(4))
    assert [r.status for r in (r1, r2, r3, r4)] == [200, 200, 403, 200]
    assert r1.body.endswith(b" /pipe/1\n")
    assert r2.body == b"hello"
    assert r4.body == ("hello other.test:%d /pipe/3\n"
                       % origin.port).encode()
    assert not origin.find(lambda q: q.path == "/pipe/denied")
    p.wait_log(lambda r: r["host"] in ("web.test", "other.test",
                                       "blocked.test"),
               "four records", count=4)


def test_many_requests_two_hosts_pool(proxy, origin):
    """Alternating between two hosts on one client connection: every
    response is right and the pool keeps one upstream per host."""
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        for i in range(40):
            host = "web.test" if i % 2 == 0 else "other.test"
            c.request("GET", _url(origin, "/many/%d" % i, host=host))
            r = c.response()
            assert r.status == 200
            assert r.body == ("hello %s:%d /many/%d\n"
                              % (host, origin.port, i)).encode()
    conns = {}
    for q in origin.find(lambda q: q.path.startswith("/many/")):
        conns.setdefault(q.header("host").split(":")[0], set()).add(q.conn)
    assert len(conns["web.test"]) == 1 and len(conns["other.test"]) == 1, \
        conns
    assert conns["web.test"] != conns["other.test"], \
        "an upstream connection was reused for another host name"
    assert origin.accepted == 2


def test_pool_shared_across_client_connections(proxy, origin):
    p = _start(proxy, origin, workers=1)
    for i in range(3):
        with HTTPClient(p.port) as c:
            c.request("GET", _url(origin, "/across/%d" % i))
            assert c.response().status == 200
    reqs = origin.find(lambda q: q.path.startswith("/across/"))
    assert [q.seq for q in reqs] == [1, 2, 3]
    assert len({q.conn for q in reqs}) == 1
    assert origin.accepted == 1


def test_client_connection_close_honoured(proxy, origin):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/cl/10"),
                  headers=[("Connection", "close")])
        r = c.response()
        assert r.body == pattern_bytes(10)
        assert "close" in r.headers.get("connection", "").lower()
        assert c.at_eof()
    req = origin.by_path("/cl/10")[0]
    assert "connection" not in req.names()


def test_client_half_close_after_request(proxy, origin):
    """A client that shuts down its sending side after a complete request
    still gets the whole response (the proxy's own 403 too), then the
    connection closes.  Repeated: an early close of the client side would
    lose a different amount of the tail each time."""
    p = _start(proxy, origin)
    short = []
    for i in range(25):
        n = (100, 5000, 300000, 2 * MIB, 0)[i % 5]
        with HTTPClient(p.port) as c:
            if n:
                c.request("GET", _url(origin, "/cl/%d" % n))
            else:
                c.request("GET", _url(origin, "/x", host="blocked.test"))
            c.sock.shutdown(socket.SHUT_WR)
            data = c.read_to_eof()
        head, sep, body = data.partition(b"\r\n\r\n")
        what = "%d bytes" % n if n else "the 403 for a denied host"
        if not sep:
            short.append("no response head for %s" % what)
            continue
        resp = HTTPResponse(head)
        if n and (resp.status != 200 or body != pattern_bytes(n)):
            short.append("%d of %d bytes" % (len(body), n))
        elif not n and (resp.status != 403 or len(body) != int(
                resp.headers["content-length"])):
            short.append("%d of %s body bytes of %s" % (
                len(body), resp.headers["content-length"], what))
    assert not short, "half-closed clients got truncated responses: %s" \
        % ", ".join(short)


def test_idle_keepalive_connection_closed(proxy, origin):
    p = _start(proxy, origin, timeouts={"idle": "500ms"})
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/idle/one"))
        assert c.response().status == 200
        # Nothing more is sent: the proxy ends the connection without
        # answering a request that never came.
        assert c.at_eof()
    _rec(p, "/idle/one")
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/idle/marker"))
        assert c.response().status == 200
    _rec(p, "/idle/marker")
    recs = p.log_lines()
    assert len(recs) == 2, "one record per request expected:\n%s" % recs


def test_one_record_per_request(proxy, origin):
    p = _start(proxy, origin, workers=1)
    with HTTPClient(p.port) as c:
        for i in range(3):
            c.request("GET", _url(origin, "/rec/%d" % i))
            assert c.response().status == 200
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/rec/marker"))
        assert c.response().status == 200
    _rec(p, "/rec/marker")
    paths = [r["path"] for r in p.log_lines()]
    assert paths == ["/rec/0", "/rec/1", "/rec/2", "/rec/marker"], paths


def test_malformed_request_after_good_one(proxy, origin):
    """The record of a bad request on a kept-alive connection does not
    carry the previous request's host or path."""
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/good/first"))
        assert c.response().status == 200
        c.send(b"GARBAGE\r\n\r\n")
        r = c.response()
        assert r.status == 400
        assert c.at_eof()
    rec = p.wait_log(lambda r: r["end"] == "bad_request", "bad request")[0]
    assert rec["status"] == 400 and rec["action"] == "deny"
    assert rec["host"] is None, rec
    assert rec["path"] is None, rec
    assert rec["method"] != "GET", rec


def test_http10_client_gets_no_interim_response(proxy, origin):
    p = _start(proxy, origin)
    body = b"ten bytes!"
    with HTTPClient(p.port) as c:
        c.send(("POST %s HTTP/1.0\r\nHost: x\r\nExpect: 100-continue\r\n"
                "Content-Length: %d\r\n\r\n" % (_url(origin, "/echo"),
                                               len(body))).encode() + body)
        r = c.read_head()
        assert r.status == 200, r
        assert c.read_to_eof() == body


def test_expect_on_denied_request(proxy, origin):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("POST", _url(origin, "/echo", host="blocked.test"),
                  headers=[("Expect", "100-continue"),
                           ("Content-Length", "100000")])
        r = c.response(interim=True)
        assert r.status == 403, "denied request got %r" % r
        assert "close" in r.headers.get("connection", "").lower()


def test_post_empty_body_keeps_content_length(proxy, origin):
    """Content-Length is end-to-end: an empty POST still tells the origin
    its length (servers may answer 411 otherwise)."""
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("POST", _url(origin, "/echo?empty"), body=b"")
        r = c.response()
    assert r.status == 200 and r.body == b""
    req = origin.by_path("/echo")[0]
    assert req.header("content-length") == "0", req.raw_head


def test_connection_header_naming_many_headers(proxy, origin):
    names = ["X-Hop-%02d" % i for i in range(24)]
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/many/tokens"), headers=[
            ("Connection", ", ".join(names))] + [(n, "secret")
                                                 for n in names])
        assert c.response().status == 200
    req = origin.by_path("/many/tokens")[0]
    leaked = sorted(n for n in names if n.lower() in req.names())
    assert not leaked, "headers named by Connection reached the origin: %s" \
        % leaked


# --- upstream responses that must not be trusted -----------------------------

def _send_raw(data, keep):
    def handler(oc, req):
        oc.send(data)
        return keep
    return handler


def test_response_extra_bytes_not_relayed(proxy, origin):
    origin.handlers["extra"] = _send_raw(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
        b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED", True)
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/extra"))
        r = c.response()
        assert r.body == b"hello"
        c.request("GET", _url(origin, "/after/extra"))
        r2 = c.response()
        assert r2.status == 200
        assert r2.body == ("hello web.test:%d /after/extra\n"
                           % origin.port).encode(), r2
    assert origin.by_path("/after/extra")[0].seq == 1, \
        "upstream that sent more than its framing was reused"


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
], ids=["connection-close", "http10-response"])
def test_upstream_not_reused_when_it_said_close(proxy, origin, head):
    # The origin keeps the socket open anyway: reusing it would show.
    origin.handlers["saidclose"] = _send_raw(head, True)
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/saidclose"))
        assert c.response().body == b"ok"
        c.request("GET", _url(origin, "/after/saidclose"))
        assert c.response().status == 200
    assert origin.by_path("/after/saidclose")[0].seq == 1


def test_http10_keepalive_response_reused(proxy, origin):
    origin.handlers["ka10"] = _send_raw(
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
        b"Content-Length: 2\r\n\r\nok", True)
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/ka10"))
        r = c.response()
        assert r.body == b"ok"
        c.request("GET", _url(origin, "/after/ka10"))
        assert c.response().status == 200
    a = origin.by_path("/ka10")[0]
    b = origin.by_path("/after/ka10")[0]
    assert (a.conn, a.seq + 1) == (b.conn, b.seq)


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
    b"hello!",
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/2 200\r\nContent-Length: 0\r\n\r\n",
], ids=["cl-and-te", "two-cl", "negative-cl", "te-not-chunked",
        "four-digit-status", "http2-status-line"])
def test_ambiguous_response_502(proxy, origin, raw):
    origin.handlers["ambig"] = _send_raw(raw, False)
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/ambig"))
        r = c.response()
    assert r.status == 502, r
    rec = _rec(p, "/ambig")
    assert rec["end"] == "bad_response" and rec["status"] == 502, rec


def test_bad_chunk_in_response_truncates(proxy, origin):
    origin.handlers["badchunk"] = _send_raw(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"6\r\nfirst\n\r\nzz\r\nmore\r\n0\r\n\r\n", True)
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/badchunk"))
        r = c.read_head()
        assert r.status == 200
        rest = c.read_to_eof()
    assert b"first\n" in rest
    assert b"more" not in rest and not rest.endswith(b"0\r\n\r\n"), rest
    rec = _rec(p, "/badchunk")
    assert rec["end"] == "bad_response", rec


def test_response_with_many_header_lines(proxy, origin):
    """Only the size of a response head is limited (16 KiB), not its
    number of lines: 150 short header lines are relayed."""
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(
        b"Set-Cookie: c%d=v\r\n" % i for i in range(150)) + \
        b"Content-Length: 2\r\n\r\nok"
    assert len(head) < 8192
    origin.handlers["cookies"] = _send_raw(head, True)
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/cookies"))
        r = c.response()
    assert r.status == 200, r
    assert len([1 for k, _ in r.header_list if k.lower() == "set-cookie"]) \
        == 150


def test_early_hints_relayed_to_http11(proxy, origin):
    origin.handlers["hints"] = _send_raw(
        b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", True)
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/hints"))
        r = c.response()
    assert r.status == 200 and r.body == b"ok"
    assert [i.status for i in r.interim] == [103]
    assert _rec(p, "/hints")["status"] == 200


def test_client_closes_mid_response(proxy, origin):
    p = _start(proxy, origin)
    n = 64 * MIB
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/cl/%d" % n))
        r = c.read_head()
        assert r.status == 200
        c.read_exact(1000)
    rec = _rec(p, "/cl/%d" % n)
    assert rec["end"] == "client_closed", rec
    assert rec["bytes_down"] < n
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/after/abort"))
        assert c.response().status == 200
    assert origin.by_path("/after/abort")[0].seq == 1


def test_connect_refused_502(proxy, origin):
    s = closed_port()
    try:
        port = s.getsockname()[1]
        p = proxy({"http_ports": [port]}, hosts=HOSTS)
        with HTTPClient(p.port) as c:
            c.request("GET", "http://web.test:%d/refused" % port)
            r = c.response()
        assert r.status == 502
        rec = _rec(p, "/refused")
        assert rec["end"] == "connect_failed", rec
    finally:
        s.close()


def test_idle_keepalive_client_does_not_hold_shutdown(proxy, origin):
    p = _start(proxy, origin, timeouts={"drain": "300s"})
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/before/shutdown"))
        assert c.response().status == 200
        rc = p.terminate(timeout=TIMEOUT)
        assert rc == 0
        assert c.at_eof()


def test_log_long_escaped_path(proxy, origin):
    p = _start(proxy, origin)
    target = "/esc/" + '"\\' * 700
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, target))
        r = c.response()
    if r.status == 200:
        rec = p.wait_log(lambda r: r["host"] == "web.test", "long esc")[0]
        assert rec["path"] == target[:1024]
    else:
        assert r.status == 400, r
        rec = p.wait_log(lambda r: r["end"] == "bad_request", "esc")[0]
        assert rec["path"] in (None, target[:1024]), rec


# --- a pooled upstream that closes when it is reused -------------------------

def _flaky(oc, req):
    """Answers the first request of a connection; closes the connection
    without an answer on any later one (a server whose keep-alive ran out
    just as the proxy reused the connection)."""
    if req.seq > 1:
        return False
    oc.send(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
    return True


def test_reused_upstream_closed_request_without_body(proxy, origin):
    origin.handlers["flaky"] = _flaky
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/flaky/1"))
        assert c.response().body == b"ok\n"
        c.request("GET", _url(origin, "/flaky/2"))
        r = c.response()
    assert r.status == 200 and r.body == b"ok\n", r
    tries = origin.by_path("/flaky/2")
    assert tries[-1].seq == 1, "the answer did not come from a new " \
        "upstream connection: %r" % tries
    assert len(tries) <= 2
    rec = _rec(p, "/flaky/2")
    assert rec["status"] == 200


def test_reused_upstream_closed_request_with_body_not_resent(proxy, origin):
    origin.handlers["flaky"] = _flaky
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/flaky/1"))
        assert c.response().body == b"ok\n"
        c.request("POST", _url(origin, "/flaky/post"), body=b"once only")
        r = c.response()
    assert r.status == 502, r
    assert len(origin.by_path("/flaky/post")) == 1
    rec = _rec(p, "/flaky/post")
    assert rec["status"] == 502
    assert rec["end"] == "upstream_closed", rec


# --- origins that answer early or say more than they should ------------------

def test_origin_refuses_expect_without_reading_body(proxy, origin):
    def refuse(oc, req):
        oc.send(b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 5\r\n"
                b"Connection: close\r\n\r\nnope\n")
        return False
    origin.early_handlers["refuse"] = refuse
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("POST", _url(origin, "/refuse"),
                  headers=[("Expect", "100-continue"),
                           ("Content-Length", "100000")])
        r = c.response()
        assert r.status == 417 and r.body == b"nope\n", r
        assert r.interim == []
        assert c.at_eof()
    rec = _rec(p, "/refuse")
    assert rec["status"] == 417 and rec["bytes_up"] == 0


def test_origin_rejects_upload_early(proxy, origin):
    """The origin answers 413 before reading an 8 MiB body: the client,
    still sending, gets the 413."""

    def too_large(oc, req):
        # Answer, close the sending side, then read and drop the body so
        # the close is graceful (no reset that could destroy the answer).
        oc.send(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 4\r\n"
                b"Connection: close\r\n\r\nbig\n")
        oc.sock.shutdown(socket.SHUT_WR)
        while True:
            oc.buf.clear()
            oc.fill()
    origin.early_handlers["toolarge"] = too_large
    p = _start(proxy, origin)
    body = pattern_bytes(8 * MIB, seed=7)
    with HTTPClient(p.port) as c:
        c.request("POST", _url(origin, "/toolarge"),
                  headers=[("Content-Length", str(len(body)))])

        def push():
            try:
                c.sock.sendall(body)
            except OSError:
                pass
        t = threading.Thread(target=push, daemon=True)
        t.start()
        r = c.response()
        assert r.status == 413 and r.body == b"big\n", r
    t.join(TIMEOUT)
    rec = _rec(p, "/toolarge")
    assert rec["status"] == 413


def test_body_after_head_response_not_relayed(proxy, origin):
    origin.handlers["headbody"] = _send_raw(
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nSMUGGLED!", True)
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("HEAD", _url(origin, "/headbody"))
        r = c.response("HEAD")
        assert r.status == 200 and r.headers.get("content-length") == "9"
        c.request("GET", _url(origin, "/after/headbody"))
        r2 = c.response()
        assert r2.status == 200
        assert r2.body == ("hello web.test:%d /after/headbody\n"
                           % origin.port).encode(), r2
    assert origin.by_path("/after/headbody")[0].seq == 1


def test_body_after_204_not_relayed(proxy, origin):
    origin.handlers["nocontent"] = _send_raw(
        b"HTTP/1.1 204 No Content\r\n\r\nSMUGGLED!", True)
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/nocontent"))
        assert c.response().status == 204
        c.request("GET", _url(origin, "/after/nocontent"))
        r2 = c.response()
        assert r2.body == ("hello web.test:%d /after/nocontent\n"
                           % origin.port).encode(), r2


def test_response_chunk_extensions_and_case(proxy, origin):
    origin.handlers["chunkext"] = _send_raw(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"A;name=value\r\n0123456789\r\n1b ; x\r\nabcdefghijklmnopqrstuvwxyz!"
        b"\r\n0\r\nX-Trailer: t\r\n\r\n", True)
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/chunkext"))
        r = c.response()
        assert r.body == b"0123456789abcdefghijklmnopqrstuvwxyz!"
        assert b"name=value" not in r.raw_body
        c.request("GET", _url(origin, "/after/chunkext"))
        assert c.response().status == 200
    assert origin.by_path("/after/chunkext")[0].seq == 2, \
        "a completely framed chunked response did not let the upstream " \
        "be reused"
    assert _rec(p, "/chunkext")["bytes_down"] == 37


def test_chunked_request_with_extensions_and_trailers(proxy, origin):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.send(("POST %s HTTP/1.1\r\nHost: x\r\n"
                "Transfer-Encoding: chunked\r\n\r\n" % _url(origin, "/echo")
                ).encode() +
               b"5;ext=1\r\nhello\r\nB\r\n, world!!!!\r\n"
               b"0\r\nX-Checksum: abc\r\n\r\n")
        r = c.response()
        assert r.status == 200 and r.body == b"hello, world!!!!"
    req = origin.by_path("/echo")[0]
    assert req.body == b"hello, world!!!!"
    assert b"ext=1" not in req.raw_body
    assert b"X-Checksum" not in req.raw_body
    assert _rec(p, "/echo")["bytes_up"] == 16


def test_stalled_response_body_ends(proxy, origin):
    def stall(oc, req):
        oc.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
        while True:
            oc.buf.clear()
            oc.fill()
    origin.handlers["stall"] = stall
    p = _start(proxy, origin, timeouts={"idle": "700ms"})
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/stall"))
        r = c.read_head()
        assert r.status == 200
        assert c.read_to_eof() == b"only part"
    rec = _rec(p, "/stall")
    assert rec["end"] not in ("done", "client_closed"), rec
    assert rec["bytes_down"] == 9


def test_reload_applies_to_next_request_on_kept_connection(proxy, origin):
    p = _start(proxy, origin)
    with HTTPClient(p.port) as c:
        c.request("GET", _url(origin, "/before/reload"))
        assert c.response().status == 200
        cfg = _cfg(origin)
        cfg["categories"]["blocked"]["hosts"].append("web.test")
        p.rewrite_config(cfg)
        ok, _, _ = p.reload()
        assert ok, p.stderr_text()
        c.request("GET", _url(origin, "/after/reload"))
        r = c.response()
        assert r.status == 403, r
        assert r.headers.get("x-hushgate-category") == "blocked"
    assert not origin.find(lambda q: q.path == "/after/reload")


def _sanitizer_build():
    """Is the binary under test built with AddressSanitizer (which does
    not run under valgrind)?"""
    with open(hushgate_bin(), "rb") as f:
        return b"__asan_init" in f.read()


@pytest.mark.parametrize("framing,why", [
    ("Content-Length: abc", "invalid or conflicting Content-Length"),
    ("Transfer-Encoding: gzip", "Transfer-Encoding other than chunked"),
])
def test_bad_framing_from_http10_client(proxy, origin, framing, why):
    """An HTTP/1.0 request whose framing is refused is answered for what
    is wrong with it, and no decision reads a framing the parser did not
    give: memcheck (valgrind) watches the proxy unless it is a sanitizer
    build."""
    p = proxy(_cfg(origin), hosts=HOSTS, start=False)
    memcheck = shutil.which("valgrind") and not _sanitizer_build()
    if memcheck:
        argv, env = p.command()
        p.command = lambda: (["valgrind", "-q", "--error-exitcode=99",
                              "--leak-check=no"] + argv, env)
        p.start_timeout = TIMEOUT * 3
    p.start()
    for _ in range(3):
        r = raw_request(p.port, ("POST %s HTTP/1.0\r\n%s\r\n\r\nhello" % (
            _url(origin, "/echo"), framing)).encode())
        assert r.status == 400
        assert r.body == b"hushgate: malformed request: %s\n" % why.encode()
    rec = p.wait_log(lambda r: r["path"] == "/echo", "records", count=3)[0]
    assert rec["end"] == "bad_request"
    assert p.terminate(timeout=TIMEOUT * 3) == 0, p.stderr_text()
    assert not [l for l in p.lines if "uninitialised" in l], \
        p.stderr_text()

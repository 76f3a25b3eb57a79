"""Plain HTTP forwarding (absolute-form requests) that needs more than a
case file: real clients (curl, urllib, wget) through the proxy to a
scripted origin server that records exactly what it received, bodies that
stream, large transfers, loops of requests, clients that leave half way,
shutdown and reload.  The request -> answer -> record checks are in
cases/http-forward.yaml, cases/http-upstream.yaml, cases/http-ports.yaml
and cases/http-smuggling.yaml."""

import shutil
import socket
import subprocess
import threading
import urllib.request

import pytest

from helpers import (REPO, TIMEOUT, HTTPClient, HTTPResponse, clean_env,
                     hushgate_bin, pattern_bytes, raw_request, run_hushgate,
                     sha256, wait_until)

MIB = 1024 * 1024
HOSTS = ["web.test", "other.test", "blocked.test", "audited.test"]


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


# --- decision log ------------------------------------------------------------

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


# --- keep-alive details ------------------------------------------------------

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


# --- upstream responses that must not be trusted -----------------------------

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


# --- origins that answer early or say more than they should ------------------

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
    """Is the binary under test built with a sanitizer (which does not
    run under valgrind)?"""
    with open(hushgate_bin(), "rb") as f:
        data = f.read()
        return b"__asan_init" in data or b"__tsan_init" in data


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

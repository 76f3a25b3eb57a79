# Lists kept current: `url:` lists downloaded over HTTPS from a local
# server (http.server + ssl on 127.0.0.1, a port chosen at run time, a
# certificate from the test CA), the name mapped to 127.0.0.1 by the test
# hosts file, and the test CA given as ca_file.  The cases: first download,
# revalidation with 304, a changed list picked up by a running proxy, the
# server down, a bad certificate, a pin mismatch, the shrink guard, HTTP
# errors, an oversize body and a start-up that must not wait.

import re
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest

from helpers import (TIMEOUT, HTTPServer, connect_status, dump_yaml,
                     run_hushgate, sha256, wait_until, write_hosts)
from test_metrics import metric, parse, scrape

LIST_HOST = "lists.test"


class _ListHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        with srv.lock:
            srv.requests.append((self.path, dict(self.headers.items())))
            route = dict(srv.routes.get(self.path, {"status": 404}))
        status = route.get("status", 200)
        if status != 200:
            self.send_response(status)
            if "location" in route:
                self.send_header("Location", route["location"])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = route["body"]
        etag = '"%s"' % sha256(body)[:16]
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", "Tue, 01 Dec 2026 00:00:00 GMT")
        mode = route.get("mode", "length")
        if mode == "length":
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif mode == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 7):
                part = body[i:i + 7]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:   # close-delimited
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True


class ListServer(HTTPServer):
    """HTTPS server of lists: routes[path] = {body, status, location,
    mode (length, chunked, close)}; every request is recorded."""

    def __init__(self, tls_ctx):
        self.lock = threading.Lock()
        self.routes = {}
        self.requests = []
        super().__init__(tls_ctx, _ListHandler)

    def serve(self, path, body, **kw):
        with self.lock:
            self.routes[path] = dict(body=body, **kw)

    def url(self, path, host=LIST_HOST):
        return "https://%s:%d%s" % (host, self.port, path)

    def seen(self, path):
        with self.lock:
            return [h for p, h in self.requests if p == path]


@pytest.fixture
def lists(test_ca):
    """A list server of the test's own; its TLS context records the names
    clients ask for (SNI) in .sni."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(test_ca["cert"], test_ca["key"])
    sni = []
    ctx.sni_callback = lambda sock, name, c: sni.append(name)
    srv = ListServer(ctx)
    srv.sni = sni
    yield srv
    srv.close()


def names(*n):
    return ("".join("%s\n" % x for x in n)).encode()


def list_config(tmp_path, test_ca, urls, hosts=(LIST_HOST,), **extra):
    """A configuration with one deny category fed by the url: lists (each
    a dict, or a URL string), the cache in tmp_path/cache.  Returns its
    path."""
    entries = []
    for u in urls:
        e = {"url": u} if isinstance(u, str) else dict(u)
        e.setdefault("format", "domains")
        e.setdefault("ca_file", test_ca["ca"])
        entries.append(e)
    cfg = {"dns": {"servers": [],
                   "hosts_file": str(write_hosts(tmp_path / "hosts",
                                                 hosts))},
           "log": {"decisions": None},
           "lists": dict({"cache_dir": str(tmp_path / "cache"),
                          "timeout": "10s"}, **extra),
           "categories": {"blocked": {"action": "deny",
                                      "lists": entries}}}
    return dump_yaml(cfg, tmp_path / "hushgate.yaml")


def update(cfg):
    return run_hushgate(["lists", "update", "-c", str(cfg)])


def rules_count(cfg):
    cp = run_hushgate(["-t", "-c", str(cfg)])
    assert cp.returncode == 0, cp.stderr
    m = re.search(r"^rules: (\d+) ", cp.stdout, re.M)
    assert m, cp.stdout
    return int(m.group(1)), cp.stdout


def cached_bodies(tmp_path):
    d = tmp_path / "cache"
    return sorted(p.read_bytes() for p in d.glob("*.list")) \
        if d.is_dir() else []


def test_first_download_then_the_proxy_denies(tmp_path, test_ca, lists,
                                              proxy):
    lists.serve("/block.txt", names("# a comment", "tracker.example",
                                    "ads.example"))
    url = lists.url("/block.txt")
    cfg = list_config(tmp_path, test_ca, [url])
    n, out = rules_count(cfg)
    assert n == 0 and "never downloaded" in out, out
    assert re.search(r"^  %s  never downloaded$" % re.escape(url), out,
                     re.M), out

    cp = update(cfg)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert re.fullmatch(r"%s: 2 entries, \+2/-0; \d+ bytes in [\d.]+s\n" %
                        re.escape(url), cp.stdout), cp.stdout
    # SNI and Host name the list's host; nothing conditional the first time
    hdrs = lists.seen("/block.txt")
    assert len(hdrs) == 1
    assert hdrs[0]["Host"] == "%s:%d" % (LIST_HOST, lists.port)
    assert lists.sni == [LIST_HOST]
    assert "If-None-Match" not in hdrs[0]
    n, out = rules_count(cfg)
    assert n == 2 and "never downloaded" not in out, out
    assert re.search(r"^  %s  2 rules, checked \d{4}-\d\d-\d\dT" %
                     re.escape(url), out, re.M), out
    cp = run_hushgate(["explain", "-c", str(cfg), "tracker.example",
                       "other.example"])
    rows = [l.split("\t") for l in cp.stdout.splitlines()]
    assert rows[0][1:3] == ["deny", "blocked"], cp.stdout
    assert rows[0][3] == url + ":2", cp.stdout
    assert rows[1][1] == "allow", cp.stdout

    # A proxy started on the same cache denies the listed host.
    p = proxy({"lists": {"cache_dir": str(tmp_path / "cache")},
               "categories": {"blocked": {"action": "deny", "lists": [
                   {"url": url, "format": "domains",
                    "ca_file": test_ca["ca"]}]}}},
              hosts=[LIST_HOST])
    assert connect_status(p.port, "tracker.example:443") == 403
    assert connect_status(p.port, "other.example:443") != 403
    assert "never downloaded" not in p.stderr_text()


@pytest.mark.parametrize("mode", ["chunked", "close"])
def test_chunked_and_close_delimited_bodies(tmp_path, test_ca, lists, mode):
    body = names(*("n%d.example" % i for i in range(50)))
    lists.serve("/l.txt", body, mode=mode)
    cfg = list_config(tmp_path, test_ca, [lists.url("/l.txt")])
    cp = update(cfg)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert ": 50 entries, +50/-0; %d bytes in " % len(body) in cp.stdout
    assert cached_bodies(tmp_path) == [body]


def test_redirect_to_https_is_followed_and_to_http_refused(tmp_path,
                                                           test_ca, lists):
    lists.serve("/new.txt", names("moved.example"))
    lists.serve("/old.txt", b"", status=302,
                location=lists.url("/new.txt"))
    lists.serve("/rel.txt", b"", status=301, location="/new.txt")
    lists.serve("/plain.txt", b"", status=302,
                location="http://%s:%d/new.txt" % (LIST_HOST, lists.port))
    cfg = list_config(tmp_path, test_ca, [lists.url("/old.txt"),
                                          lists.url("/rel.txt")])
    cp = update(cfg)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert cp.stdout.count("1 entries, +1/-0") == 2, cp.stdout
    cfg = list_config(tmp_path, test_ca, [lists.url("/plain.txt")])
    cp = update(cfg)
    assert cp.returncode == 1
    assert "error: redirect to 'http://" in cp.stdout, cp.stdout
    assert "only https://" in cp.stdout
    # a loop ends after 5 redirects
    lists.serve("/loop.txt", b"", status=307, location="/loop.txt")
    cfg = list_config(tmp_path, test_ca, [lists.url("/loop.txt")])
    cp = update(cfg)
    assert cp.returncode == 1
    assert re.search(r": error: more than 5 redirects; 0 bytes in [\d.]+s\n$",
                     cp.stdout), cp.stdout
    assert len(lists.seen("/loop.txt")) == 6


def test_304_revalidation_changes_nothing(tmp_path, test_ca, lists):
    body = names("a.example", "b.example")
    lists.serve("/l.txt", body)
    cfg = list_config(tmp_path, test_ca, [lists.url("/l.txt")])
    assert update(cfg).returncode == 0
    meta = list((tmp_path / "cache").glob("*.meta"))
    assert len(meta) == 1
    before = meta[0].read_text()
    etag = re.search(r"^etag (.*)$", before, re.M).group(1)
    assert etag.startswith('"')

    cp = update(cfg)
    assert cp.returncode == 0, cp.stdout
    assert re.fullmatch(r"%s: not modified; 0 bytes in [\d.]+s\n" %
                        re.escape(lists.url("/l.txt")), cp.stdout), cp.stdout
    second = lists.seen("/l.txt")[1]
    assert second["If-None-Match"] == etag
    assert second["If-Modified-Since"] == "Tue, 01 Dec 2026 00:00:00 GMT"
    assert cached_bodies(tmp_path) == [body]
    after = meta[0].read_text()
    strip = lambda t: re.sub(r"^checked .*$", "", t, flags=re.M)
    assert strip(after) == strip(before)
    assert rules_count(cfg)[0] == 2


def test_changed_list_is_applied_without_restart(tmp_path, test_ca, lists,
                                                 proxy):
    lists.serve("/l.txt", names("first.example", "common.example"))
    url = lists.url("/l.txt")
    p = proxy({"lists": {"cache_dir": str(tmp_path / "cache")},
               "categories": {"blocked": {"action": "deny", "lists": [
                   {"url": url, "format": "domains", "refresh": "1s",
                    "ca_file": test_ca["ca"]}]}}},
              hosts=[LIST_HOST])
    # Never downloaded: empty at start, then the first refresh applies it.
    p.wait_stderr(r"lists: %s: never downloaded" % re.escape(url))
    p.wait_stderr(r"lists: %s: \d+ bytes, 2 entries, \+2/-0" %
                  re.escape(url))
    wait_until(lambda: connect_status(p.port, "first.example:443") == 403,
               "first.example denied after the first download")

    mark = p.nlines()
    lists.serve("/l.txt", names("second.example", "common.example"))
    p.wait_stderr(r"lists: %s: \d+ bytes, 2 entries, \+1/-1" %
                  re.escape(url), start=mark)
    p.wait_stderr(r"^hushgate: reload: ok", start=mark)
    wait_until(lambda: connect_status(p.port, "second.example:443") == 403,
               "second.example denied after the change")
    assert connect_status(p.port, "first.example:443") != 403
    assert connect_status(p.port, "common.example:443") == 403
    # The unchanged list is revalidated with its ETag: no reload.
    mark = p.nlines()
    p.wait_stderr(r"lists: %s: not modified" % re.escape(url), start=mark)
    assert not any("reload:" in l for l in p.lines[mark:])


def test_broken_config_at_refresh_keeps_running_rules(tmp_path, test_ca,
                                                      lists, proxy):
    lists.serve("/l.txt", names("one.example"))
    url = lists.url("/l.txt")
    conf = {"lists": {"cache_dir": str(tmp_path / "cache")},
            "categories": {"blocked": {"action": "deny", "lists": [
                {"url": url, "format": "domains", "refresh": "1s",
                 "ca_file": test_ca["ca"]}]}}}
    p = proxy(conf, hosts=[LIST_HOST])
    p.wait_stderr(r"lists: %s: .*\+1/-0" % re.escape(url))
    wait_until(lambda: connect_status(p.port, "one.example:443") == 403,
               "one.example denied")
    mark = p.nlines()
    p.config_path.write_text(p.config_path.read_text() +
                             "\nno_such_key: 1\n")
    lists.serve("/l.txt", names("two.example"))
    p.wait_stderr(r"lists: %s: .*\+1/-1" % re.escape(url), start=mark)
    p.wait_stderr(r"^hushgate: reload: failed, keeping generation",
                  start=mark)
    p.wait_stderr(r"unknown key 'no_such_key'", start=mark)
    assert connect_status(p.port, "one.example:443") == 403
    assert connect_status(p.port, "two.example:443") != 403


def test_server_down_keeps_the_last_good_copy(tmp_path, test_ca, lists,
                                              proxy):
    lists.serve("/l.txt", names("kept.example"))
    url = lists.url("/l.txt")
    cfg = list_config(tmp_path, test_ca, [url])
    assert update(cfg).returncode == 0
    lists.close()
    cp = update(cfg)
    assert cp.returncode == 1
    assert re.fullmatch(r"%s: error: cannot connect to %s port %d: .*\n" %
                        (re.escape(url), LIST_HOST, lists.port),
                        cp.stdout), cp.stdout
    assert rules_count(cfg)[0] == 1

    p = proxy({"lists": {"cache_dir": str(tmp_path / "cache")},
               "categories": {"blocked": {"action": "deny", "lists": [
                   {"url": url, "format": "domains", "refresh": "1s",
                    "ca_file": test_ca["ca"]}]}}},
              hosts=[LIST_HOST])
    p.wait_stderr(r"lists: %s: failed: cannot connect .*; keeping the "
                  r"last good copy$" % re.escape(url))
    assert connect_status(p.port, "kept.example:443") == 403


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    """A CA the server's certificate does not come from."""
    d = tmp_path_factory.mktemp("otherca")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                    str(d / "ca.key"), "-out", str(d / "ca.pem"), "-days",
                    "3", "-subj", "/CN=another test CA", "-addext",
                    "basicConstraints=critical,CA:TRUE"],
                   check=True, capture_output=True, timeout=TIMEOUT)
    return str(d / "ca.pem")


@pytest.mark.parametrize("case", ["other-ca", "wrong-name", "system-ca"])
def test_bad_certificate_is_refused(tmp_path, test_ca, other_ca, lists,
                                    case):
    lists.serve("/l.txt", names("x.example"))
    host = LIST_HOST
    entry = {"url": lists.url("/l.txt")}
    if case == "other-ca":
        entry["ca_file"] = other_ca
    elif case == "wrong-name":
        # the certificate names *.test, echo.test, web.test and 127.0.0.1
        host = "lists.example"
        entry["url"] = lists.url("/l.txt", host=host)
    else:
        entry["ca_file"] = "/etc/ssl/certs/ca-certificates.crt"
    cfg = list_config(tmp_path, test_ca, [entry], hosts=[host])
    cp = update(cfg)
    assert cp.returncode == 1
    assert re.fullmatch(r"%s: error: certificate of %s refused: .*\n" %
                        (re.escape(entry["url"]), host), cp.stdout), \
        cp.stdout + cp.stderr
    assert cached_bodies(tmp_path) == []
    assert rules_count(cfg)[0] == 0


def test_pin_mismatch_is_refused(tmp_path, test_ca, lists):
    body = names("pinned.example")
    lists.serve("/l.txt", body)
    url = lists.url("/l.txt")
    cfg = list_config(tmp_path, test_ca, [{"url": url,
                                           "sha256": "00" * 32}])
    cp = update(cfg)
    assert cp.returncode == 1
    assert "error: sha256 mismatch: the body is %s" % sha256(body) \
        in cp.stdout, cp.stdout
    assert cached_bodies(tmp_path) == []
    cfg = list_config(tmp_path, test_ca, [{"url": url,
                                           "sha256": sha256(body).upper()}])
    cp = update(cfg)
    assert cp.returncode == 0, cp.stdout
    assert cached_bodies(tmp_path) == [body]


def test_truncated_list_is_refused_by_the_shrink_guard(tmp_path, test_ca,
                                                       lists):
    full = names(*("n%d.example" % i for i in range(10)))
    lists.serve("/l.txt", full)
    url = lists.url("/l.txt")
    cfg = list_config(tmp_path, test_ca, [url])
    assert update(cfg).returncode == 0
    lists.serve("/l.txt", full[:full.index(b"n4.")])    # 4 of 10 left
    cp = update(cfg)
    assert cp.returncode == 1
    assert "error: 4 entries, down from 10: more than max_shrink (0.5)" \
        in cp.stdout, cp.stdout
    assert cached_bodies(tmp_path) == [full]
    assert rules_count(cfg)[0] == 10
    # Half of them may go (max_shrink 0.5); and a list with no entry at
    # all never replaces one.
    lists.serve("/l.txt", full[:full.index(b"n5.")])
    cp = update(cfg)
    assert cp.returncode == 0 and "5 entries, +0/-5" in cp.stdout, cp.stdout
    lists.serve("/l.txt", b"# nothing left\n")
    cp = update(cfg)
    assert cp.returncode == 1 and "error: no entries" in cp.stdout
    assert rules_count(cfg)[0] == 5


@pytest.mark.parametrize("status", [404, 500])
def test_http_error_keeps_the_last_good_copy(tmp_path, test_ca, lists,
                                             status):
    lists.serve("/l.txt", names("a.example", "b.example"))
    url = lists.url("/l.txt")
    cfg = list_config(tmp_path, test_ca, [url])
    assert update(cfg).returncode == 0
    lists.serve("/l.txt", b"", status=status)
    cp = update(cfg)
    assert cp.returncode == 1
    assert re.fullmatch(r"%s: error: HTTP %d; 0 bytes in [\d.]+s\n" %
                        (re.escape(url), status), cp.stdout), cp.stdout
    assert rules_count(cfg)[0] == 2


@pytest.mark.parametrize("mode", ["length", "chunked", "close"])
def test_oversize_body_is_refused(tmp_path, test_ca, lists, mode):
    body = names(*("n%d.example" % i for i in range(100)))
    assert len(body) > 1000
    lists.serve("/l.txt", body, mode=mode)
    cfg = list_config(tmp_path, test_ca, [{"url": lists.url("/l.txt"),
                                           "max_bytes": "1000"}])
    cp = update(cfg)
    assert cp.returncode == 1
    assert "larger than max_bytes" in cp.stdout, cp.stdout
    assert cached_bodies(tmp_path) == []
    # The global bound applies when the list sets none.
    cfg = list_config(tmp_path, test_ca, [lists.url("/l.txt")],
                      max_bytes="1KiB")
    cp = update(cfg)
    assert cp.returncode == 1 and "larger than max_bytes" in cp.stdout


def test_start_without_cache_and_server_unreachable_does_not_wait(
        tmp_path, test_ca, proxy):
    # A "server" that accepts connections and never says a word: a
    # download waits for the whole lists.timeout, and fails.  The proxy
    # must be listening, and serving with the list empty, before that.
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)
    try:
        url = "https://%s:%d/l.txt" % (LIST_HOST, hole.getsockname()[1])
        p = proxy({"lists": {"cache_dir": str(tmp_path / "cache"),
                             "timeout": "3s"},
                   "categories": {"blocked": {"action": "deny", "lists": [
                       {"url": url, "format": "domains",
                        "ca_file": test_ca["ca"]}]}}},
                  hosts=[LIST_HOST, "any.example"])
        listening = p.last_index
        p.wait_stderr(r"lists: %s: never downloaded, treated as empty" %
                      re.escape(url))
        # Served, the list being empty: allowed (and then refused by the
        # closed port behind it, not by a rule).
        assert connect_status(p.port, "any.example:443") != 403
        rec = p.wait_log(lambda r: r["host"] == "any.example",
                         "the decision on any.example")[0]
        assert rec["action"] == "allow"
        p.wait_stderr(r"lists: %s: failed: timed out; the list stays "
                      r"empty$" % re.escape(url))
        assert p.last_index > listening
        assert not list((tmp_path / "cache").glob("*.list"))
    finally:
        hole.close()


def test_exit_during_a_download(tmp_path, test_ca, proxy):
    # SIGTERM while a download waits for its server: the download is
    # dropped, the proxy exits at once and cleanly (the teardown fails the
    # test on an unclean exit or a sanitizer report, leaks included).
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)
    hole.settimeout(TIMEOUT)
    try:
        url = "https://%s:%d/l.txt" % (LIST_HOST, hole.getsockname()[1])
        p = proxy({"lists": {"cache_dir": str(tmp_path / "cache"),
                             "timeout": "60s"},
                   "timeouts": {"drain": "1s"},
                   "categories": {"blocked": {"action": "deny", "lists": [
                       {"url": url, "format": "domains",
                        "ca_file": test_ca["ca"]}]}}},
                  hosts=[LIST_HOST])
        conn, _ = hole.accept()         # the download has connected
        try:
            conn.settimeout(TIMEOUT)
            assert conn.recv(5)[:1] == b"\x16"     # a TLS handshake record
            started = time.monotonic()
            assert p.terminate() == 0
            assert time.monotonic() - started < TIMEOUT
            assert not any("lists: %s:" % url in l and "failed" in l
                           for l in p.lines)
        finally:
            conn.close()
    finally:
        hole.close()


def test_copy_from_lists_update_reaches_a_running_proxy(
        tmp_path, test_ca, other_ca, lists, proxy):
    # The running proxy trusts another CA, so its own downloads fail;
    # `hushgate lists update` caches a new copy, and the proxy's next
    # refresh -- failed as ever -- still reloads: its rules are older than
    # the cached copy.
    lists.serve("/l.txt", names("old.example"))
    url = lists.url("/l.txt")
    cfg = list_config(tmp_path, test_ca, [url])
    assert update(cfg).returncode == 0
    p = proxy({"lists": {"cache_dir": str(tmp_path / "cache")},
               "categories": {"blocked": {"action": "deny", "lists": [
                   {"url": url, "format": "domains", "refresh": "1s",
                    "ca_file": other_ca}]}}},
              hosts=[LIST_HOST])
    p.wait_stderr(r"lists: %s: failed: certificate of %s refused" %
                  (re.escape(url), LIST_HOST))
    assert connect_status(p.port, "old.example:443") == 403
    assert not any("reload:" in l for l in p.lines)
    lists.serve("/l.txt", names("new.example"))
    mark = p.nlines()
    cp = update(cfg)
    assert cp.returncode == 0 and "+1/-1" in cp.stdout, cp.stdout
    p.wait_stderr(r"lists: %s: the cached copy is newer than the running "
                  r"rules" % re.escape(url), start=mark)
    p.wait_stderr(r"^hushgate: reload: ok", start=mark)
    assert connect_status(p.port, "new.example:443") == 403
    assert connect_status(p.port, "old.example:443") != 403
    # Once reloaded, the failures reload nothing.
    mark = p.nlines()
    p.wait_stderr(r"lists: %s: failed" % re.escape(url), start=mark)
    p.wait_stderr(r"lists: %s: failed" % re.escape(url),
                  start=p.last_index + 1)
    assert not any("reload:" in l for l in p.lines[mark:])


# -- hushgate_list_age_seconds ------------------------------------------------

def _meta_checked(tmp_path):
    """The checked time in the one metadata file of the cache."""
    metas = list((tmp_path / "cache").glob("*.meta"))
    assert len(metas) == 1, metas
    m = re.search(r"^checked (\d+)$", metas[0].read_text(), re.M)
    assert m, metas[0].read_text()
    return int(m.group(1))


def _scraped_age(p, url, checked):
    """The list age of a scrape, which must be the time of the scrape
    (between the clock before and after it) less checked. The clock is
    the one time(3) reads on Linux, the coarse real-time clock, which may
    be a tick behind time.time() across a second boundary (and the checks
    are due on second boundaries)."""
    def now():
        # CLOCK_REALTIME_COARSE is 5 on Linux (Python 3.11 names none)
        return int(time.clock_gettime(getattr(
            time, "CLOCK_REALTIME_COARSE", 5)))
    before = now()
    s = parse(scrape(p.port).body.decode())
    after = now()
    age = metric(s, "hushgate_list_age_seconds", url=url)
    assert before - checked <= age <= after - checked, (age, checked)
    return age


def _lists_proxy(proxy, tmp_path, test_ca, url, refresh):
    p = proxy({"lists": {"cache_dir": str(tmp_path / "cache")},
               "categories": {"blocked": {"action": "deny", "lists": [
                   {"url": url, "format": "domains", "refresh": refresh,
                    "ca_file": test_ca["ca"]}]}}},
              hosts=[LIST_HOST])
    p.wait_stderr(r"lists: %s: \d+ bytes, 2 entries, \+2/-0" %
                  re.escape(url))
    p.wait_stderr(r"^hushgate: reload: ok", start=p.last_index)
    return p


def test_list_age_follows_each_check(tmp_path, test_ca, lists, proxy):
    """A revalidation (304, no reload) moves the list's age on /metrics
    to the new check."""
    lists.serve("/l.txt", names("a.example", "b.example"))
    url = lists.url("/l.txt")
    p = _lists_proxy(proxy, tmp_path, test_ca, url, "1s")
    first = _meta_checked(tmp_path)
    _scraped_age(p, url, first)
    mark = p.nlines()
    p.wait_stderr(r"lists: %s: not modified" % re.escape(url), start=mark)

    def later_check():
        # A check may land between reading the file and the scrape:
        # then try again.
        checked = _meta_checked(tmp_path)
        if checked == first:
            return None
        try:
            _scraped_age(p, url, checked)
        except AssertionError:
            if _meta_checked(tmp_path) == checked:
                raise
            return None
        return checked
    wait_until(later_check, "the age of a later check on /metrics")
    assert not any("reload:" in l for l in p.lines[mark:])


def test_list_age_is_kept_in_memory(tmp_path, test_ca, lists, proxy):
    """A scrape reads no file: with the list's metadata file gone, the age
    of its last check is still shown."""
    lists.serve("/l.txt", names("a.example", "b.example"))
    url = lists.url("/l.txt")
    p = _lists_proxy(proxy, tmp_path, test_ca, url, "1h")
    checked = _meta_checked(tmp_path)
    for meta in (tmp_path / "cache").glob("*.meta"):
        meta.unlink()
    assert _scraped_age(p, url, checked) >= 0


# ---------------------------------------------------------------------------
# The lines of `hushgate lists update`: one a list without a terminal; a
# line redrawn with the progress on one.

def test_update_prints_one_line_a_list(tmp_path, test_ca, lists):
    lists.serve("/a.txt", names("a.example", "b.example"))
    lists.serve("/b.txt", names(*("n%d.example" % i for i in range(300))),
                mode="chunked")
    lists.serve("/c.txt", b"", status=404)
    urls = [lists.url("/a.txt"), lists.url("/b.txt"), lists.url("/c.txt")]
    cp = update(list_config(tmp_path, test_ca, urls))
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert "\r" not in cp.stdout
    got = cp.stdout.splitlines()
    assert len(got) == 3, cp.stdout
    sizes = [len(names("a.example", "b.example")),
             len(names(*("n%d.example" % i for i in range(300))))]
    assert re.fullmatch(r"%s: 2 entries, \+2/-0; %d bytes in \d+\.\d\ds" %
                        (re.escape(urls[0]), sizes[0]), got[0]), got
    assert re.fullmatch(r"%s: 300 entries, \+300/-0; %d bytes in "
                        r"\d+\.\d\ds" % (re.escape(urls[1]), sizes[1]),
                        got[1]), got
    assert re.fullmatch(r"%s: error: HTTP 404; 0 bytes in \d+\.\d\ds" %
                        re.escape(urls[2]), got[2]), got


def _update_on_a_pty(cfg):
    """Run `hushgate lists update` with a pseudo-terminal as its standard
    output; returns (exit status, what it wrote there)."""
    import os
    import pty
    from helpers import clean_env, hushgate_bin
    master, slave = pty.openpty()
    proc = subprocess.Popen([hushgate_bin(), "lists", "update", "-c",
                             str(cfg)], stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=subprocess.PIPE,
                            env=clean_env())
    os.close(slave)
    out = bytearray()
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:         # EIO: the last writer has gone
            break
        if not data:
            break
        out += data
    os.close(master)
    rc = proc.wait(timeout=TIMEOUT * 6)
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert "Sanitizer" not in err, err
    return rc, out.decode().replace("\r\n", "\n")


def test_update_shows_progress_on_a_terminal(tmp_path, test_ca, lists):
    big = names(*("host%06d.example" % i for i in range(60000)))
    lists.serve("/big.txt", big)                        # Content-Length
    lists.serve("/small.txt", names("a.example"), mode="chunked")
    urls = [lists.url("/big.txt"), lists.url("/small.txt")]
    rc, out = _update_on_a_pty(list_config(tmp_path, test_ca, urls))
    assert rc == 0, out
    lines = out.split("\n")
    assert lines[-1] == "", out
    assert len(lines) == 3, out          # one line a list
    big_draws = lines[0].split("\r")
    small_draws = lines[1].split("\r")
    # each line starts with a draw, then redraws over it
    assert big_draws[0] == "" and small_draws[0] == "", out
    assert big_draws[1].rstrip() == "%s: ..." % urls[0], out
    progress = [d for d in big_draws[2:-1]]
    assert progress, out
    for d in progress:
        m = re.fullmatch(r"%s: [\d.]+ (?:B|KiB|MiB) of [\d.]+ MiB "
                         r"\((\d+)%%\), [\d.]+ (?:B|KiB|MiB|GiB)/s *" %
                         re.escape(urls[0]), d)
        assert m, (d, out)
        assert 0 <= int(m.group(1)) <= 100
    m = re.fullmatch(r"%s: 60000 entries, \+60000/-0; %d bytes in "
                     r"(\d+\.\d\d)s *" % (re.escape(urls[0]), len(big)),
                     big_draws[-1])
    assert m, out
    # at most one redraw every 100 ms, and the first at once
    assert len(progress) <= float(m.group(1)) * 10 + 2, (len(progress), out)
    # no size known: bytes and rate, no percent
    assert any(re.fullmatch(r"%s: \d+ B, [\d.]+ (?:B|KiB|MiB)/s *" %
                            re.escape(urls[1]), d)
               for d in small_draws[2:-1]), out
    assert re.match(r"%s: 1 entries, \+1/-0; \d+ bytes in " %
                    re.escape(urls[1]), small_draws[-1]), out


def test_status_api_shows_each_lists_last_result(tmp_path, test_ca, lists,
                                                  proxy):
    """The status page's figures (/api/status) carry the last download's
    result of each list and when it ended: the download, then the server
    gone."""
    import json
    from helpers import raw_request

    def listed():
        r = raw_request(p.port, b"GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n")
        assert r.status == 200
        (one,) = json.loads(r.body.decode())["lists"]
        assert one["url"] == url
        return one

    lists.serve("/l.txt", names("a.example", "b.example"))
    url = lists.url("/l.txt")
    before = int(time.time())
    p = _lists_proxy(proxy, tmp_path, test_ca, url, "1s")
    first = listed()
    assert re.fullmatch(r"(\d+ bytes, 2 entries, \+2/-0|not modified)",
                        first["last"]), first
    assert first["last_at"] >= before
    lists.close()
    wait_until(lambda: listed()["last"].startswith(
        "failed: cannot connect"), "the failure shown")
    assert listed()["entries"] == 2

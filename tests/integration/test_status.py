"""The status page on the metrics/admin listener: its JSON API
(/api/status, /api/recent, /api/explain), for the addresses in
metrics.allow, after a scripted run with real clients; hostile requests
to it; the page itself (/, /status.js, /status.css), its headers, and
what a headless Chromium renders of it."""

import hashlib
import json
import re

import pytest

from helpers import (connect_status, open_client, raw_request, read_response,
                     read_to_eof, run_hushgate, wait_until)

N_ALLOWED, M_DENIED, K_UNKNOWN = 4, 3, 2


def _cfg(port, **extra):
    cfg = {"connect_ports": [port],
           "default": "allow",
           "categories": {"good": {"action": "allow",
                                   "hosts": ["ok.test"]},
                          "blocked": {"action": "deny",
                                      "hosts": ["bad.test"]}}}
    cfg.update(extra)
    return cfg


def get(port, path, method="GET", source=None, body=b""):
    head = ("%s %s HTTP/1.1\r\nHost: x\r\n" % (method, path)).encode()
    if body:
        head += b"Content-Length: %d\r\n" % len(body)
    return raw_request(port, head + b"\r\n" + body, source=source)


def api(port, path):
    r = get(port, path)
    assert r.status == 200, (path, r.status, r.body)
    assert r.headers.get("content-type") == "application/json"
    return json.loads(r.body.decode())


def scripted_run(p, port):
    """N allowed CONNECTs (rule good), M denied (category blocked), K to a
    host no rule names (decided by default); returns when all are
    recorded. Each waits for its record before the next starts: a
    tunnel's record is written when the proxy sees it close, which another
    worker may not yet have done when the next request is decided, and the
    recent decisions are ordered by when they were recorded."""
    done = 0
    for host, n, status in (("ok.test", N_ALLOWED, 200),
                            ("bad.test", M_DENIED, 403),
                            ("unknown.test", K_UNKNOWN, 200)):
        for _ in range(n):
            assert connect_status(p.port, "%s:%d" % (host, port)) == status
            done += 1
            wait_until(lambda: api(p.port, "/api/status")["requests_total"]
                       == done, "decision %d recorded" % done)


@pytest.fixture
def scripted(proxy, echo_server):
    p = proxy(_cfg(echo_server.port),
              hosts=["ok.test", "bad.test", "unknown.test"])
    scripted_run(p, echo_server.port)
    return p


def _cat(st, name):
    got = [c for c in st["categories"] if c["name"] == name]
    assert len(got) == 1, (name, st["categories"])
    return got[0]


def test_api_status_counts(scripted):
    st = api(scripted.port, "/api/status")
    for window in ("since_start", "last_minute", "last_hour"):
        a = st["actions"][window]
        assert a["allow"] == N_ALLOWED + K_UNKNOWN, (window, a)
        assert a["deny"] == M_DENIED, (window, a)
        assert a["total"] == N_ALLOWED + M_DENIED + K_UNKNOWN
        assert _cat(st, "good")[window]["allow"] == N_ALLOWED
        assert _cat(st, "blocked")[window]["deny"] == M_DENIED
        assert _cat(st, "")[window]["allow"] == K_UNKNOWN
    assert st["top_denied"][0] == {"host": "bad.test", "count": M_DENIED}
    assert [t["host"] for t in st["top_denied"]] == ["bad.test"]
    assert st["top_unknown"] == [{"host": "unknown.test",
                                  "count": K_UNKNOWN}]
    assert st["workers"] == 2
    assert st["config"]["generation"] == 1
    assert st["uptime"] >= 0
    assert re.match(r"^\d+\.\d+", st["version"])
    files = st["config"]["rule_files"]
    assert [f["file"] for f in files] == [str(scripted.config_path)]
    assert files[0]["sha256"] == hashlib.sha256(
        scripted.config_path.read_bytes()).hexdigest()


def test_api_status_after_reload(scripted, echo_server):
    """A reload: a new generation, the new digest; counts go on."""
    scripted.rewrite_config(_cfg(echo_server.port,
                                 categories={"blocked": {
                                     "action": "deny",
                                     "hosts": ["bad.test", "x.test"]}}))
    scripted.reload()
    st = wait_until(lambda: (lambda s: s if s["config"]["generation"] == 2
                             else None)(api(scripted.port, "/api/status")),
                    "generation 2")
    assert st["config"]["rule_files"][0]["sha256"] == hashlib.sha256(
        scripted.config_path.read_bytes()).hexdigest()
    assert st["actions"]["since_start"]["deny"] == M_DENIED


def test_api_recent(scripted):
    rec = api(scripted.port, "/api/recent")["recent"]
    assert len(rec) == N_ALLOWED + M_DENIED + K_UNKNOWN
    # Newest first: the scripted order, reversed.
    hosts = [r["host"] for r in rec]
    assert hosts == (["unknown.test"] * K_UNKNOWN + ["bad.test"] * M_DENIED +
                     ["ok.test"] * N_ALLOWED)
    times = [r["time"] for r in rec]
    assert times == sorted(times, reverse=True)
    d = rec[K_UNKNOWN]
    assert (d["action"], d["category"], d["method"], d["client"],
            d["status"], d["end"]) == ("deny", "blocked", "CONNECT",
                                       "127.0.0.1", 403, "denied")
    assert d["rule"].startswith(str(scripted.config_path) + ":")
    assert rec[0]["default"] is True and rec[0]["category"] is None

    def hosts_of(q):
        return [r["host"] for r in api(scripted.port,
                                       "/api/recent?" + q)["recent"]]
    assert hosts_of("action=deny") == ["bad.test"] * M_DENIED
    assert hosts_of("category=good") == ["ok.test"] * N_ALLOWED
    assert hosts_of("host=know") == ["unknown.test"] * K_UNKNOWN
    assert hosts_of("host=%62ad") == ["bad.test"] * M_DENIED
    assert len(hosts_of("client=127.0.0.1")) == len(rec)
    assert hosts_of("client=127.0.0.2") == []
    assert hosts_of("limit=2") == ["unknown.test"] * 2
    assert hosts_of("action=allow&host=ok&limit=1") == ["ok.test"]
    assert hosts_of("action=&category=") == hosts


def _cli_explain(cfg_path, host):
    cp = run_hushgate(["explain", "-c", str(cfg_path), host])
    return cp.returncode, cp.stdout.strip().split("\t")


def test_api_explain_agrees_with_cli(scripted, echo_server):
    for host in ("ok.test:%d" % echo_server.port,
                 "bad.test:%d" % echo_server.port, "unknown.test",
                 "BAD.Test.:%d" % echo_server.port):
        rc, (target, action, category, rule) = _cli_explain(
            scripted.config_path, host)
        assert rc == 0
        e = api(scripted.port, "/api/explain?host=" + host)
        assert (e["target"], e["action"], e["category"] or "-",
                e["rule"] or "-") == (target, action, category, rule), host
    assert api(scripted.port, "/api/explain?host=bad.test:%d" %
               echo_server.port)["action"] == "deny"
    assert api(scripted.port, "/api/explain?host=unknown.test")[
        "reason"] == "port"
    # Invalid, for the command as for the API.
    rc, fields = _cli_explain(scripted.config_path, "bad host")
    assert rc == 1 and fields[1] == "invalid"
    for q in ("host=bad%20host", "host=", "", "host=a..b",
              "host=x.test:99999"):
        r = get(scripted.port, "/api/explain?" + q)
        assert r.status == 400, q
        assert "error" in json.loads(r.body.decode())


def test_api_hostile(scripted, echo_server):
    p = scripted
    bad = ["/api/recent?host=%", "/api/recent?host=%4", "/api/recent?host=%zz",
           "/api/recent?host=" + "a" * 257, "/api/recent?nope=1",
           "/api/recent?host=a&host=b", "/api/recent?limit=1001",
           "/api/recent?limit=0", "/api/recent?limit=-1",
           "/api/recent?limit=99999999999999999999999",
           "/api/recent?limit=1x", "/api/recent?host=%00",
           "/api/recent?client=%0d%0aX:1", "/api/status?x=1",
           "/api/explain?host=%"]
    for path in bad:
        r = get(p.port, path)
        assert r.status == 400, path
        assert json.loads(r.body.decode())["error"]
    assert get(p.port, "/api/recent?host=" + "a" * 256).status == 200
    assert get(p.port, "/api/recent?limit=1000").status == 200
    for m in ("POST", "PUT", "DELETE"):
        for path in ("/api/status", "/api/recent", "/api/explain?host=x"):
            r = get(p.port, path, method=m, body=b"{}")
            assert r.status == 405, (m, path)
            assert r.headers.get("allow") == "GET, HEAD"
    for path in ("/api/../metrics", "/api/status/../../etc/passwd",
                 "/api//status", "/API/status", "/api/status/",
                 "/%2e%2e/etc/passwd", "/api/", "/api"):
        assert get(p.port, path).status == 404, path
    with open_client(p.port) as s:
        s.sendall(b"HEAD /api/status HTTP/1.1\r\nHost: x\r\n\r\n")
        h = read_response(s, body=False)
        assert h.status == 200
        assert int(h.headers.get("content-length")) > 100
        assert read_to_eof(s) == b""
    # Still serving.
    assert connect_status(p.port, "ok.test:%d" % echo_server.port) == 200
    wait_until(lambda: api(p.port, "/api/status")["actions"]["since_start"][
        "total"] == N_ALLOWED + M_DENIED + K_UNKNOWN + 1, "one more decision")


def test_api_refused_outside_metrics_allow(proxy, echo_server):
    p = proxy(_cfg(echo_server.port, metrics={"allow": ["127.0.0.2/32"]}),
              hosts=["ok.test"])
    for path in ("/api/status", "/api/recent", "/api/explain?host=ok.test"):
        r = get(p.port, path)
        assert r.status == 403, path
        assert b"metrics.allow" in r.body
        assert get(p.port, path, source="127.0.0.2").status == 200
    assert connect_status(p.port, "ok.test:%d" % echo_server.port) == 200


def test_api_on_admin_listener(proxy, echo_server):
    """metrics.listen serves the status page too, never the PAC file."""
    p = proxy(_cfg(echo_server.port, metrics={"listen": ["127.0.0.1:0"]}),
              hosts=["ok.test"])
    m = wait_until(lambda: re.search(
        r"serving /metrics only on 127\.0\.0\.1:(\d+)", p.stderr_text()),
        "the admin listener")
    admin = int(m.group(1))
    assert connect_status(p.port, "ok.test:%d" % echo_server.port) == 200
    wait_until(lambda: api(admin, "/api/status")["requests_total"] == 1,
               "the decision on the admin listener")
    assert api(admin, "/api/recent")["recent"][0]["host"] == "ok.test"
    assert get(admin, "/proxy.pac").status == 404


# --- the page -------------------------------------------------------------

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
       "connect-src 'self'; img-src 'self'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")
PAGE = [("/", "text/html; charset=utf-8", b"<!DOCTYPE html>"),
        ("/status.js", "text/javascript; charset=utf-8", b"'use strict';"),
        ("/status.css", "text/css; charset=utf-8", b"body {")]


def test_page_headers(proxy, echo_server):
    p = proxy(_cfg(echo_server.port))
    for path, ctype, start in PAGE:
        r = get(p.port, path)
        assert r.status == 200, path
        assert r.headers.get("content-type") == ctype
        assert r.headers.get("content-security-policy") == CSP
        assert r.headers.get("x-content-type-options") == "nosniff"
        assert r.headers.get("cache-control") == "no-store"
        assert r.headers.get("referrer-policy") == "no-referrer"
        assert r.body.startswith(start), path
        assert int(r.headers.get("content-length")) == len(r.body)
    html = get(p.port, "/").body.decode()
    # Self-contained: nothing from elsewhere, nothing inline.
    assert not re.search(r"(src|href)=\"(?!/status\.)", html)
    assert "<style" not in html and "<script>" not in html
    assert "innerHTML" not in get(p.port, "/status.js").body.decode()
    assert get(p.port, "/?explain=x").status == 200
    assert get(p.port, "/status.js", method="POST", body=b"x").status == 405
    assert get(p.port, "/", source="127.0.0.2").status == 200


def test_page_refused_outside_metrics_allow(proxy, echo_server):
    p = proxy(_cfg(echo_server.port, metrics={"allow": ["127.0.0.2/32"]}))
    for path, _, _ in PAGE:
        assert get(p.port, path).status == 403, path
        assert get(p.port, path, source="127.0.0.2").status == 200, path


def test_page_source_is_current():
    """proxy/statuspage.c is what scripts/statuspage makes of the
    sources."""
    import subprocess
    from pathlib import Path
    top = Path(__file__).resolve().parents[2]
    cp = subprocess.run(["/usr/bin/python3", str(top / "scripts" /
                                                 "statuspage"), "--check"],
                        capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr


# --- in a browser -----------------------------------------------------------

HOSTILE = "<script>document.title='pwned'</script>.test"


def chromium(tmp_path, url, *args):
    """Run headless Chromium on url (loopback, its own profile) with the
    page's script given 5 s of virtual time; returns its stdout."""
    import shutil
    import subprocess
    exe = shutil.which("chromium") or "/usr/bin/chromium"
    profile = tmp_path / "chromium-profile"
    cmd = [exe, "--headless=new", "--no-sandbox", "--disable-gpu",
           "--no-first-run", "--no-default-browser-check",
           "--disable-extensions", "--disable-background-networking",
           "--hide-scrollbars", "--force-device-scale-factor=1",
           "--no-proxy-server", "--user-data-dir=%s" % profile,
           "--virtual-time-budget=5000"] + list(args) + [url]
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr[-2000:]
    return cp.stdout


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "%s: not a PNG" % path
    assert data[12:16] == b"IHDR"
    return (int.from_bytes(data[16:20], "big"),
            int.from_bytes(data[20:24], "big"))


def test_page_in_browser(scripted, echo_server, tmp_path):
    p = scripted
    # Client text with markup reaches the recent decisions: the raw
    # target of a CONNECT the proxy refuses (400).
    r = raw_request(p.port, ("CONNECT %s:443 HTTP/1.1\r\nHost: x\r\n\r\n" %
                             HOSTILE).encode())
    assert r.status == 400
    wait_until(lambda: any(e["host"].startswith("<script>") for e in
                           api(p.port, "/api/recent")["recent"]),
               "the hostile host recorded")
    url = "http://127.0.0.1:%d/?explain=bad.test:%d" % (p.port,
                                                        echo_server.port)
    dom = chromium(tmp_path, url, "--dump-dom")
    # The page's own script ran; no injected one did.
    assert 'data-script="ran"' in dom
    assert "<title>hushgate status</title>" in dom
    assert "pwned" not in dom.split("<title>")[1].split("</title>")[0]
    assert HOSTILE.replace("<", "&lt;").replace(">", "&gt;") in dom
    assert "<script>document.title" not in dom

    def section(table_id):
        m = re.search(r'<table id="%s">(.*?)</table>' % table_id, dom, re.S)
        assert m, "no table %s in the page" % table_id
        return m.group(1)

    def rows(table_id):
        return [re.findall(r"<td[^>]*>(.*?)</td>", tr)
                for tr in re.findall(r"<tr[^>]*>(.*?)</tr>",
                                     section(table_id), re.S)[1:]]

    acts = {r[0]: r[1:] for r in rows("actions")}
    total = N_ALLOWED + M_DENIED + K_UNKNOWN
    assert acts["allow"] == [str(N_ALLOWED + K_UNKNOWN)] * 3
    assert acts["deny"] == [str(M_DENIED + 1)] * 3
    assert acts["total"] == [str(total + 1)] * 3
    cats = {r[0]: r[1:] for r in rows("categories")}
    assert cats["good"] == [str(N_ALLOWED)] * 3
    assert cats["blocked"] == [str(M_DENIED)] * 3
    assert rows("top-denied")[0] == ["bad.test", str(M_DENIED)]
    assert ["unknown.test", str(K_UNKNOWN)] in rows("top-unknown")
    recent = rows("recent")
    assert len(recent) == total + 1
    denied = [r for r in recent if r[3] == "bad.test:%d" % echo_server.port]
    assert len(denied) == M_DENIED
    assert denied[0][4:6] == ["deny", "blocked"]
    assert rows("explain-out") == [["bad.test:%d" % echo_server.port, "deny",
                                    "blocked", denied[0][6]]]
    files = rows("files")
    assert files[0][1] == hashlib.sha256(
        p.config_path.read_bytes()).hexdigest()
    # A filter given in the address applies to the recent table.
    dom = chromium(tmp_path, "http://127.0.0.1:%d/?host=unknown" % p.port,
                   "--dump-dom")
    assert [r[3] for r in rows("recent")] == ["unknown.test:%d" %
                                              echo_server.port] * K_UNKNOWN
    # Screenshots at a phone's and a desktop's size, kept as artefacts.
    for w, h in ((1280, 800), (390, 844)):
        shot = tmp_path / ("status-%dx%d.png" % (w, h))
        chromium(tmp_path, "http://127.0.0.1:%d/" % p.port,
                 "--screenshot=%s" % shot, "--window-size=%d,%d" % (w, h))
        print("screenshot:", shot)
        assert shot.stat().st_size > 1000
        assert png_size(shot) == (w, h)


def test_api_while_busy(proxy, echo_server):
    """Status requests while every worker records decisions (the stores
    are read under their workers' locks): the figures add up at the
    end."""
    import threading
    p = proxy(_cfg(echo_server.port, workers=4), hosts=["ok.test",
                                                         "bad.test"])
    per, nthreads = 15, 4
    errors = []

    def client(i):
        try:
            for k in range(per):
                host = "bad.test" if (i + k) % 3 == 0 else "ok.test"
                want = 403 if host == "bad.test" else 200
                assert connect_status(p.port, "%s:%d" % (
                    host, echo_server.port)) == want
        except Exception as e:  # reported below
            errors.append(e)
    threads = [threading.Thread(target=client, args=(i,))
               for i in range(nthreads)]
    for t in threads:
        t.start()
    polls = 0
    while any(t.is_alive() for t in threads) or polls < 5:
        api(p.port, "/api/status")
        api(p.port, "/api/recent?limit=1000")
        polls += 1
    for t in threads:
        t.join()
    assert not errors, errors
    denied = sum(1 for i in range(nthreads) for k in range(per)
                 if (i + k) % 3 == 0)
    st = wait_until(lambda: (lambda s: s if s["requests_total"] ==
                             per * nthreads else None)(
        api(p.port, "/api/status")), "every decision recorded")
    assert st["workers"] == 4
    assert st["actions"]["last_minute"]["deny"] == denied
    assert st["actions"]["last_minute"]["allow"] == per * nthreads - denied
    assert st["top_denied"] == [{"host": "bad.test", "count": denied}]
    assert len(api(p.port, "/api/recent?limit=1000")["recent"]) == \
        per * nthreads


def test_explain_box_typed(scripted, echo_server, tmp_path):
    """The explain box used as a person does: click in it, type a host,
    press Enter; the answer is the CLI's. Markup typed there shows as
    text."""
    from cdp import Browser
    p = scripted
    b = Browser(tmp_path / "chromium-profile")
    try:
        b.open("http://127.0.0.1:%d/" % p.port)
        # The probe may run while about:blank is being replaced.
        wait_until(lambda: b.evaluate(
            "location.protocol === 'http:' && document.documentElement "
            "!== null && document.documentElement.dataset.script") == "ran",
            "the page's script ran")

        def answer():
            return b.evaluate(
                "Array.from(document.querySelectorAll('#explain-out tr'))"
                ".slice(1).map(tr => Array.from(tr.cells)"
                ".map(td => td.textContent))")

        assert answer() == []
        target = "bad.test:%d" % echo_server.port
        rc, (t, action, category, rule) = _cli_explain(p.config_path, target)
        b.evaluate("document.getElementById('explain-host').focus()")
        b.type_text(target)
        b.press_enter()
        wait_until(lambda: answer() != [], "the explain box answered")
        assert answer() == [[t, action, category, rule]]
        assert (action, category) == ("deny", "blocked")
        # Another host, typed over the first.
        b.evaluate("document.getElementById('explain-host').select()")
        b.type_text("ok.test:%d" % echo_server.port)
        b.press_enter()
        wait_until(lambda: answer()[:1] and answer()[0][1:3] == [
            "allow", "good"], "the second answer")
        b.evaluate("document.getElementById('explain-host').select()")
        b.type_text(HOSTILE)
        b.press_enter()
        wait_until(lambda: answer()[:1] and answer()[0][0] == HOSTILE,
                   "the hostile name echoed as text")
        assert b.evaluate("document.title") == "hushgate status"
        assert b.evaluate("document.querySelectorAll('script').length") == 1
    finally:
        b.close()


def test_status_off(proxy, echo_server):
    """metrics.status: off: the page and its API answer 404, /metrics
    and the proxy go on."""
    p = proxy(_cfg(echo_server.port, metrics={"status": "off"}),
              hosts=["ok.test"])
    assert connect_status(p.port, "ok.test:%d" % echo_server.port) == 200
    for path in ("/", "/status.js", "/api/status", "/api/recent",
                 "/api/explain?host=ok.test"):
        r = get(p.port, path)
        assert r.status == 404, path
        assert b"metrics.status" in r.body
    # The tunnel's decision is counted when the proxy sees it close.
    wait_until(lambda: b'hushgate_decisions_total{action="allow"' in
               get(p.port, "/metrics").body, "the decision on /metrics")

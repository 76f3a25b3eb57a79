"""PAC and WPAD: the generated file agrees with `hushgate explain` (run in
pacparser), the proxy serves it (/proxy.pac, /wpad.dat, ETag, 304, HEAD,
reload, pac.proxy, pac.listen), Chromium follows it, and the Windows
artefacts of --emit-windows are well formed."""

import ipaddress
import json
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import (REPO, TIMEOUT, clean_env, dump_yaml, has_ipv6_loopback,
                     read_response, run_hushgate, wait_until)
from test_explain import _profiles, _sample_hosts

try:
    import pacparser
except ImportError:                     # reported by the tests that need it
    pacparser = None

BYPASS = [".corp.example", "*.lab.example", "intranet.example",
          "10.0.0.0/8", "fd00::/8"]
PROXY = "127.0.0.1:3128"


def _need_pacparser():
    if pacparser is None:
        pytest.fail("python3-pacparser is not installed (scripts/deps test)")


def _evaluate(pac_text, hosts):
    """FindProxyForURL for each host (as a browser passes it: no port, IPv6
    without brackets); returns the answers in order."""
    _need_pacparser()
    pacparser.init()
    try:
        pacparser.parse_pac_string(pac_text)
        return [pacparser.find_proxy("https://%s/" % (
            "[%s]" % h if ":" in h else h), h) for h in hosts]
    finally:
        pacparser.cleanup()


def _pac(cfg, *args):
    cp = run_hushgate(["pac", "-c", str(cfg)] + list(args))
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


# --- the hosts: shipped ones and 10,000 generated around them --------------

def _generated_hosts(names, n=10000, seed=5):
    rnd = random.Random(seed)
    out = []
    plain = ["intranet", "printer7", "localhost", "wpad", "nas"]
    local = ["a.corp.example", "corp.example", "x.y.corp.example",
             "lab.example", "box.lab.example", "intranet.example",
             "www.intranet.example", "x.localhost"]
    ips = ["127.0.0.1", "127.8.9.10", "169.254.1.2", "10.1.2.3",
           "192.0.2.7", "8.8.8.8", "::1", "fe80::1", "2001:db8::1",
           "fd00::5", "::ffff:10.1.1.1", "::ffff:192.0.2.1"]
    while len(out) < n:
        base = rnd.choice(names)
        k = rnd.randrange(12)
        if k == 0:
            h = base
        elif k == 1:
            h = "a%d.%s" % (rnd.randrange(100), base)
        elif k == 2:
            h = "not" + base                 # notevents.data.microsoft.com
        elif k == 3:
            h = base.upper()
        elif k == 4:
            h = base + "."
        elif k == 5:
            first, _, rest = base.partition(".")
            h = "%sx.%s" % (first, rest) if rest else base + "x"
        elif k == 6:
            h = base.partition(".")[2] or base   # the parent
        elif k == 7:
            h = "%d.%d.%d.%d" % (rnd.randrange(256), rnd.randrange(256),
                                 rnd.randrange(256), rnd.randrange(256))
        elif k == 8:
            h = rnd.choice(ips)
        elif k == 9:
            h = rnd.choice(plain)
        elif k == 10:
            h = rnd.choice(local)
        else:
            h = "x%d.example.net" % rnd.randrange(10000)
        out.append(h)
    return out


def _all_hosts():
    shipped = _sample_hosts()
    return shipped + _generated_hosts(shipped)


def _norm(h):
    h = h.lower()
    if h.endswith(".") and len(h) > 1:
        h = h[:-1]
    return h


def _address(h):
    try:
        a = ipaddress.ip_address(h)
    except ValueError:
        return None
    if a.version == 6 and a.ipv4_mapped is not None:
        return a.ipv4_mapped
    return a


def _bypassed(h):
    """The hosts every PAC file sends direct: plain names, localhost,
    loopback and link-local literals, pac.bypass."""
    a = _address(h)
    if a is not None:
        nets = ["127.0.0.0/8", "169.254.0.0/16", "::1/128", "fe80::/10"]
        nets += [b for b in BYPASS if "/" in b]
        return any(a in ipaddress.ip_network(n) for n in nets
                   if ipaddress.ip_network(n).version == a.version)
    if "." not in h or h == "localhost" or h.endswith(".localhost"):
        return True
    return (h == "corp.example" or h.endswith(".corp.example") or
            h.endswith(".lab.example") or h == "intranet.example")


def _target(h):
    return "[%s]:443" % h if ":" in h else "%s:443" % h


def _explain(cfg, hosts):
    """explain once, every host on stdin; {host: action}."""
    targets = [_target(h) for h in hosts]
    cp = run_hushgate(["explain", "-c", str(cfg)],
                      input=("\n".join(targets) + "\n").encode())
    assert cp.returncode == 0, cp.stderr[:2000]
    rows = [l.split("\t") for l in cp.stdout.splitlines()]
    assert len(rows) == len(hosts)
    return {h: r[1] for h, r in zip(hosts, rows)}


def _expected(action, mode, fallback):
    proxied = "PROXY %s; " % PROXY
    if mode == "all":
        return proxied + ("DIRECT" if fallback == "direct"
                          else "PROXY 127.0.0.1:9")
    if action == "allow":
        return "DIRECT"
    if action == "audit" or fallback == "direct":
        return proxied + "DIRECT"
    return proxied + "PROXY 127.0.0.1:9"


def _agreement(tmp_path, profile, mode, fallback):
    cfg = dump_yaml({"include": [str(profile)],
                     "pac": {"bypass": BYPASS},
                     "dns": {"servers": [], "hosts_file": "/dev/null"}},
                    tmp_path / "c.yaml")
    hosts = [_norm(h) for h in _all_hosts()]
    assert len(hosts) >= 10000
    verdict = _explain(cfg, sorted(set(hosts)))
    pac = _pac(cfg, "--proxy", PROXY, "--mode", mode, "--fallback",
               fallback)
    # The PAC file gets the host as written (uppercase, trailing dot).
    raw = _all_hosts()
    got = _evaluate(pac, [h if ":" not in h else _norm(h) for h in raw])
    bad = []
    kinds = set()
    for r, h, g in zip(raw, hosts, got):
        if _bypassed(h):
            want = "DIRECT"
        else:
            want = _expected(verdict[h], mode, fallback)
        kinds.add(want)
        if g != want:
            bad.append("%s: pac %r, expected %r (explain %s)"
                       % (r, g, want, verdict.get(h)))
    assert not bad, "%d disagreements:\n%s" % (len(bad), "\n".join(bad[:40]))
    return kinds


@pytest.mark.parametrize("profile", _profiles() or [None],
                         ids=lambda p: p.name if p else "none")
def test_policy_pac_agrees_with_explain(tmp_path, hushgate, profile):
    assert profile is not None, "no profiles in rules/sets"
    kinds = _agreement(tmp_path, profile, "policy", "block")
    assert "DIRECT" in kinds
    if profile.name != "audit.yaml":
        assert "PROXY %s; PROXY 127.0.0.1:9" % PROXY in kinds, kinds
    else:
        assert "PROXY %s; DIRECT" % PROXY in kinds, kinds


def test_policy_pac_fallback_direct(tmp_path, hushgate):
    profile = REPO / "rules" / "sets" / "balanced.yaml"
    kinds = _agreement(tmp_path, profile, "policy", "direct")
    assert kinds == {"DIRECT", "PROXY %s; DIRECT" % PROXY}, kinds


def test_all_pac_agrees(tmp_path, hushgate):
    profile = REPO / "rules" / "sets" / "strict.yaml"
    kinds = _agreement(tmp_path, profile, "all", "direct")
    assert kinds == {"DIRECT", "PROXY %s; DIRECT" % PROXY}, kinds


PORTS_CFG = {
    "default": "deny",
    "connect_ports": [443, 8443],
    "categories": {
        "ported": {"action": "allow", "hosts": ["ported.example:8443"]},
        "mixed": {"action": "allow", "hosts": [".mixed.example"]},
        "mixed-deny": {"action": "deny", "hosts": ["*.mixed.example:443"]},
        "ok": {"action": "allow", "hosts": [".ok.example",
                                            "203.0.113.0/24"]},
        "glob": {"action": "allow", "hosts": ["cdn*.glob.example"]},
        "v6": {"action": "audit", "hosts": ["2001:db8:1::/48"]},
    },
}


def test_policy_pac_ports_globs_prefixes(tmp_path, hushgate):
    """Rules limited to ports send the host to the proxy (it knows the
    port); the default applies to what nothing matches; globs and prefixes
    as in the proxy."""
    cfg = dump_yaml(dict(PORTS_CFG, dns={"servers": [],
                                         "hosts_file": "/dev/null"}),
                    tmp_path / "c.yaml")
    pac = _pac(cfg, "--proxy", PROXY, "--mode", "policy")
    deny = "PROXY %s; DIRECT" % PROXY
    cases = {
        "ported.example": deny,          # allowed on 8443 only
        "mixed.example": "DIRECT",       # .mixed.example, no port limit
        "a.mixed.example": deny,         # *.mixed.example:443 first rule
        "ok.example": "DIRECT",
        "x.ok.example": "DIRECT",
        "cdn7.glob.example": "DIRECT",
        "glob.example": deny,            # default deny
        "203.0.113.9": "DIRECT",
        "203.0.114.9": deny,
        "2001:db8:1:2::1": deny,         # audit
        "2001:db8:2::1": deny,
        "other.example": deny,
    }
    got = _evaluate(pac, list(cases))
    assert dict(zip(cases, got)) == cases
    verdict = _explain(cfg, ["ok.example", "203.0.113.9", "other.example"])
    assert verdict == {"ok.example": "allow", "203.0.113.9": "allow",
                       "other.example": "deny"}


def test_pac_is_deterministic(tmp_path, hushgate):
    cfg = dump_yaml({"include": [str(REPO / "rules" / "sets" /
                                     "balanced.yaml")],
                     "dns": {"servers": [], "hosts_file": "/dev/null"}},
                    tmp_path / "c.yaml")
    a = _pac(cfg, "--proxy", PROXY, "--mode", "policy")
    b = _pac(cfg, "--proxy", PROXY, "--mode", "policy")
    assert a == b
    m = re.search(r"^// rules as of (\S+) ", a, re.M)
    assert m, a[:500]
    env_pac = subprocess.run(
        [hushgate, "pac", "-c", str(cfg), "--proxy", PROXY],
        env=dict(clean_env(), SOURCE_DATE_EPOCH="86400"),
        stdout=subprocess.PIPE, timeout=TIMEOUT).stdout.decode()
    assert "// rules as of 1970-01-02T00:00:00Z " in env_pac
    assert re.search(r"^// rules digest fnv1a64:[0-9a-f]{16}$", a, re.M)
    assert re.search(r"^// category windows-error-reporting deny \d+ "
                     r"rules$", a, re.M)
    out = tmp_path / "o.pac"
    _pac(cfg, "--proxy", PROXY, "--mode", "policy", "-o", str(out))
    assert out.read_text() == a


def _big_config(tmp_path, n, action="deny", extra=None):
    names = tmp_path / ("names-%s.txt" % action)
    names.write_text("".join("host%06d.telemetry-example.net\n" % i
                             for i in range(n)))
    cats = dict(extra or {})        # defined first: wins ties
    cats["big"] = {"action": action, "lists": [{"file": str(names),
                                                "format": "domains"}]}
    return dump_yaml({"categories": cats, "default": "allow",
                      "dns": {"servers": [], "hosts_file": "/dev/null"}},
                     tmp_path / ("c-%s.yaml" % action))


def test_t_reports_pac_size(tmp_path, hushgate):
    """Names that go direct stay in the lookup object: 60,000 of them
    (default deny) pass 1 MiB, and -t warns."""
    cfg = _big_config(tmp_path, 60000, "allow")
    text = cfg.read_text().replace("default: allow", "default: deny")
    cfg.write_text(text)
    cp = run_hushgate(["-t", "-c", str(cfg)])
    assert cp.returncode == 0, cp.stderr
    m = re.search(r"^pac: policy mode (\d+) bytes \((\d+) names\)",
                  cp.stdout, re.M)
    assert m, cp.stdout
    assert int(m.group(2)) == 60000
    assert int(m.group(1)) > 1024 * 1024
    assert re.search(r"^warning: a policy-mode PAC file would be", cp.stdout,
                     re.M), cp.stdout
    small = run_hushgate(["-t", "-c", str(REPO / "hushgate.yaml")])
    assert "warning: a policy-mode PAC" not in small.stdout


def test_policy_pac_bloom(tmp_path, hushgate):
    """Past 10,000 names that only go to the proxy, they go into a Bloom
    filter: no listed host may go direct, an allowed exception stays
    exact, and few unlisted hosts go to the proxy by mistake."""
    n = 30000
    cfg = _big_config(tmp_path, n, "deny", {
        "exceptions": {"action": "allow",
                       "hosts": ["host000007.telemetry-example.net",
                                 "keep.host000008.telemetry-example.net"]},
        "watched": {"action": "audit", "hosts": [".watch.example.net"]}})
    cp = run_hushgate(["-t", "-c", str(cfg)])
    m = re.search(r"^pac: policy mode (\d+) bytes \((\d+) names\)",
                  cp.stdout, re.M)
    assert m and int(m.group(2)) == n + 2, cp.stdout
    assert int(m.group(1)) < n * 4, "the filter should be small"
    assert "warning: a policy-mode PAC" not in cp.stdout
    pac = _pac(cfg, "--proxy", PROXY, "--mode", "policy", "--fallback",
               "block")
    assert re.search(r"^// lookup: %d names \(%d in a Bloom filter\)"
                     % (n + 2, n - 1), pac, re.M), pac[:600]
    rnd = random.Random(9)
    listed = ["host%06d.telemetry-example.net" % i for i in range(n)]
    hosts = listed + ["www." + h for h in rnd.sample(listed, 2000)]
    hosts += ["keep.host000008.telemetry-example.net",
              "x.keep.host000008.telemetry-example.net",
              "watch.example.net", "a.watch.example.net"]
    unlisted = ["other%06d.example.org" % i for i in range(5000)]
    hosts += unlisted
    verdict = _explain(cfg, hosts)
    got = dict(zip(hosts, _evaluate(pac, hosts)))
    deny = "PROXY %s; PROXY 127.0.0.1:9" % PROXY
    wrong = [h for h in hosts if verdict[h] == "deny" and got[h] != deny]
    assert not wrong, wrong[:20]
    assert verdict["host000007.telemetry-example.net"] == "allow"
    assert got["host000007.telemetry-example.net"] == "DIRECT"
    assert got["keep.host000008.telemetry-example.net"] == "DIRECT"
    # Audited names stay exact: they fall back to a direct connection.
    assert verdict["a.watch.example.net"] == "audit"
    assert got["a.watch.example.net"] == "PROXY %s; DIRECT" % PROXY
    assert got["watch.example.net"] == "PROXY %s; DIRECT" % PROXY
    assert all(verdict[h] == "allow" for h in unlisted)
    false_pos = sum(got[h] != "DIRECT" for h in unlisted)
    assert false_pos < len(unlisted) * 0.05, false_pos


# --- served by the proxy ----------------------------------------------------

def _get(port, path, method="GET", headers=(), host="127.0.0.1"):
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    try:
        req = "%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (
            method, path, "".join("%s: %s\r\n" % h for h in headers))
        s.sendall(req.encode())
        return read_response(s, body=method != "HEAD")
    finally:
        s.close()


def _header_digest(body):
    m = re.search(rb"^// rules digest fnv1a64:([0-9a-f]{16})$", body, re.M)
    assert m, body[:400]
    return m.group(1).decode()


def test_served_pac(proxy, tmp_path):
    p = proxy({"include": [str(REPO / "rules" / "sets" / "balanced.yaml")],
               "pac": {"mode": "policy", "max_age": 120}})
    r = _get(p.port, "/proxy.pac")
    assert r.status == 200
    assert r.headers["content-type"] == "application/x-ns-proxy-autoconfig"
    assert r.headers["cache-control"] == "max-age=120"
    etag = r.headers["etag"]
    assert re.match(r'^"[0-9a-f]{16}-[0-9a-f]{8}"$', etag), etag
    assert etag[1:17] == _header_digest(r.body)
    assert int(r.headers["content-length"]) == len(r.body)
    assert ('var HG_PROXY = "PROXY 127.0.0.1:%d";' % p.port).encode() \
        in r.body
    # The same text `hushgate pac` writes.
    assert r.body.decode() == _pac(p.config_path, "--proxy",
                                   "127.0.0.1:%d" % p.port)
    w = _get(p.port, "/wpad.dat")
    assert w.status == 200 and w.body == r.body
    assert w.headers["etag"] == etag
    n = _get(p.port, "/proxy.pac", headers=[("If-None-Match", etag)])
    assert n.status == 304 and n.body == b""
    assert n.headers["etag"] == etag
    o = _get(p.port, "/proxy.pac", headers=[("If-None-Match", '"0-0"')])
    assert o.status == 200
    h = _get(p.port, "/proxy.pac", method="HEAD")
    assert h.status == 200 and h.body == b""
    assert h.headers["etag"] == etag
    assert h.headers["content-length"] == str(len(r.body))
    got = _evaluate(r.body.decode(), ["watson.events.data.microsoft.com",
                                      "example.com"])
    assert got == ["PROXY 127.0.0.1:%d; DIRECT" % p.port, "DIRECT"]
    assert _get(p.port, "/other.pac").status == 404
    # Served requests are not decisions.
    assert all(rec["host"] != "/proxy.pac" for rec in p.log_lines())


def test_served_pac_reload(proxy):
    cfg = {"categories": {"c": {"action": "deny",
                                "hosts": ["one.example"]}},
           "pac": {"mode": "policy"}}
    p = proxy(cfg)
    a = _get(p.port, "/proxy.pac")
    assert b'".one.example"' in a.body and b"two.example" not in a.body
    cfg["categories"]["c"]["hosts"].append("two.example")
    p.rewrite_config(cfg)
    ok, _, _ = p.reload()
    assert ok
    b = _get(p.port, "/proxy.pac")
    assert b'".two.example"' in b.body
    assert b.headers["etag"] != a.headers["etag"]
    assert _get(p.port, "/proxy.pac", headers=[
        ("If-None-Match", a.headers["etag"])]).status == 200


def test_served_pac_names_address_used(proxy):
    """The served file names the address the client reached (IPv6 in
    brackets): one proxy listening on both loopbacks."""
    if not has_ipv6_loopback():
        pytest.fail("no IPv6 loopback on this machine")
    p = proxy({"listen": ["127.0.0.1:0", "[::1]:0"]})
    port6 = int(p.wait_stderr(r"listening on \[::1\]:(\d+)$").group(1))
    r = _get(p.port, "/proxy.pac")
    assert ('"PROXY 127.0.0.1:%d"' % p.port).encode() in r.body
    r6 = _get(port6, "/proxy.pac", host="::1")
    assert ('"PROXY [::1]:%d"' % port6).encode() in r6.body
    assert r6.headers["etag"] != r.headers["etag"]
    assert r6.headers["etag"][:17] == r.headers["etag"][:17]


def test_served_pac_proxy_override(proxy):
    p = proxy({"pac": {"proxy": ["Proxy.Corp.Example:3128",
                                 "[2001:db8::1]:8080"]}})
    r = _get(p.port, "/proxy.pac")
    assert (b'var HG_PROXY = "PROXY proxy.corp.example:3128; '
            b'PROXY [2001:db8::1]:8080";') in r.body
    got = _evaluate(r.body.decode(), ["example.com", "intranet"])
    assert got == ["PROXY proxy.corp.example:3128; PROXY [2001:db8::1]:8080;"
                   " DIRECT", "DIRECT"]


def test_pac_listen(proxy):
    p = proxy({"pac": {"listen": ["127.0.0.1:0"], "fallback": "block"}})
    m = p.wait_stderr(r"serving the PAC file only on 127\.0\.0\.1:(\d+)$")
    port = int(m.group(1))
    assert port != p.port
    r = _get(port, "/wpad.dat")
    assert r.status == 200
    assert r.headers["content-type"] == "application/x-ns-proxy-autoconfig"
    # It names the proxy, not itself.
    assert ('"PROXY 127.0.0.1:%d"' % p.port).encode() in r.body
    assert _evaluate(r.body.decode(), ["example.com"]) == [
        "PROXY 127.0.0.1:%d; PROXY 127.0.0.1:9" % p.port]
    assert _get(port, "example.com:443", method="CONNECT").status == 405
    assert _get(port, "http://example.com/").status == 405
    assert _get(port, "/healthz").status == 404
    assert _get(p.port, "/healthz").status == 200


# --- Chromium through the served PAC file ----------------------------------

def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("chromium is not installed (scripts/deps test)")


def _dump_dom(browser, pac_url, url, profile):
    cp = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         "--user-data-dir=%s" % profile,
         "--proxy-pac-url=%s" % pac_url,
         "--host-resolver-rules=MAP * 127.0.0.1",
         "--dump-dom", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env(),
        timeout=TIMEOUT * 6)
    return cp.stdout.decode("utf-8", "replace")


class _Page(BaseHTTPRequestHandler):
    """An HTML page (a browser downloads application/octet-stream)."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = ("<html><body><p>hello %s %s</p></body></html>" % (
            self.headers.get("Host"), self.path)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def html_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever,
                         kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_chromium_follows_pac(proxy, html_server, tmp_path):
    browser = _chromium()
    port = html_server.server_address[1]
    p = proxy({"http_ports": [port],
               "categories": {"blocked": {"action": "deny",
                                          "hosts": ["blocked.test"]},
                              "fine": {"action": "allow",
                                       "hosts": ["allowed.test"]}}},
              hosts=["allowed.test", "blocked.test"])
    pac_url = "http://127.0.0.1:%d/proxy.pac" % p.port
    ok = _dump_dom(browser, pac_url, "http://allowed.test:%d/page" % port,
                   tmp_path / "prof1")
    assert "hello allowed.test:%d /page" % port in ok, ok[:2000]
    bad = _dump_dom(browser, pac_url, "http://blocked.test:%d/x" % port,
                    tmp_path / "prof2")
    assert "hello" not in bad
    assert "blocked" in bad, bad[:2000]
    recs = p.wait_log(lambda r: r["host"] in ("allowed.test",
                                              "blocked.test"),
                      "both hosts", count=2)
    got = {(r["host"], r["action"], r["status"]) for r in recs}
    assert ("allowed.test", "allow", 200) in got, got
    assert ("blocked.test", "deny", 403) in got, got


# --- Windows artefacts -------------------------------------------------------

URL = 'http://pac.corp.example/proxy.pac?a="b"&c=\\d<e>'


def _reg(path):
    raw = path.read_bytes()
    assert raw[:2] == b"\xff\xfe", path
    text = raw[2:].decode("utf-16-le")
    assert "\n" not in text.replace("\r\n", ""), "bare LF in %s" % path
    lines = text.split("\r\n")
    assert lines[0] == "Windows Registry Editor Version 5.00"
    assert lines[1] == ""
    key = re.match(r"^\[(.+)\]$", lines[2]).group(1)
    values = {}
    for l in lines[3:]:
        if not l:
            continue
        m = re.match(r'^"([^"]+)"=(-|dword:([0-9a-f]{8})|"((?:[^"\\]|'
                     r'\\.)*)")$', l)
        assert m, "bad .reg line %r" % l
        if m.group(2) == "-":
            values[m.group(1)] = None
        elif m.group(3) is not None:
            values[m.group(1)] = int(m.group(3), 16)
        else:
            values[m.group(1)] = re.sub(r"\\(.)", r"\1", m.group(4))
    return key, values


def test_emit_windows(tmp_path, hushgate):
    cfg = dump_yaml({"dns": {"servers": [], "hosts_file": "/dev/null"}},
                    tmp_path / "c.yaml")
    d = tmp_path / "win"
    cp = run_hushgate(["pac", "-c", str(cfg), "--emit-windows", str(d),
                       "--pac-url", URL, "--proxy", "10.0.0.5:3128"])
    assert cp.returncode == 0, cp.stderr
    inet = "Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings"
    pol = ("SOFTWARE\\Policies\\Microsoft\\Windows\\CurrentVersion\\"
           "Internet Settings")
    want = {
        "hushgate-user": ("HKEY_CURRENT_USER\\" + inet, "AutoConfigURL"),
        "hushgate-machine": ("HKEY_LOCAL_MACHINE\\" + pol,
                             "ProxySettingsPerUser"),
        "hushgate-edge": ("HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\"
                          "Microsoft\\Edge", "ProxySettings"),
    }
    set_values = {}
    for name, (key, value) in want.items():
        k, vals = _reg(d / (name + ".reg"))
        assert k == key and list(vals) == [value], (name, k, vals)
        uk, uvals = _reg(d / (name + "-undo.reg"))
        assert uk == key and uvals == {value: None}, (name, uk, uvals)
        set_values[value] = vals[value]
    assert set_values["AutoConfigURL"] == URL
    assert set_values["ProxySettingsPerUser"] == 0
    edge = json.loads(set_values["ProxySettings"])
    assert edge == {"ProxyMode": "pac_script", "ProxyPacUrl": URL,
                    "ProxyPacMandatory": True}

    # The Group Policy Preferences items (in detail: test_emit_windows_gpp).
    for side, names in (("Machine", {"WinHttpSettings",
                                     "TelemetryProxyServer",
                                     "DisableEnterpriseAuthProxy",
                                     "ProxySettingsPerUser",
                                     "ProxySettings"}),
                        ("User", {"AutoConfigURL"})):
        items = _gpp_items(d / "gpp" / side / "Registry.xml")
        assert {i["name"] for i in items} == names
        for i in items:
            if i["name"] in set_values:
                key = want[[n for n in want
                            if want[n][1] == i["name"]][0]][0]
                assert i["hive"] + "\\" + i["key"] == key
                assert i["action"] == "U"
            if i["name"] == "ProxySettingsPerUser":
                assert (i["type"], i["value"]) == ("REG_DWORD", "00000000")
            elif i["name"] in ("AutoConfigURL", "ProxySettings"):
                assert i["type"] == "REG_SZ"
                assert i["value"] == set_values[i["name"]]

    raw = (d / "winhttp-advproxy.json").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    raw.decode("ascii")
    adv = json.loads(raw)
    assert adv["AutoconfigUrl"] == URL
    assert adv["AutoDetect"] is False
    cmd = (d / "netsh-fallback.cmd").read_bytes()
    assert (b'netsh winhttp set proxy proxy-server="10.0.0.5:3128" '
            b'bypass-list="<local>"\r\n') in cmd
    assert b"netsh winhttp reset proxy\r\n" in (
        d / "netsh-fallback-undo.cmd").read_bytes()
    readme = (d / "README.txt").read_text()
    for s in ("file://", "client.wns.windows.com", "firewall",
              "CheckNetIsolation LoopbackExempt", "WinHTTP", "WinINet",
              "Edge", "advproxy", "gpupdate /force",
              "netsh winhttp show proxy", "TelemetryProxyServer",
              "DisableEnterpriseAuthProxy"):
        assert s in readme, s


def test_emit_windows_refuses_file_url(tmp_path, hushgate):
    cfg = dump_yaml({"dns": {"servers": [], "hosts_file": "/dev/null"}},
                    tmp_path / "c.yaml")
    cp = run_hushgate(["pac", "-c", str(cfg), "--emit-windows",
                       str(tmp_path / "w"), "--pac-url",
                       "file:///C:/proxy.pac", "--proxy", PROXY])
    assert cp.returncode == 1
    assert "file://" in cp.stderr
    assert not (tmp_path / "w" / "hushgate-user.reg").exists()


# Group Policy Preferences ([MS-GPPREF]): the Registry extension's file
# and item classes.
GPP_REGISTRY_SETTINGS = "{A3CCFC41-DFDB-43a5-8D26-0FE8B954DA51}"
GPP_REGISTRY = "{9CD4B2F4-923D-47f5-A062-E897DD1DAD50}"
CONN = ("SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Internet Settings"
        "\\Connections")
CONN32 = ("SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion"
          "\\Internet Settings\\Connections")
DATACOLL = "SOFTWARE\\Policies\\Microsoft\\Windows\\DataCollection"
GUID_RE = re.compile(r"^\{[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}\}$")


def winhttp_settings(proxy=None, bypass=""):
    """WinHttpSettings as netsh winhttp set proxy PROXY BYPASS writes it,
    or (no proxy) as netsh winhttp reset proxy does: 0x18, 0, flags (3:
    direct and proxy; 1: direct), then each string after its length, in
    single bytes (wire/connblob.c; its unit cases are in
    tests/data/winhttp/cases.tsv)."""
    if proxy is None:
        return struct.pack("<5I", 0x18, 0, 1, 0, 0)
    p, b = proxy.encode("ascii"), bypass.encode("ascii")
    return (struct.pack("<4I", 0x18, 0, 3, len(p)) + p +
            struct.pack("<I", len(b)) + b)


def _gpp_items(path):
    """The Registry items of a Registry.xml, checked for the form GPMC
    writes: [{name, action, hive, key, type, value, image, uid, desc}]."""
    raw = path.read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="utf-8"?>\r\n')
    assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF in %s" % path
    raw.decode("ascii")
    root = ET.fromstring(raw)
    assert root.tag == "RegistrySettings"
    assert root.attrib == {"clsid": GPP_REGISTRY_SETTINGS}
    out = []
    for reg in root:
        assert reg.tag == "Registry"
        assert reg.get("clsid") == GPP_REGISTRY
        assert GUID_RE.match(reg.get("uid")), reg.get("uid")
        assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$",
                        reg.get("changed"))
        assert reg.get("bypassErrors") == "1"
        props = list(reg)
        assert len(props) == 1 and props[0].tag == "Properties"
        pr = props[0]
        assert (pr.get("displayDecimal"), pr.get("default")) == ("0", "0")
        assert reg.get("name") == reg.get("status") == pr.get("name")
        item = {k: pr.get(k) for k in ("action", "hive", "key", "name",
                                       "type", "value")}
        item.update(image=int(reg.get("image")), uid=reg.get("uid"),
                    desc=reg.get("desc"))
        # GPMC's icons: 5-8 string, 10-13 number, 15-18 binary; +2
        # Update, +3 Delete.
        base = {"REG_SZ": 5, "REG_DWORD": 10, "REG_BINARY": 15}
        assert item["image"] == base[item["type"]] + \
            {"U": 2, "D": 3}[item["action"]], item
        assert not item["key"].startswith("\\") and \
            not item["key"].endswith("\\")
        out.append(item)
    return out


def _by_place(items):
    return {(i["hive"], i["key"], i["name"]): i for i in items}


def test_emit_windows_gpp(tmp_path, hushgate):
    """The Registry.xml files: the WinHTTP default proxy (both views) as
    the bytes netsh winhttp set proxy writes, the telemetry policies, and
    the undo files: WinHttpSettings back to what netsh winhttp reset proxy
    writes, the other values deleted.  Every uid different."""
    proxy = "10.0.0.5:3128"
    cp, d = _emit(tmp_path, {"listen": ["127.0.0.1:3128"]}, URL,
                  "--proxy", proxy)
    assert cp.returncode == 0, cp.stderr
    lm = "HKEY_LOCAL_MACHINE"
    items = {side: _gpp_items(d / "gpp" / side / "Registry.xml")
             for side in ("Machine", "Machine-undo", "User", "User-undo")}
    uids = [i["uid"] for side in items.values() for i in side]
    assert len(uids) == len(set(uids)) == 14
    m = _by_place(items["Machine"])
    set_hex = winhttp_settings(proxy, "<local>").hex().upper()
    assert set_hex == ("1800000000000000030000000D00000031302E302E302E35"
                       "3A33313238070000003C6C6F63616C3E")
    for key in (CONN, CONN32):
        i = m[(lm, key, "WinHttpSettings")]
        assert (i["action"], i["type"], i["value"]) == (
            "U", "REG_BINARY", set_hex), i
        assert "netsh winhttp set proxy" in i["desc"]
    i = m[(lm, DATACOLL, "TelemetryProxyServer")]
    assert (i["action"], i["type"], i["value"]) == ("U", "REG_SZ", proxy)
    i = m[(lm, DATACOLL, "DisableEnterpriseAuthProxy")]
    assert (i["action"], i["type"], i["value"]) == (
        "U", "REG_DWORD", "00000001")
    # The same value the fallback script sets by hand.
    cmd = (d / "netsh-fallback.cmd").read_text()
    assert 'proxy-server="%s" bypass-list="<local>"' % proxy in cmd

    u = _by_place(items["Machine-undo"])
    assert set(u) == set(m), "an undo item for every item"
    direct = winhttp_settings().hex().upper()
    assert direct == "1800000000000000010000000000000000000000"
    for place, i in u.items():
        if place[2] == "WinHttpSettings":
            assert (i["action"], i["type"], i["value"]) == (
                "U", "REG_BINARY", direct), i
            assert "netsh winhttp reset proxy" in i["desc"]
        else:
            assert i["action"] == "D", i
            assert i["type"] == m[place]["type"]
    uu = _by_place(items["User-undo"])
    assert set(uu) == set(_by_place(items["User"]))
    assert all(i["action"] == "D" for i in uu.values())

    readme = (d / "README.txt").read_text()
    for s in (set_hex, direct, "gpp/Machine-undo/Registry.xml",
              "Computer Configuration > Preferences > Windows Settings >",
              "Group Policy Management", "KB 4494447",
              "a PAC URL cannot be set\n    machine-wide through "
              "WinHttpSettings", "netsh winhttp show advproxy",
              "Windows 10 version 1607", "Windows 10 version 1709"):
        assert s in readme, s


@pytest.mark.parametrize("proxy", ["gw.example:8080", "[2001:db8::7]:3129"])
def test_emit_windows_gpp_follows_the_proxy(tmp_path, hushgate, proxy,
                                            monkeypatch):
    """The items name the proxy the other files name (IPv6 in brackets,
    as TelemetryProxyServer takes it); SOURCE_DATE_EPOCH fixes their
    time, so the same arguments give the same bytes."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    cfg = dump_yaml({"dns": {"servers": [], "hosts_file": "/dev/null"}},
                    tmp_path / "c.yaml")
    out = []
    for n in range(2):
        d = tmp_path / ("w%d" % n)
        cp = run_hushgate(["pac", "-c", str(cfg), "--emit-windows", str(d),
                           "--pac-url", "http://pac.example/p.pac",
                           "--proxy", proxy])
        assert cp.returncode == 0, cp.stderr
        out.append(d)
    m = _by_place(_gpp_items(out[0] / "gpp" / "Machine" / "Registry.xml"))
    lm = "HKEY_LOCAL_MACHINE"
    assert m[(lm, CONN, "WinHttpSettings")]["value"] == \
        winhttp_settings(proxy, "<local>").hex().upper()
    assert m[(lm, DATACOLL, "TelemetryProxyServer")]["value"] == proxy
    assert _fallback_proxy(out[0]) == proxy
    for side in ("Machine", "Machine-undo", "User", "User-undo"):
        a = (out[0] / "gpp" / side / "Registry.xml").read_bytes()
        assert a == (out[1] / "gpp" / side / "Registry.xml").read_bytes()
        assert b'changed="2023-11-14 22:13:20"' in a


def _emit(tmp_path, config, url, *more):
    """pac --emit-windows with a configuration (dns from nowhere) into
    tmp_path/w: (CompletedProcess, folder)."""
    cfg = dump_yaml(dict(config, dns={"servers": [],
                                      "hosts_file": "/dev/null"}),
                    tmp_path / "c.yaml")
    d = tmp_path / "w"
    return run_hushgate(["pac", "-c", str(cfg), "--emit-windows", str(d),
                         "--pac-url", url] + list(more)), d


def _fallback_proxy(d):
    cmd = (d / "netsh-fallback.cmd").read_text()
    m = re.search(r'proxy-server="([^"]+)"', cmd)
    assert m, cmd
    readme = (d / "README.txt").read_text()
    m2 = re.search(r"^Proxy: +(\S+)$", readme, re.M)
    assert m2, readme
    assert m.group(1) == m2.group(1)
    return m.group(1)


@pytest.mark.parametrize("listen,url,want", [
    # the PAC URL's host, the port of the (first) proxy listener
    (["127.0.0.1:3128"], "http://proxy.corp.example/proxy.pac",
     "proxy.corp.example:3128"),
    # the URL names one of the proxy listeners: that port
    (["0.0.0.0:3128", "0.0.0.0:8080"], "http://gw.example:8080/wpad.dat",
     "gw.example:8080"),
    # a PAC served on a port of its own (pac.listen): the first listener's
    (["0.0.0.0:3128"], "https://pac.example:8443/p.pac", "pac.example:3128"),
    (["[::]:3129"], "http://[2001:db8::7]/proxy.pac", "[2001:db8::7]:3129"),
    (["127.0.0.1:3128"], "http://127.0.0.1:3128/proxy.pac",
     "127.0.0.1:3128"),
])
def test_emit_windows_proxy_from_pac_url(tmp_path, hushgate, listen, url,
                                         want):
    cp, d = _emit(tmp_path, {"listen": listen}, url)
    assert cp.returncode == 0, cp.stderr
    assert _fallback_proxy(d) == want
    assert want in cp.stderr, cp.stderr


def test_emit_windows_proxy_setting_wins(tmp_path, hushgate):
    cfg = {"listen": ["127.0.0.1:3128"],
           "pac": {"proxy": ["gw1.example:3128", "gw2.example:3128"]}}
    cp, d = _emit(tmp_path, cfg, "http://pac.example/p.pac")
    assert cp.returncode == 0, cp.stderr
    assert _fallback_proxy(d) == "gw1.example:3128"
    cp, d = _emit(tmp_path, cfg, "http://pac.example/p.pac",
                  "--proxy", "10.1.2.3:8080")
    assert cp.returncode == 0, cp.stderr
    assert _fallback_proxy(d) == "10.1.2.3:8080"


@pytest.mark.parametrize("listen,url,msg", [
    (["127.0.0.1:0"], "http://pac.example/p.pac", "no fixed port"),
    (["127.0.0.1:3128"], "http://user@pac.example/p.pac", "no host"),
    (["127.0.0.1:3128"], "http:///p.pac", "no host"),
])
def test_emit_windows_without_proxy_refuses(tmp_path, hushgate, listen, url,
                                            msg):
    cp, d = _emit(tmp_path, {"listen": listen}, url)
    assert cp.returncode == 1, cp.stderr
    assert msg in cp.stderr and "--proxy" in cp.stderr, cp.stderr
    assert not (d / "netsh-fallback.cmd").exists()

"""Parent proxies: upstreams:, routes:, route_default:, against real Squid
instances (Debian's squid package) on 127.0.0.1.

Each Squid runs in the foreground (squid -N) on its own generated
squid.conf in a directory of its own, with ports chosen at run time, no
cache, and a resolver that can reach nothing: it resolves the test names
through its hosts_file and has dns_nameservers 127.0.0.1 with no DNS
server there, so no request leaves the machine. Started as root, Squid
becomes its cache_effective_user (proxy): its directory is made for that.
Every wait polls (a port, a log line, a counter); none sleeps.

Debian packages: squid (and what conftest.py lists)."""

import base64
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from helpers import (TIMEOUT, Tunnel, closed_port, dump_yaml, free_port,
                     make_test_ca, open_client, raw_request, read_response,
                     run_hushgate, wait_until, write_hosts)
from test_metrics import metric, parse, scrape
from test_tls_listener import certs_init, tls_connect

NCSA = "/usr/lib/squid/basic_ncsa_auth"


@pytest.fixture(scope="session")
def squid_bin():
    path = shutil.which("squid") or "/usr/sbin/squid"
    if not os.path.exists(path):
        pytest.fail("squid is not installed (Debian package squid)")
    return path


class Squid:
    """One Squid on 127.0.0.1: http_port (and https_port with tls), its
    own hosts file for names, Basic authentication against an htpasswd
    file when users are given, and dstdomain refusals."""

    def __init__(self, binary, names, port=None, users=None, deny=(),
                 tls=None):
        # Not under pytest's tmp_path: Squid, started as root, runs as
        # proxy, which must reach its directory.
        self.dir = Path(tempfile.mkdtemp(prefix="hg-squid-"))
        os.chmod(self.dir, 0o777)
        self.port = port or free_port()
        self.tls_port = free_port() if tls else None
        self.access_log = self.dir / "access.log"
        write_hosts(self.dir / "hosts", names)
        lines = [
            "http_port 127.0.0.1:%d" % self.port,
            "visible_hostname hushgate-test-squid",
            "cache deny all",
            "cache_mem 4 MB",
            "pid_filename %s/squid.pid" % self.dir,
            "access_log stdio:%s" % self.access_log,
            "cache_store_log none",
            "cache_log %s/cache.log" % self.dir,
            "coredump_dir %s" % self.dir,
            "hosts_file %s/hosts" % self.dir,
            "dns_nameservers 127.0.0.1",
            "pinger_enable off",
            "icp_port 0",
            "htcp_port 0",
            "netdb_filename none",
            "shutdown_lifetime 0 seconds",
            "logfile_rotate 0",
            "strip_query_terms off",
        ]
        if tls:
            for k in ("cert", "key"):
                shutil.copy(tls[k], self.dir / ("tls." + k))
            lines.append("https_port 127.0.0.1:%d tls-cert=%s tls-key=%s" % (
                self.tls_port, self.dir / "tls.cert", self.dir / "tls.key"))
        if deny:
            lines.append("acl refused dstdomain %s" % " ".join(deny))
            lines.append("http_access deny refused")
        if users:
            with open(self.dir / "passwd", "w") as f:
                for user, pw in users.items():
                    h = subprocess.run(["openssl", "passwd", "-apr1", pw],
                                       stdout=subprocess.PIPE, check=True,
                                       timeout=TIMEOUT).stdout.decode()
                    f.write("%s:%s\n" % (user, h.strip()))
            lines += ["auth_param basic program %s %s/passwd" % (NCSA,
                                                                 self.dir),
                      "auth_param basic realm hushgate-test",
                      "acl authed proxy_auth REQUIRED",
                      "http_access allow authed",
                      "http_access deny all"]
        else:
            lines.append("http_access allow all")
        for p in self.dir.iterdir():
            os.chmod(p, 0o644)
        (self.dir / "squid.conf").write_text("\n".join(lines) + "\n")
        self.out = open(self.dir / "stdout", "wb")
        self.proc = subprocess.Popen(
            [binary, "-N", "-f", str(self.dir / "squid.conf")],
            stdin=subprocess.DEVNULL, stdout=self.out,
            stderr=subprocess.STDOUT, cwd=str(self.dir))
        wait_until(self._listening, "squid listening on %d" % self.port,
                   interval=0.05)

    def _listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("squid exited (%s):\n%s\n%s" % (
                self.proc.returncode, self.text("stdout"),
                self.text("cache.log")))
        for port in (self.port, self.tls_port):
            if port is None:
                continue
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
            except OSError:
                return False
        return True

    def text(self, name):
        try:
            return (self.dir / name).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def access(self):
        """The lines of its access.log: [(code/status, method, URL,
        user)]."""
        out = []
        for line in self.text("access.log").splitlines():
            f = line.split()
            if len(f) >= 8:
                out.append((f[3], f[5], f[6], f[7]))
        return out

    def wait_access(self, pred, what):
        return wait_until(lambda: [a for a in self.access() if pred(a)],
                          "squid access.log: " + what)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def squids(squid_bin):
    """squids(names, **kw) starts a Squid (see Squid); all are stopped at
    the end of the test."""
    started = []

    def start(names=("web.test", "echo.test"), **kw):
        s = Squid(squid_bin, names, **kw)
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()


def parent(name, squid, **kw):
    u = {"name": name, "url": "http://127.0.0.1:%d" % squid.port}
    u.update(kw)
    return u


def cfg(ports, upstreams, **kw):
    c = {"connect_ports": list(ports), "http_ports": list(ports),
         "upstreams": upstreams}
    c.update(kw)
    return c


def get(port, url, headers=b"", body=None, method=b"GET"):
    """A plain-HTTP request through the proxy; its Response."""
    req = method + b" " + url.encode() + b" HTTP/1.1\r\nHost: x\r\n" + \
        headers
    if body is not None:
        req += b"Content-Length: %d\r\n" % len(body)
    req += b"Connection: close\r\n\r\n" + (body or b"")
    return raw_request(port, req)


def tls_echo_over(tunnel, ctx, name=b"echo.test", payload=b"through squid"):
    s = ctx.wrap_socket(tunnel.sock, server_hostname=name.decode())
    s.sendall(payload)
    got = b""
    while len(got) < len(payload):
        b = s.recv(4096)
        if not b:
            break
        got += b
    s.close()
    return got


def record(p, pred, what="record"):
    return p.wait_log(pred, what)[-1]


# ---------------------------------------------------------------------------
# 1. CONNECT and plain HTTP through one Squid

def test_connect_and_http_through_squid(proxy, squids, tls_echo, http_server,
                                        client_tls_ctx):
    sq = squids()
    p = proxy(cfg([tls_echo.port, http_server.port], [parent("corp", sq)],
                  route_default=["corp"]))
    with Tunnel(p.port, "echo.test:%d" % tls_echo.port) as t:
        assert t.status == 200
        assert tls_echo_over(t, client_tls_ctx) == b"through squid"
    r = get(p.port, "http://web.test:%d/via/squid?q=1" % http_server.port)
    assert r.status == 200
    assert r.body == b"hello web.test:%d /via/squid?q=1\n" % \
        http_server.port
    rec = record(p, lambda r: r["method"] == "CONNECT")
    assert rec["upstream"] == "corp" and rec["status"] == 200
    assert rec["sni"] == "echo.test"       # tls_sni log, as when direct
    assert rec["bytes_up"] > 0 and rec["bytes_down"] > 0
    rec = record(p, lambda r: r["method"] == "GET")
    assert rec["upstream"] == "corp" and rec["end"] == "done"
    assert rec["path"] == "/via/squid?q=1"
    sq.wait_access(lambda a: a[1] == "CONNECT" and
                   a[2] == "echo.test:%d" % tls_echo.port, "the CONNECT")
    sq.wait_access(lambda a: a[1] == "GET" and a[2] == "http://web.test:%d/"
                   "via/squid?q=1" % http_server.port, "the GET")


def test_tls_sni_decide_through_a_parent(proxy, squids, tls_echo,
                                         client_tls_ctx):
    """tls_sni: decide still closes a tunnel whose server name is denied,
    before a byte of it goes to the parent."""
    sq = squids()
    p = proxy(cfg([tls_echo.port], [parent("corp", sq)],
                  route_default=["corp"], tls_sni="decide",
                  tls_ports=[tls_echo.port],
                  categories={"no": {"action": "deny",
                                     "hosts": ["blocked.test"]}}))
    with Tunnel(p.port, "echo.test:%d" % tls_echo.port) as t:
        assert t.status == 200
        with pytest.raises((ssl.SSLError, OSError)):
            tls_echo_over(t, client_tls_ctx, name=b"blocked.test")
    rec = record(p, lambda r: r["host"] == "echo.test")
    assert rec["end"] == "sni_denied" and rec["sni"] == "blocked.test"
    assert rec["upstream"] == "corp" and rec["bytes_up"] > 0
    with Tunnel(p.port, "echo.test:%d" % tls_echo.port) as t:
        assert tls_echo_over(t, client_tls_ctx) == b"through squid"


def test_request_to_the_parent(proxy, origin, tmp_path):
    """What a parent receives (a recording server as the parent): plain
    HTTP in absolute form with the parent's credentials, never the
    client's own Proxy-Authorization or Proxy-* headers; a CONNECT with
    Host and the credentials."""
    cred = tmp_path / "cred"
    cred.write_text("svc:pa55word\n")
    p = proxy(cfg([80, 443], [{"name": "rec", "url": "http://127.0.0.1:%d"
                               % origin.port,
                               "credentials_file": str(cred)}],
                  route_default=["rec"]))
    r = get(p.port, "http://web.test/a/b?c=d",
            headers=b"Proxy-Authorization: Basic Y2xpZW50OnNlY3JldA==\r\n"
            b"Proxy-Feature: x\r\nX-Kept: yes\r\n")
    assert r.status == 200
    req = origin.wait_request(lambda q: q.method == "GET", "the GET")[0]
    assert req.target == "http://web.test/a/b?c=d"
    assert req.header("host") == "web.test"
    assert req.header("x-kept") == "yes"
    assert req.headers_named("proxy-authorization") == [
        "Basic " + base64.b64encode(b"svc:pa55word").decode()]
    assert req.header("proxy-feature") is None
    with Tunnel(p.port, "web.test:443") as t:
        assert t.status == 200
    req = origin.wait_request(lambda q: q.method == "CONNECT", "CONNECT")[0]
    assert req.target == "web.test:443"
    assert req.header("host") == "web.test:443"
    assert req.header("proxy-authorization") == "Basic " + \
        base64.b64encode(b"svc:pa55word").decode()


# ---------------------------------------------------------------------------
# 2. Basic authentication to the parent

def test_squid_basic_auth(proxy, squids, tls_echo, http_server,
                          client_tls_ctx, tmp_path):
    sq = squids(users={"alice": "Corr3ct-h0rse"})
    good = tmp_path / "good.cred"
    good.write_text("alice:Corr3ct-h0rse\n")
    bad = tmp_path / "bad.cred"
    bad.write_text("alice:Wr0ng-batt3ry\n")
    ports = [tls_echo.port, http_server.port]
    p = proxy(cfg(ports, [parent("corp", sq, credentials_file=str(good))],
                  route_default=["corp"]))
    with Tunnel(p.port, "echo.test:%d" % tls_echo.port) as t:
        assert t.status == 200
        assert tls_echo_over(t, client_tls_ctx) == b"through squid"
    r = get(p.port, "http://web.test:%d/authed" % http_server.port)
    assert r.status == 200, r
    sq.wait_access(lambda a: a[1] == "CONNECT" and a[3] == "alice",
                   "the CONNECT as alice")
    sq.wait_access(lambda a: a[1] == "GET" and a[3] == "alice",
                   "the GET as alice")

    p.rewrite_config(cfg(ports, [parent("corp", sq,
                                        credentials_file=str(bad))],
                         route_default=["corp"]))
    assert p.reload()[0]
    with Tunnel(p.port, "echo.test:%d" % tls_echo.port) as t:
        assert t.status == 502
        assert t.resp.headers["x-hushgate-upstream"] == "corp"
        assert b"upstream corp" in t.resp.body
        assert b"407" in t.resp.body
    r = get(p.port, "http://web.test:%d/refused" % http_server.port)
    assert r.status == 502
    assert b"upstream corp" in r.body
    for method in ("CONNECT", "GET"):
        rec = record(p, lambda r: r["method"] == method and
                     r["end"] == "upstream_auth", method + " refused")
        assert rec["status"] == 502 and rec["upstream"] == "corp"
    sq.wait_access(lambda a: a[0] == "TCP_DENIED/407", "the 407s")
    logged = p.stderr_text() + p.log_path.read_text()
    for secret in ("Corr3ct-h0rse", "Wr0ng-batt3ry",
                   base64.b64encode(b"alice:Corr3ct-h0rse").decode(),
                   base64.b64encode(b"alice:Wr0ng-batt3ry").decode()):
        assert secret not in logged
    assert "upstream corp" in p.stderr_text()


def test_no_credentials_is_an_auth_failure(proxy, squids, http_server):
    sq = squids(users={"alice": "x"})
    p = proxy(cfg([http_server.port], [parent("corp", sq)],
                  route_default=["corp"]))
    with Tunnel(p.port, "web.test:%d" % http_server.port) as t:
        assert t.status == 502
        assert b"no credentials_file" in t.resp.body
    rec = record(p, lambda r: r["method"] == "CONNECT")
    assert rec["end"] == "upstream_auth"


# ---------------------------------------------------------------------------
# 3. Squid refuses a destination

def test_squid_refuses_a_destination(proxy, squids, http_server):
    sq = squids(names=["web.test", "shop.blocked.test"],
                deny=[".blocked.test"])
    port = http_server.port
    p = proxy(cfg([port], [parent("corp", sq)], route_default=["corp"]))
    with Tunnel(p.port, "shop.blocked.test:%d" % port) as t:
        assert t.status == 403
        assert t.resp.headers["x-hushgate-upstream"] == "corp"
        assert b"upstream corp: refused CONNECT to shop.blocked.test" in \
            t.resp.body
    rec = record(p, lambda r: r["method"] == "CONNECT")
    assert rec["end"] == "upstream_refused" and rec["status"] == 403
    assert rec["upstream"] == "corp" and rec["action"] == "allow"
    # Plain HTTP: Squid's own answer is the response, relayed.
    r = get(p.port, "http://shop.blocked.test:%d/" % port)
    assert r.status == 403
    assert r.headers.get("x-squid-error", "").startswith("ERR_ACCESS_DENIED")
    rec = record(p, lambda r: r["method"] == "GET")
    assert rec["end"] == "done" and rec["status"] == 403
    assert rec["upstream"] == "corp"
    sq.wait_access(lambda a: a[0] == "TCP_DENIED/403" and a[1] == "GET",
                   "the refused GET")
    # A refusal is the parent's word on one destination: it stays up.
    s = parse(scrape(p.port).body.decode())
    assert metric(s, "hushgate_upstream_failures_total", upstream="corp",
                  kind="refused") == 1
    assert metric(s, "hushgate_upstream_down", upstream="corp") == 0


def test_parent_5xx_to_connect(proxy, squids):
    """Squid cannot reach the destination: its 503 is a failure of the
    entry, 502 for the client."""
    sq = squids()
    gone = closed_port()
    with gone:
        port = gone.getsockname()[1]
        p = proxy(cfg([port], [parent("corp", sq)], route_default=["corp"]))
        with Tunnel(p.port, "web.test:%d" % port) as t:
            assert t.status == 502
            assert b"503" in t.resp.body
    rec = record(p, lambda r: r["method"] == "CONNECT")
    assert rec["end"] == "upstream_failed" and rec["status"] == 502


# ---------------------------------------------------------------------------
# 4. A parent down: failover, direct, down-marking and probes

def down_metrics(p, name):
    s = parse(scrape(p.port).body.decode())
    return {k: metric(s, "hushgate_upstream_" + k + "_total",
                      upstream=name)
            for k in ("requests", "skipped", "marked_down")} | {
        "unreachable": metric(s, "hushgate_upstream_failures_total",
                              upstream=name, kind="unreachable"),
        "down": metric(s, "hushgate_upstream_down", upstream=name)}


def test_failover_down_marking_and_probe(proxy, squids, http_server,
                                         tls_echo, client_tls_ctx):
    dead = closed_port()
    dead_port = dead.getsockname()[1]
    sq2 = squids()
    ports = [http_server.port, tls_echo.port]
    p = proxy(cfg(ports, [
        {"name": "first", "url": "http://127.0.0.1:%d" % dead_port,
         "max_failures": 2, "hold_time": "1s"},
        parent("second", sq2)], route_default=["first", "second"]))
    url = "http://web.test:%d/" % http_server.port
    assert get(p.port, url + "one").status == 200
    with Tunnel(p.port, "echo.test:%d" % tls_echo.port) as t:
        assert t.status == 200
        assert tls_echo_over(t, client_tls_ctx) == b"through squid"
    for method in ("GET", "CONNECT"):
        rec = record(p, lambda r: r["method"] == method)
        assert rec["upstream"] == "second" and rec["status"] == 200
    p.wait_stderr(r"upstream first: marked down for 1000ms after 2 "
                  r"consecutive failures")
    m = down_metrics(p, "first")
    assert m["unreachable"] == 2 and m["marked_down"] == 1 and \
        m["down"] == 1
    # Down: the next request does not try it.
    assert get(p.port, url + "skip").status == 200
    m = down_metrics(p, "first")
    assert m["requests"] == 2 and m["unreachable"] == 2
    assert m["skipped"] >= 1
    # Its hold time over, a request probes it: still dead.
    n = p.nlines()
    wait_until(lambda: get(p.port, url + "poll").status == 200 and
               any("upstream first: probe failed" in l
                   for l in p.lines[n:]), "a failed probe", interval=0.1)
    assert down_metrics(p, "first")["unreachable"] == 3
    # A Squid on its port: the next probe marks it up.
    dead.close()
    squids(port=dead_port)
    n = p.nlines()
    wait_until(lambda: get(p.port, url + "probe").status == 200 and
               any("upstream first: up again" in l for l in p.lines[n:]),
               "a probe that marks it up", interval=0.1)
    assert down_metrics(p, "first")["down"] == 0
    assert get(p.port, url + "back").status == 200
    rec = record(p, lambda r: r["path"] == "/back")
    assert rec["upstream"] == "first"


def test_direct_as_the_last_entry(proxy, squids, http_server):
    dead1, dead2 = closed_port(), closed_port()
    with dead1, dead2:
        ups = [{"name": "d%d" % i, "url": "http://127.0.0.1:%d" %
                s.getsockname()[1]} for i, s in ((1, dead1), (2, dead2))]
        p = proxy(cfg([http_server.port], ups,
                      route_default=["d1", "d2", "direct"]),
                  hosts=["web.test"])
        r = get(p.port, "http://web.test:%d/direct" % http_server.port)
        assert r.status == 200
        rec = record(p, lambda r: r["path"] == "/direct")
        assert rec["upstream"] == "127.0.0.1:%d" % http_server.port
        assert rec["end"] == "done"
        with Tunnel(p.port, "web.test:%d" % http_server.port) as t:
            assert t.status == 200
        # Without direct: every parent unreachable is a 502 naming the
        # last one.
        p.rewrite_config(cfg([http_server.port], ups,
                             route_default=["d1", "d2"]))
        assert p.reload()[0]
        with Tunnel(p.port, "web.test:%d" % http_server.port) as t:
            assert t.status == 502
            assert t.resp.headers["x-hushgate-upstream"] == "d2"
            assert b"upstream d2: cannot connect" in t.resp.body
        rec = record(p, lambda r: r["end"] == "upstream_unreachable")
        assert rec["upstream"] == "d2" and rec["status"] == 502


def test_every_parent_down(proxy):
    dead = closed_port()
    with dead:
        p = proxy(cfg([443], [{"name": "only", "url": "http://127.0.0.1:%d"
                               % dead.getsockname()[1],
                               "max_failures": 1, "hold_time": "60s"}],
                      route_default="only"))
        with Tunnel(p.port, "web.test:443") as t:
            assert t.status == 502
        with Tunnel(p.port, "web.test:443") as t:
            assert t.status == 502
            assert b"marked down" in t.resp.body
        rec = record(p, lambda r: r["end"] == "upstream_down")
        assert rec["upstream"] == "only"
        assert down_metrics(p, "only")["requests"] == 1


def test_http_failover_only_before_the_body(proxy, squids, http_server,
                                            origin):
    """A parent's 407 to plain HTTP: a request without a body goes to the
    next entry; one whose body went to the refusing parent cannot."""
    origin.handlers[""] = lambda oc, req: oc.send(
        b"HTTP/1.1 407 Proxy Authentication Required\r\n"
        b"Proxy-Authenticate: Basic realm=x\r\nContent-Length: 0\r\n\r\n")
    sq = squids()
    p = proxy(cfg([http_server.port], [
        {"name": "auth", "url": "http://127.0.0.1:%d" % origin.port},
        parent("open", sq)], route_default=["auth", "open"]))
    url = "http://web.test:%d/" % http_server.port
    r = get(p.port, url + "get")
    assert r.status == 200
    assert record(p, lambda r: r["path"] == "/get")["upstream"] == "open"
    r = get(p.port, url + "post", body=b"payload", method=b"POST")
    assert r.status == 502
    rec = record(p, lambda r: r["path"] == "/post")
    assert rec["end"] == "upstream_auth" and rec["upstream"] == "auth"
    assert len(origin.find(lambda q: q.method == "POST")) == 1
    assert not [a for a in sq.access() if a[1] == "POST"]


# ---------------------------------------------------------------------------
# 5. Denied hosts never reach a parent

def test_denied_host_never_reaches_squid(proxy, squids, http_server):
    sq = squids(names=["web.test", "telemetry.test"])
    port = http_server.port
    p = proxy(cfg([port, 443], [parent("corp", sq)], route_default=["corp"],
                  categories={"telemetry": {"action": "deny",
                                            "hosts": [".telemetry.test"]}}))
    with Tunnel(p.port, "telemetry.test:%d" % port) as t:
        assert t.status == 403
    assert get(p.port, "http://telemetry.test:%d/x" % port).status == 403
    with Tunnel(p.port, "web.test:25") as t:       # connect_ports
        assert t.status == 403
    assert get(p.port, "http://web.test:%d/allowed" % port).status == 200
    sq.wait_access(lambda a: "allowed" in a[2], "the allowed request")
    p.wait_log(lambda r: True, "four records", count=4)
    assert not [a for a in sq.access() if "telemetry" in a[2] or
                a[2].endswith(":25")], sq.access()
    for rec in p.log_lines():
        if rec["action"] == "deny":
            assert rec["upstream"] is None


# ---------------------------------------------------------------------------
# 6. Routes by destination and by category

def test_routes_by_host_and_category(proxy, squids, http_server, hushgate):
    names = ["a.corp.test", "x.office.test", "other.test"]
    sqa, sqb = squids(names=names), squids(names=names)
    port = http_server.port
    config = cfg([port], [parent("alpha", sqa), parent("beta", sqb)],
                 categories={"office": {"action": "allow",
                                        "hosts": [".office.test"]}},
                 routes=[{"hosts": [".corp.test"], "via": ["alpha"]},
                         {"categories": ["office"], "via": ["beta"]}])
    p = proxy(config, hosts=names)
    for host in names:
        assert get(p.port, "http://%s:%d/r" % (host, port)).status == 200
    via = {r["host"]: r["upstream"] for r in
           p.wait_log(lambda r: True, "three records", count=3)}
    assert via["a.corp.test"] == "alpha"
    assert via["x.office.test"] == "beta"
    assert via["other.test"] == "127.0.0.1:%d" % port        # direct
    sqa.wait_access(lambda a: "a.corp.test" in a[2], "alpha's request")
    sqb.wait_access(lambda a: "x.office.test" in a[2], "beta's request")
    assert [a for a in sqa.access() if "test" in a[2]] == \
        [a for a in sqa.access() if "a.corp.test" in a[2]]
    assert not [a for a in sqb.access() if "a.corp.test" in a[2] or
                "other.test" in a[2]]
    # explain shows the route of each allowed host
    cp = run_hushgate(["explain", "-c", str(p.config_path)] +
                      ["%s:%d" % (h, port) for h in names])
    assert cp.returncode == 0, cp.stderr
    routes = [l.split("\t") for l in cp.stdout.splitlines()
              if l.startswith("route ")]
    assert routes == [
        ["route a.corp.test:%d" % port, "via", "alpha", "%s:%d" % (
            p.config_path, yaml_place(p.config_path, ("routes", 0))[0])],
        ["route x.office.test:%d" % port, "via", "beta", "%s:%d" % (
            p.config_path, yaml_place(p.config_path, ("routes", 1))[0])],
        ["route other.test:%d" % port, "via", "direct", "route_default"]]
    # and so does the status API
    for host, route in (("a.corp.test", ["alpha"]), ("x.office.test",
                                                     ["beta"])):
        r = raw_request(p.port, b"GET /api/explain?host=%s:%d HTTP/1.1\r\n"
                        b"Host: x\r\n\r\n" % (host.encode(), port))
        assert r.status == 200
        assert json.loads(r.body)["route"] == route


def test_reload_changes_the_route(proxy, squids, http_server):
    sqa, sqb = squids(), squids()
    port = http_server.port
    p = proxy(cfg([port], [parent("corp", sqa)], route_default=["corp"]))
    assert get(p.port, "http://web.test:%d/first" % port).status == 200
    p.rewrite_config(cfg([port], [parent("corp", sqb)],
                         route_default=["corp"]))
    assert p.reload()[0]
    assert get(p.port, "http://web.test:%d/second" % port).status == 200
    sqa.wait_access(lambda a: a[2].endswith("/first"), "first on a")
    sqb.wait_access(lambda a: a[2].endswith("/second"), "second on b")
    # A bad upstream block fails the reload: the running routes stay.
    bad = dict(p.config)
    bad["upstreams"] = [{"name": "corp", "url": "ftp://nowhere"}]
    dump_yaml(bad, p.config_path)
    ok, _, i = p.reload()
    assert not ok
    p.wait_stderr(r"hushgate\.yaml:\d+:\d+: upstreams\.url: 'ftp://"
                  r"nowhere'", start=i)
    assert get(p.port, "http://web.test:%d/third" % port).status == 200
    sqb.wait_access(lambda a: a[2].endswith("/third"), "third on b")


# ---------------------------------------------------------------------------
# 7. An https:// parent

@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    return make_test_ca(tmp_path_factory.mktemp("otherca"))


@pytest.mark.parametrize("host", ["squid.test", "127.0.0.1"])
def test_https_parent(proxy, squids, tls_echo, http_server, test_ca,
                      client_tls_ctx, host):
    """Squid's https_port with the test CA's certificate (names *.test and
    127.0.0.1), verified with ca: by name and by address."""
    sq = squids(tls=test_ca)
    ports = [tls_echo.port, http_server.port]
    up = {"name": "sec", "url": "https://%s:%d" % (host, sq.tls_port),
          "ca": test_ca["ca"]}
    p = proxy(cfg(ports, [up], route_default=["sec"]), hosts=["squid.test"])
    with Tunnel(p.port, "echo.test:%d" % tls_echo.port) as t:
        assert t.status == 200
        assert tls_echo_over(t, client_tls_ctx) == b"through squid"
    with open_client(p.port) as c:      # the second may reuse the first
        for i in range(2):                # one's TLS connection (pooled)
            c.sendall(b"GET http://web.test:%d/tls%d HTTP/1.1\r\n"
                      b"Host: web.test\r\n\r\n" % (http_server.port, i))
            r = read_response(c)
            assert r.status == 200
            assert r.body == b"hello web.test:%d /tls%d\n" % (
                http_server.port, i)
    sq.wait_access(lambda a: a[1] == "CONNECT", "the CONNECT over TLS")
    sq.wait_access(lambda a: a[2].endswith("/tls1"), "the GETs over TLS")
    for rec in p.wait_log(lambda r: True, "three records", count=3):
        assert rec["upstream"] == "sec" and rec["status"] == 200


def test_https_parent_wrong_ca_fails_closed(proxy, squids, http_server,
                                            other_ca, test_ca):
    sq = squids(tls=test_ca)
    port = http_server.port
    p = proxy(cfg([port], [{"name": "sec", "url": "https://squid.test:%d" %
                            sq.tls_port, "ca": other_ca["ca"]}],
                  route_default=["sec"]), hosts=["squid.test"])
    with Tunnel(p.port, "web.test:%d" % port) as t:
        assert t.status == 502
        assert b"upstream sec: TLS: certificate not verified" in t.resp.body
    assert get(p.port, "http://web.test:%d/" % port).status == 502
    recs = p.wait_log(lambda r: r["end"] == "upstream_tls", "two TLS "
                      "failures", count=2)
    assert {r["method"] for r in recs} == {"CONNECT", "GET"}
    assert not [a for a in sq.access() if a[1] in ("CONNECT", "GET")]
    s = parse(scrape(p.port).body.decode())
    assert metric(s, "hushgate_upstream_failures_total", upstream="sec",
                  kind="tls") == 2


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_parent_from_a_tls_listener(proxy, squids, tls_echo, test_ca,
                                    tmp_path, client_tls_ctx, scheme):
    """A client of a TLS listener through an https:// parent (both sides
    TLS) and through a plain one."""
    certs = certs_init(tmp_path / "certs", "--name", "localhost", "--ip",
                       "127.0.0.1")
    sq = squids(tls=test_ca)
    url = "https://127.0.0.1:%d" % sq.tls_port if scheme == "https" else \
        "http://127.0.0.1:%d" % sq.port
    p = proxy(cfg([tls_echo.port], [{"name": "sec", "url": url,
                                     "ca": test_ca["ca"]}
                                    if scheme == "https" else
                                    {"name": "sec", "url": url}],
                  route_default=["sec"],
                  listen=[{"address": "127.0.0.1:0",
                           "tls": {"cert": certs["cert"],
                                   "key": certs["key"]}}]))
    s, r = tls_connect(p.port, certs["ca"], "echo.test:%d" % tls_echo.port)
    with s:
        assert r.status == 200
        assert tls_inside(s, r.body, client_tls_ctx, "echo.test",
                          b"tls in tls") == b"tls in tls"
    rec = record(p, lambda r: r["method"] == "CONNECT")
    assert rec["upstream"] == "sec" and rec["status"] == 200
    assert rec["sni"] == "echo.test"


def tls_inside(outer, early, ctx, name, payload):
    """A TLS session to name inside the TLS connection outer (early: bytes
    of it read already); returns what the server echoed of payload."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    inc.write(early)

    def more():
        data = out.read()
        if data:
            outer.sendall(data)
        d = outer.recv(65536)
        assert d, "the tunnel closed"
        inc.write(d)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            more()
    obj.write(payload)
    outer.sendall(out.read())
    got = b""
    while len(got) < len(payload):
        try:
            got += obj.read(65536)
        except ssl.SSLWantReadError:
            more()
    return got


# ---------------------------------------------------------------------------
# 8. Bad configurations: file:line:col

BAD = [
    ("unknown upstream", {"upstreams": [{"name": "corp", "url":
                                         "http://127.0.0.1:3128"}],
                          "routes": [{"hosts": ["a.test"],
                                      "via": ["corp", "corp2"]}]},
     r":(\d+):(\d+): routes\.via: unknown upstream 'corp2' \(upstreams: "
     r"corp, or direct\)", ("routes", 0, "via", 1)),
    ("bad url", {"upstreams": [{"name": "corp", "url": "proxy:3128"}]},
     r":(\d+):(\d+): upstreams\.url: 'proxy:3128': expected http://HOST:"
     r"PORT or https://HOST:PORT", ("upstreams", 0, "url")),
    ("no port", {"upstreams": [{"name": "corp", "url": "http://proxy"}]},
     r":(\d+):(\d+): upstreams\.url: 'http://proxy': port missing",
     ("upstreams", 0, "url")),
    ("unknown default", {"route_default": ["nope"]},
     r":(\d+):(\d+): route_default: unknown upstream 'nope'",
     ("route_default", 0)),
    ("unknown category", {"upstreams": [{"name": "corp", "url":
                                         "http://127.0.0.1:3128"}],
                          "routes": [{"categories": ["nope"],
                                      "via": "corp"}]},
     r":(\d+):(\d+): routes\.categories: unknown category 'nope'",
     ("routes", 0, "categories", 0)),
]


def yaml_place(path, keys):
    """1-based line and column of the node reached by keys (mapping keys
    and sequence indexes)."""
    with open(path) as f:
        node = yaml.compose(f)
    for k in keys:
        if isinstance(k, int):
            node = node.value[k]
        else:
            node = [v for kn, v in node.value if kn.value == k][0]
    return node.start_mark.line + 1, node.start_mark.column + 1


@pytest.mark.parametrize("name,conf,msg,keys", BAD, ids=[b[0] for b in BAD])
def test_bad_config(tmp_path, hushgate, name, conf, msg, keys):
    path = dump_yaml(dict(conf, log={"decisions": None}),
                     tmp_path / "bad.yaml")
    cp = run_hushgate(["-t", "-c", str(path)])
    assert cp.returncode == 1
    m = re.search(re.escape(str(path)) + msg, cp.stderr)
    assert m, cp.stderr
    assert (int(m.group(1)), int(m.group(2))) == yaml_place(path, keys)


def test_bad_credentials_file(tmp_path, hushgate):
    secret = tmp_path / "secret"
    secret.write_text("no-colon-but-a-Secr3t\n")
    unreadable = tmp_path / "missing"
    for cred, why in ((unreadable, "cannot open %s: No such file" %
                       unreadable), (secret, "%s: no ':'" % secret)):
        path = dump_yaml({"log": {"decisions": None}, "upstreams": [
            {"name": "corp", "url": "http://127.0.0.1:3128",
             "credentials_file": str(cred)}]}, tmp_path / "bad.yaml")
        cp = run_hushgate(["-t", "-c", str(path)])
        assert cp.returncode == 1
        line, col = yaml_place(path, ("upstreams", 0, "credentials_file"))
        assert "%s:%d:%d: upstreams.credentials_file: %s" % (
            path, line, col, why) in cp.stderr, cp.stderr
        assert "Secr3t" not in cp.stderr


def test_bad_ca_file(tmp_path, hushgate):
    notcert = tmp_path / "notcert.pem"
    notcert.write_text("not a certificate\n")
    path = dump_yaml({"log": {"decisions": None}, "upstreams": [
        {"name": "sec", "url": "https://127.0.0.1:3129",
         "ca": str(notcert)}]}, tmp_path / "bad.yaml")
    cp = run_hushgate(["-t", "-c", str(path)])
    assert cp.returncode == 1
    line, col = yaml_place(path, ("upstreams", 0, "ca"))
    assert "%s:%d:%d: upstreams.ca: CA file %s" % (path, line, col,
                                                  notcert) in cp.stderr

"""TLS listeners ("HTTPS proxy"): listen entries with tls: {cert, key}.
Clients speak TLS to the proxy -- curl --proxy https://, openssl s_client,
python's ssl module -- for CONNECT, plain http://, /healthz and deny
answers.  Certificates come from `hushgate certs init` at test time."""

import os
import re
import socket
import ssl
import stat
import subprocess
import time

import pytest

from helpers import (TIMEOUT, Response, exchange, pattern_bytes, read_head,
                     read_response, read_to_eof, recv_exact, run_hushgate,
                     sha256, wait_until)
from test_proxy_protocol import v2


def certs_init(d, *args):
    cp = run_hushgate(["certs", "init", "--dir", str(d)] + list(args))
    assert cp.returncode == 0, cp.stderr
    return {"ca": str(d / "ca.crt"), "cert": str(d / "server.crt"),
            "key": str(d / "server.key"), "out": cp.stdout}


@pytest.fixture
def certs(tmp_path):
    return certs_init(tmp_path / "certs", "--name", "localhost",
                      "--ip", "127.0.0.1")


def tls_cfg(certs, port=None, extra=None, pp=None):
    entry = {"address": "127.0.0.1:0",
             "tls": {"cert": certs["cert"], "key": certs["key"]}}
    if pp is not None:
        entry["proxy_protocol"] = pp
    cfg = {"listen": [entry],
           "categories": {"blocked": {"action": "deny",
                                      "hosts": ["blocked.test"]}}}
    if port is not None:
        cfg["connect_ports"] = [port]
    cfg.update(extra or {})
    return cfg


def tls_client(port, ca, raw=None):
    """A TLS connection to the proxy, verified against ca (the name is
    127.0.0.1, an IP SAN of the certificate)."""
    ctx = ssl.create_default_context(cafile=ca)
    sock = raw or socket.create_connection(("127.0.0.1", port),
                                           timeout=TIMEOUT)
    return ctx.wrap_socket(sock, server_hostname="127.0.0.1",
                           suppress_ragged_eofs=False)


def tls_connect(port, ca, target, raw=None, extra=""):
    """CONNECT target over a TLS connection to the proxy: (sock, Response).
    extra: more header lines, each ending in CRLF."""
    s = tls_client(port, ca, raw)
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
        target, target, extra)).encode())
    head, rest = read_head(s)
    assert head is not None, "closed without an answer (got %r)" % rest
    return s, Response(head, rest)


def run_curl(curl, port, ca, url, *extra):
    return subprocess.run(
        [curl, "-sS", "--max-time", str(int(TIMEOUT)), "--proxy",
         "https://127.0.0.1:%d" % port, "--proxy-cacert", ca] +
        list(extra) + [url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT * 2,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})


def s_client(openssl_cli, port, *args, stdin=b""):
    cp = subprocess.run(
        [openssl_cli, "s_client", "-connect", "127.0.0.1:%d" % port] +
        list(args), input=stdin, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, timeout=TIMEOUT * 2)
    return cp.returncode, cp.stdout.decode("utf-8", "replace")


def test_curl_connect_allowed(proxy, certs, curl, https_server, test_ca):
    p = proxy(tls_cfg(certs, https_server.port), hosts=["web.test"])
    cp = run_curl(curl, p.port, certs["ca"],
                  "https://web.test:%d/through-tls" % https_server.port,
                  "--cacert", test_ca["ca"])
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == b"hello web.test:%d /through-tls\n" % \
        https_server.port
    rec = p.wait_log(lambda r: r["host"] == "web.test", "record")[0]
    assert rec["status"] == 200 and rec["method"] == "CONNECT"
    assert rec["bytes_up"] > 0 and rec["bytes_down"] > 0


def test_curl_connect_denied(proxy, certs, curl, https_server, test_ca):
    p = proxy(tls_cfg(certs, https_server.port), hosts=["blocked.test"])
    cp = run_curl(curl, p.port, certs["ca"],
                  "https://blocked.test:%d/" % https_server.port,
                  "--cacert", test_ca["ca"])
    assert cp.returncode != 0
    assert b"403" in cp.stderr, cp.stderr
    rec = p.wait_log(lambda r: r["host"] == "blocked.test", "record")[0]
    assert rec["end"] == "denied" and rec["category"] == "blocked"


def test_deny_answer_over_tls(proxy, certs):
    p = proxy(tls_cfg(certs), hosts=["blocked.test"])
    s, r = tls_connect(p.port, certs["ca"], "blocked.test:443")
    with s:
        assert r.status == 403
        assert r.headers.get("x-hushgate-category") == "blocked"
        body = recv_exact(s, int(r.headers["content-length"]), r.body)
        assert b"category: blocked" in body
        # The answer ends with close_notify, not a bare TCP close.
        assert read_to_eof(s) == b""


def test_plain_http_through_tls(proxy, certs, curl, http_server):
    p = proxy(tls_cfg(certs, extra={"http_ports": [http_server.port]}),
              hosts=["web.test", "blocked.test"])
    url = "http://web.test:%d/plain" % http_server.port
    cp = run_curl(curl, p.port, certs["ca"], url)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == b"hello web.test:%d /plain\n" % http_server.port
    cp = run_curl(curl, p.port, certs["ca"],
                  "http://blocked.test:%d/" % http_server.port,
                  "-o", "/dev/null", "-w", "%{http_code}")
    assert cp.stdout == b"403"


def test_plain_http_keepalive_over_tls(proxy, certs, http_server):
    p = proxy(tls_cfg(certs, extra={"http_ports": [http_server.port]}),
              hosts=["web.test"])
    req = ("GET http://web.test:%d/%%s HTTP/1.1\r\nHost: web.test:%d\r\n"
           "\r\n" % (http_server.port, http_server.port))
    with tls_client(p.port, certs["ca"]) as s:
        # Two requests in one write, then a third on the same connection.
        s.sendall((req % "one" + req % "two").encode())
        for path in ("one", "two"):
            r = read_response(s)
            assert r.status == 200
            assert r.body == b"hello web.test:%d /%s\n" % (
                http_server.port, path.encode())
        s.sendall((req % "three").encode())
        r = read_response(s)
        assert r.body.endswith(b" /three\n")
    recs = p.wait_log(lambda r: r["host"] == "web.test", "records", count=3)
    assert [r["path"] for r in recs] == ["/one", "/two", "/three"]


def test_healthz_over_tls(proxy, certs):
    p = proxy(tls_cfg(certs))
    with tls_client(p.port, certs["ca"]) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        r = read_response(s)
    assert r.status == 200 and r.body == b"ok\n"


def test_protocol_versions(proxy, certs, openssl_cli):
    p = proxy(tls_cfg(certs))
    rc, out = s_client(openssl_cli, p.port, "-CAfile", certs["ca"])
    assert rc == 0, out
    assert re.search(r"Protocol\s*: TLSv1\.[23]", out), out
    assert "Verify return code: 0 (ok)" in out
    # ECDHE with an AEAD cipher.
    assert re.search(r"Cipher\s*: ECDHE-\S+-(GCM|CHACHA20)", out), out
    rc, out = s_client(openssl_cli, p.port, "-tls1_1", "-cipher",
                       "DEFAULT:@SECLEVEL=0")
    assert rc != 0, out
    assert "Cipher is (NONE)" in out, out
    # The refusal happened at the proxy, not only in the client.
    p.wait_stderr(r"TLS: .*(version|min/max|protocol)")


def test_renegotiation_refused(proxy, certs, openssl_cli):
    p = proxy(tls_cfg(certs))
    # "R" asks s_client to renegotiate; the proxy says no.
    rc, out = s_client(openssl_cli, p.port, "-CAfile", certs["ca"],
                       "-tls1_2", stdin=b"R\n")
    assert "RENEGOTIATING" in out, out
    assert "no renegotiation" in out, out


def test_session_resumption(proxy, certs, openssl_cli, tmp_path):
    p = proxy(tls_cfg(certs))
    sess = tmp_path / "session.pem"
    rc, out = s_client(openssl_cli, p.port, "-CAfile", certs["ca"],
                       "-sess_out", str(sess))
    assert rc == 0 and "New, TLSv1." in out, out
    rc, out = s_client(openssl_cli, p.port, "-CAfile", certs["ca"],
                       "-sess_in", str(sess))
    assert rc == 0 and "Reused, TLSv1." in out, out


def test_tunnel_mib_each_way(proxy, certs, echo_server):
    p = proxy(tls_cfg(certs, echo_server.port), hosts=["echo.test"])
    data = pattern_bytes(1 << 20, seed=7)
    s, r = tls_connect(p.port, certs["ca"], "echo.test:%d" % echo_server.port)
    with s:
        assert r.status == 200
        assert r.body == b""
        got = exchange(s, data)
        assert sha256(got) == sha256(data)
    rec = p.wait_log(lambda r: r["host"] == "echo.test", "record")[0]
    assert rec["bytes_up"] == len(data) and rec["bytes_down"] == len(data)


def test_upstream_half_close_is_close_notify(proxy, certs, greet_server):
    p = proxy(tls_cfg(certs, greet_server.port), hosts=["greet.test"])
    s, r = tls_connect(p.port, certs["ca"],
                       "greet.test:%d" % greet_server.port)
    with s:
        assert r.status == 200
        # suppress_ragged_eofs=False: a bare TCP close would raise here.
        assert read_to_eof(s, r.body) == b"greeting from upstream\n"
        # The other way still works after the upstream's half-close.
        s.sendall(b"after the greeting")
    wait_until(lambda: b"after the greeting" in greet_server.received,
               "the upstream gets the bytes sent after its half-close")


def test_client_close_notify_is_half_close(proxy, certs, deferred_echo):
    """The client's close_notify reaches the upstream as EOF; what the
    upstream sends after that still reaches the client, then close_notify.
    (Driven through memory BIOs: the client keeps reading after its own
    close_notify.)"""
    p = proxy(tls_cfg(certs, deferred_echo.port), hosts=["echo.test"])
    ctx = ssl.create_default_context(cafile=certs["ca"])
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname="127.0.0.1")
    sock = socket.create_connection(("127.0.0.1", p.port), timeout=TIMEOUT)

    def pump(step):
        """Run step until it stops asking for input; returns its value."""
        while True:
            try:
                v = step()
            except ssl.SSLWantReadError:
                sock.sendall(out.read())
                data = sock.recv(65536)
                assert data, "proxy closed the socket early"
                inc.write(data)
                continue
            sock.sendall(out.read())
            return v

    data = pattern_bytes(256 * 1024, seed=3)
    with sock:
        pump(tls.do_handshake)
        pump(lambda: tls.write(b"CONNECT echo.test:%d HTTP/1.1\r\n\r\n" %
                               deferred_echo.port))
        head = b""
        while b"\r\n\r\n" not in head:
            head += pump(lambda: tls.read(65536))
        head, _, got = head.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        view = memoryview(data)
        while view:
            n = pump(lambda: tls.write(view[:16384]))
            view = view[n:]
        with pytest.raises(ssl.SSLWantReadError):
            tls.unwrap()            # our close_notify, then wait for theirs
        sock.sendall(out.read())
        got = bytearray(got)
        while True:
            try:
                got += pump(lambda: tls.read(65536))
            except ssl.SSLZeroReturnError:
                break               # the proxy's close_notify
    assert sha256(bytes(got)) == sha256(data)
    rec = p.wait_log(lambda r: r["host"] == "echo.test", "record")[0]
    assert rec["bytes_up"] == len(data) and rec["bytes_down"] == len(data)


def test_garbage_instead_of_hello(proxy, certs, echo_server):
    p = proxy(tls_cfg(certs, echo_server.port), hosts=["echo.test"])
    s, r = tls_connect(p.port, certs["ca"], "echo.test:%d" % echo_server.port)
    with s:
        assert r.status == 200
        bad = socket.create_connection(("127.0.0.1", p.port),
                                       timeout=TIMEOUT)
        with bad:
            bad.sendall(b"GET / HTTP/1.1\r\nHost: plain.test\r\n\r\n" * 4)
            bad.settimeout(TIMEOUT)
            try:
                while bad.recv(65536):
                    pass
            except ConnectionResetError:
                pass
        rec = p.wait_log(lambda r: r["end"] == "tls_error", "tls_error")[0]
        assert rec["method"] is None and rec["status"] is None
        # The tunnel opened before is not disturbed.
        s.sendall(b"still here")
        assert recv_exact(s, 10) == b"still here"


def test_slow_handshake_times_out(proxy, certs):
    p = proxy(tls_cfg(certs, extra={"timeouts": {"request": "1s"}}))
    # The first half of a real ClientHello, then nothing.
    ctx = ssl.create_default_context(cafile=certs["ca"])
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = out.read()
    assert len(hello) > 20
    sock = socket.create_connection(("127.0.0.1", p.port), timeout=TIMEOUT)
    start = time.monotonic()
    with sock:
        sock.sendall(hello[:len(hello) // 2])
        assert read_to_eof(sock) == b""
    elapsed = time.monotonic() - start
    assert elapsed >= 0.9, elapsed
    rec = p.wait_log(lambda r: r["end"] == "tls_timeout", "tls_timeout")[0]
    assert rec["duration_ms"] >= 900


def test_proxy_protocol_before_tls(proxy, certs, echo_server):
    cfg = tls_cfg(certs, echo_server.port, pp="v2",
                  extra={"trusted_proxies": ["127.0.0.1/32"],
                         "clients": ["127.0.0.0/8", "192.0.2.0/24"]})
    p = proxy(cfg, hosts=["echo.test"])

    def via_balancer(client):
        raw = socket.create_connection(("127.0.0.1", p.port),
                                       timeout=TIMEOUT)
        raw.sendall(v2(client))
        return tls_connect(p.port, certs["ca"],
                           "echo.test:%d" % echo_server.port, raw=raw)

    s, r = via_balancer("192.0.2.33")
    with s:
        assert r.status == 200
        s.sendall(b"behind a balancer")
        assert recv_exact(s, 17, r.body) == b"behind a balancer"
    rec = p.wait_log(lambda r: r["host"] == "echo.test", "record")[0]
    assert rec["client"] == "192.0.2.33"
    # A client the header names but clients refuses: 403, over TLS.
    s, r = via_balancer("198.51.100.7")
    with s:
        assert r.status == 403
    rec = p.wait_log(lambda r: r["end"] == "client_denied", "denied")[0]
    assert rec["client"] == "198.51.100.7"


def peer_der(port):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as r:
        with ctx.wrap_socket(r) as s:
            return s.getpeercert(binary_form=True)


def file_der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def test_reload_picks_up_new_certificate(proxy, certs, tmp_path, echo_server):
    p = proxy(tls_cfg(certs, echo_server.port), hosts=["echo.test"])
    old = file_der(certs["cert"])
    assert peer_der(p.port) == old
    s, r = tls_connect(p.port, certs["ca"], "echo.test:%d" % echo_server.port)
    with s:
        assert r.status == 200
        new = certs_init(tmp_path / "certs", "--force", "--name",
                         "renewed.test", "--ip", "127.0.0.1")
        assert file_der(new["cert"]) != old
        ok, gen, _ = p.reload()
        assert ok and gen == 2
        assert peer_der(p.port) == file_der(new["cert"])
        # New connections verify against the new CA ...
        with tls_client(p.port, new["ca"]) as c2:
            c2.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(c2).status == 200
        # ... and the tunnel opened before goes on with the old session.
        s.sendall(b"old session")
        assert recv_exact(s, 11) == b"old session"


def test_reload_with_bad_key_keeps_running(proxy, certs, tmp_path):
    p = proxy(tls_cfg(certs))
    other = certs_init(tmp_path / "other")
    cfg = tls_cfg(certs)
    cfg["listen"][0]["tls"]["key"] = other["key"]
    p.rewrite_config(cfg)
    ok, gen, i = p.reload()
    assert not ok and gen == 1
    p.wait_stderr(r"hushgate\.yaml:\d+:\d+: listen\.tls: key .* does not "
                  r"match", start=i)
    assert peer_der(p.port) == file_der(certs["cert"])


def test_certs_init_files(tmp_path):
    d = tmp_path / "made"
    c = certs_init(d, "--name", "proxy.example", "--name", "localhost",
                   "--ip", "127.0.0.1", "--ip", "::1")
    for name in ("ca.key", "server.key"):
        assert stat.S_IMODE(os.stat(d / name).st_mode) == 0o600, name
    for name in ("ca.crt", "server.crt"):
        assert stat.S_IMODE(os.stat(d / name).st_mode) == 0o644, name
    assert "tls: {cert: %s, key: %s}" % (c["cert"], c["key"]) in c["out"]
    # Checked by another implementation: openssl reads the result.
    txt = subprocess.run(["openssl", "x509", "-noout", "-text", "-in",
                          c["cert"]], stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    assert ("DNS:proxy.example, DNS:localhost, IP Address:127.0.0.1, "
            "IP Address:0:0:0:0:0:0:0:1") in txt
    assert "TLS Web Server Authentication" in txt
    assert "CA:FALSE" in txt
    assert "prime256v1" in txt
    ca = subprocess.run(["openssl", "x509", "-noout", "-text", "-in",
                         c["ca"]], stdout=subprocess.PIPE,
                        check=True).stdout.decode()
    assert "CA:TRUE" in ca and "Certificate Sign, CRL Sign" in ca
    v = subprocess.run(["openssl", "verify", "-CAfile", c["ca"],
                        "-purpose", "sslserver", c["cert"]],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert v.returncode == 0, v.stdout


def test_certs_init_refuses_overwrite(tmp_path):
    d = tmp_path / "once"
    certs_init(d)
    before = (d / "server.key").read_bytes()
    cp = run_hushgate(["certs", "init", "--dir", str(d)])
    assert cp.returncode != 0
    assert "server.key exists (use --force" in cp.stderr, cp.stderr
    assert (d / "server.key").read_bytes() == before
    os.chmod(d / "server.key", 0o644)
    certs_init(d, "--force")
    assert (d / "server.key").read_bytes() != before
    assert stat.S_IMODE(os.stat(d / "server.key").st_mode) == 0o600


@pytest.mark.parametrize("args,why", [
    (["--ip", "300.1.1.1"], "not an IPv4 or IPv6 address"),
    (["--name", "127.0.0.1"], "use --ip"),
    (["--days", "0"], "expected 1 to"),
    (["--bogus"], "unknown argument"),
])
def test_certs_init_bad_arguments(tmp_path, args, why):
    cp = run_hushgate(["certs", "init", "--dir", str(tmp_path / "x")] + args)
    assert cp.returncode != 0
    assert why in cp.stderr, cp.stderr
    assert not (tmp_path / "x" / "server.key").exists()


def write_cfg(tmp_path, certs):
    from helpers import dump_yaml
    path = tmp_path / "check.yaml"
    dump_yaml({"listen": [{"address": "127.0.0.1:0",
                           "tls": {"cert": certs["cert"],
                                   "key": certs["key"]}}],
               "dns": {"servers": []}}, path)
    return path


def tls_line(path):
    for n, line in enumerate(open(path), 1):
        if "tls:" in line:
            return n
    raise AssertionError("no tls: in %s" % path)


def test_check_warns_before_expiry(tmp_path):
    soon = certs_init(tmp_path / "soon", "--days", "10")
    path = write_cfg(tmp_path, soon)
    cp = run_hushgate(["-t", "-c", str(path)])
    assert cp.returncode == 0, cp.stderr
    assert re.search(r"check\.yaml:%d:\d+: listen\.tls: certificate \S+ "
                     r"expires in (9|10) days" % tls_line(path), cp.stdout), \
        cp.stdout
    assert "configuration OK" in cp.stdout
    fine = certs_init(tmp_path / "fine")
    cp = run_hushgate(["-t", "-c", str(write_cfg(tmp_path, fine))])
    assert cp.returncode == 0 and "expires in" not in cp.stdout


def test_check_key_mismatch_and_unreadable(tmp_path):
    a = certs_init(tmp_path / "a")
    b = certs_init(tmp_path / "b")
    path = write_cfg(tmp_path, {"cert": a["cert"], "key": b["key"]})
    cp = run_hushgate(["-t", "-c", str(path)])
    assert cp.returncode != 0
    assert re.search(r"check\.yaml:%d:\d+: listen\.tls: key \S+ does not "
                     r"match certificate" % tls_line(path), cp.stderr), \
        cp.stderr
    path = write_cfg(tmp_path, {"cert": str(tmp_path / "missing.crt"),
                                "key": a["key"]})
    cp = run_hushgate(["-t", "-c", str(path)])
    assert cp.returncode != 0
    assert re.search(r"check\.yaml:\d+:\d+: listen\.tls: certificate "
                     r"\S+missing\.crt", cp.stderr), cp.stderr


def test_certs_show(tmp_path):
    c = certs_init(tmp_path / "show", "--name", "proxy.example",
                   "--ip", "127.0.0.1", "--days", "40")
    path = write_cfg(tmp_path, c)
    cp = run_hushgate(["certs", "show", "-c", str(path)])
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout
    assert "certificate: %s" % c["cert"] in out
    assert "subject:     CN=proxy.example, O=hushgate" in out
    assert "names:       DNS:proxy.example, IP:127.0.0.1" in out
    assert "issuer:      CN=hushgate local CA, O=hushgate" in out
    assert re.search(r"not before:  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", out)
    assert re.search(r"not after:   \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", out)
    assert re.search(r"days left:   (39|40)\n", out), out


def inner_tls(outer, ctx, name):
    """A TLS session through a tunnel that is itself inside TLS (a
    MemoryBIO pair over the outer socket); returns the echo of a ping, or
    raises when the tunnel is closed during the handshake."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            outer.sendall(out.read())
            data = outer.recv(65536)
            if not data:
                raise ConnectionError("tunnel closed in the handshake")
            inc.write(data)
    obj.write(b"ping inside")
    outer.sendall(out.read())
    got = b""
    while len(got) < 11:
        try:
            got += obj.read(64)
        except ssl.SSLWantReadError:
            data = outer.recv(65536)
            if not data:
                break
            inc.write(data)
    return got


@pytest.mark.parametrize("name,end", [("echo.test", None),
                                      ("fronted.test", "sni_mismatch")])
def test_sni_check_inside_a_tls_listener(proxy, certs, tls_echo, test_ca,
                                         name, end):
    p = proxy(tls_cfg(certs, tls_echo.port,
                      {"tls_sni": "require",
                       "tls_ports": [tls_echo.port]}), hosts=["echo.test"])
    ctx = ssl.create_default_context(cafile=test_ca["ca"])
    ctx.check_hostname = False
    s, r = tls_connect(p.port, certs["ca"], "echo.test:%d" % tls_echo.port)
    with s:
        assert r.status == 200
        if end is None:
            assert inner_tls(s, ctx, name) == b"ping inside"
        else:
            with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
                inner_tls(s, ctx, name)
    rec = p.wait_log(lambda r: r["host"] == "echo.test", "record")[0]
    assert rec["sni"] == name
    if end is not None:
        assert rec["end"] == end


@pytest.mark.parametrize("name,end", [("echo.test", None),
                                      ("blocked.test", "sni_denied")])
def test_sni_decide_inside_a_tls_listener(proxy, certs, tls_echo, test_ca,
                                          name, end):
    """tls_sni decide on the tunnel of a TLS listener, to an address."""
    p = proxy(tls_cfg(certs, tls_echo.port,
                      {"tls_sni": "decide",
                       "tls_ports": [tls_echo.port]}))
    ctx = ssl.create_default_context(cafile=test_ca["ca"])
    ctx.check_hostname = False
    s, r = tls_connect(p.port, certs["ca"], "127.0.0.1:%d" % tls_echo.port)
    with s:
        assert r.status == 200
        if end is None:
            assert inner_tls(s, ctx, name) == b"ping inside"
        else:
            with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
                inner_tls(s, ctx, name)
    rec = p.wait_log(lambda r: r["host"] == "127.0.0.1", "record")[0]
    assert rec["sni"] == name
    if end is not None:
        assert rec["end"] == end and rec["category"] == "blocked"
        assert rec["bytes_down"] == 0


def test_block_page_link_is_https(proxy, certs, curl, http_server):
    """A plain-HTTP denial through the TLS listener links to the status
    page over https on that listener, and the link answers there."""
    p = proxy(tls_cfg(certs, extra={"http_ports": [http_server.port]}),
              hosts=["blocked.test"])
    cp = run_curl(curl, p.port, certs["ca"],
                  "http://blocked.test:%d/" % http_server.port)
    assert cp.returncode == 0, cp.stderr
    m = re.search(rb'<a href="(https://127\.0\.0\.1:(\d+)/\?explain=[^"]+)">',
                  cp.stdout)
    assert m, cp.stdout
    assert int(m.group(2)) == p.port
    page = subprocess.run(
        [curl, "-sS", "--max-time", str(int(TIMEOUT)), "--cacert",
         certs["ca"], "--noproxy", "*", m.group(1).decode()],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT * 2)
    assert page.returncode == 0, page.stderr
    assert b"<title>hushgate status</title>" in page.stdout

"""tls_sni: the proxy reads the server name from the ClientHello at the
start of a CONNECT tunnel, without terminating TLS.  log (the default)
writes it to the decision record; require also closes a tunnel whose name
is not the CONNECT host (domain fronting), that sends no name to a host
name, or that does not speak TLS on a port in tls_ports (plain bytes
through a tunnel are cases in cases/connect.yaml).  decide puts the name
through the rules as the CONNECT host and closes a tunnel whose name is
denied, a CONNECT to an address included; hushgate explain --sni shows
the same."""

import socket
import ssl
import subprocess

import pytest
import yaml

from helpers import (TIMEOUT, HTTPServer, TCPServer, Tunnel, clean_env,
                     make_test_ca, node_line, rule_matches, run_hushgate,
                     wait_until)


def _cfg(port, mode=None, tls_ports=None):
    cfg = {"connect_ports": [port]}
    if mode is not None:
        cfg["tls_sni"] = mode
    cfg["tls_ports"] = tls_ports if tls_ports is not None else [port]
    return cfg


def tls_over(tunnel, ctx, name):
    """TLS through an open tunnel; returns the echoed bytes."""
    s = ctx.wrap_socket(tunnel.sock, server_hostname=name)
    s.sendall(b"ping over tls")
    got = b""
    while len(got) < 13:
        b = s.recv(64)
        if not b:
            break
        got += b
    return got


def test_log_records_the_server_name(proxy, tls_echo, client_tls_ctx):
    p = proxy(_cfg(tls_echo.port), hosts=["echo.test"])
    with Tunnel(p.port, "echo.test:%d" % tls_echo.port) as t:
        assert t.status == 200
        assert tls_over(t, client_tls_ctx, "echo.test") == b"ping over tls"
    rec = p.wait_log(lambda r: r["host"] == "echo.test", "record")[0]
    assert rec["sni"] == "echo.test"


def test_off_records_nothing(proxy, tls_echo, client_tls_ctx):
    p = proxy(_cfg(tls_echo.port, "off"), hosts=["echo.test"])
    with Tunnel(p.port, "echo.test:%d" % tls_echo.port) as t:
        assert tls_over(t, client_tls_ctx, "echo.test") == b"ping over tls"
    rec = p.wait_log(lambda r: r["host"] == "echo.test", "record")[0]
    assert rec["sni"] is None


def test_curl_through_require(proxy, https_server, test_ca, curl):
    p = proxy(_cfg(https_server.port, "require"), hosts=["web.test"])
    cp = subprocess.run(
        [curl, "-sS", "-x", "http://127.0.0.1:%d" % p.port, "--cacert",
         test_ca["ca"], "https://web.test:%d/sni" % https_server.port],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT * 3,
        env=clean_env())
    assert cp.returncode == 0, cp.stderr.decode()
    assert cp.stdout.decode().startswith("hello web.test")
    rec = p.wait_log(lambda r: r["host"] == "web.test", "record")[0]
    assert rec["sni"] == "web.test" and rec["end"] != "sni_mismatch"


def test_require_closes_domain_fronting(proxy, tls_echo, test_ca):
    p = proxy(_cfg(tls_echo.port, "require"), hosts=["echo.test"])
    ctx = ssl.create_default_context(cafile=test_ca["ca"])
    ctx.check_hostname = False
    with Tunnel(p.port, "echo.test:%d" % tls_echo.port) as t:
        assert t.status == 200
        with pytest.raises((ssl.SSLError, OSError)):
            tls_over(t, ctx, "fronted.test")
    rec = p.wait_log(lambda r: r["host"] == "echo.test", "record")[0]
    assert rec["end"] == "sni_mismatch"
    assert rec["sni"] == "fronted.test"
    assert rec["bytes_down"] == 0, "the server's answer reached the client"
    p.wait_stderr(r"echo\.test:%d: tunnel closed \(tls_sni require\): "
                  r"sni_mismatch, sni fronted\.test" % tls_echo.port)


def test_require_closes_a_hello_without_name(proxy, tls_echo, openssl_cli):
    p = proxy(_cfg(tls_echo.port, "require"), hosts=["echo.test"])
    cp = subprocess.run(
        [openssl_cli, "s_client", "-proxy", "127.0.0.1:%d" % p.port,
         "-connect", "echo.test:%d" % tls_echo.port, "-noservername"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, timeout=TIMEOUT * 3, env=clean_env())
    assert cp.returncode != 0
    rec = p.wait_log(lambda r: r["host"] == "echo.test", "record")[0]
    assert rec["end"] == "sni_missing"


def test_hello_a_byte_at_a_time(proxy, tls_echo, client_tls_ctx):
    """A ClientHello that trickles in is held until whole, then goes."""
    p = proxy(_cfg(tls_echo.port, "require"), hosts=["echo.test"])
    with Tunnel(p.port, "echo.test:%d" % tls_echo.port) as t:
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = client_tls_ctx.wrap_bio(inc, out, server_hostname="echo.test")
        with pytest.raises(ssl.SSLWantReadError):
            obj.do_handshake()
        hello = out.read()
        for i in range(len(hello)):
            t.sock.sendall(hello[i:i + 1])
        # the server answers once the whole hello got through
        t.sock.settimeout(TIMEOUT)
        while True:
            data = t.sock.recv(65536)
            assert data, "tunnel closed during the handshake"
            inc.write(data)
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                t.sock.sendall(out.read())
        t.sock.sendall(out.read())
    rec = p.wait_log(lambda r: r["host"] == "echo.test", "record")[0]
    assert rec["sni"] == "echo.test"


def test_hello_with_the_connect(proxy, tls_echo, client_tls_ctx):
    """A client that sends its ClientHello right behind the CONNECT."""
    p = proxy(_cfg(tls_echo.port, "require"), hosts=["echo.test"])
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_tls_ctx.wrap_bio(inc, out, server_hostname="echo.test")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    hello = out.read()
    sock = socket.create_connection(("127.0.0.1", p.port), TIMEOUT)
    with sock:
        sock.sendall(("CONNECT echo.test:%d HTTP/1.1\r\nHost: x\r\n\r\n"
                      % tls_echo.port).encode() + hello)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(4096)
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        if rest:
            inc.write(rest)
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                b = sock.recv(65536)
                assert b, "tunnel closed during the handshake"
                inc.write(b)
    rec = p.wait_log(lambda r: r["host"] == "echo.test", "record")[0]
    assert rec["sni"] == "echo.test"


def test_ip_literal_without_name_passes_require(proxy, tls_echo, test_ca):
    p = proxy(_cfg(tls_echo.port, "require"))
    ctx = ssl.create_default_context(cafile=test_ca["ca"])
    with Tunnel(p.port, "127.0.0.1:%d" % tls_echo.port) as t:
        # Python sends no server name for an address (RFC 6066)
        assert tls_over(t, ctx, "127.0.0.1") == b"ping over tls"
    rec = p.wait_log(lambda r: r["host"] == "127.0.0.1", "record")[0]
    assert rec["sni"] is None


def test_bad_tls_sni_value(hushgate, tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("tls_sni: maybe\ntls_ports: [0]\n")
    cp = subprocess.run([hushgate, "-t", "-c", str(cfg)],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        timeout=TIMEOUT)
    out = cp.stdout.decode()
    assert cp.returncode == 1
    assert ("bad.yaml:1:10: tls_sni: expected off, log, require or decide"
            in out)
    assert "bad.yaml:2:13: tls_ports:" in out


# ---------------------------------------------------------------------------
# tls_sni: decide

DECIDE_CATEGORIES = {
    "sni-blocked": {"action": "deny", "hosts": ["blocked.test"]},
    "sni-audited": {"action": "audit", "hosts": ["audit.test"]},
    "sni-allowed": {"action": "allow", "hosts": ["web.test"]},
    "sni-no-connect": {"action": "deny", "hosts": ["denied-host.test"]},
}


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """An HTTPS origin on 127.0.0.1 whose certificate names the hosts of
    DECIDE_CATEGORIES, and its CA (.ca)."""
    ca = make_test_ca(tmp_path_factory.mktemp("decide-ca"),
                      names=("web.test", "audit.test", "blocked.test"))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ca["cert"], ca["key"])
    srv = HTTPServer(tls_ctx=ctx)
    srv.ca = ca["ca"]
    yield srv
    srv.close()


def _decide_cfg(port, mode="decide"):
    return dict(_cfg(port, mode), categories=DECIDE_CATEGORIES)


def _rule(p, cat, pat):
    return node_line(p.config_path, "categories", cat, "hosts", pat)


def _s_client(openssl_cli, origin, proxy_port, target, name=None):
    """openssl s_client through the proxy to target, naming name (None:
    no server name), checking origin's certificate; returns the finished
    process."""
    argv = [openssl_cli, "s_client", "-proxy", "127.0.0.1:%d" % proxy_port,
            "-connect", target, "-CAfile", origin.ca, "-verify_return_error"]
    argv += ["-servername", name] if name else ["-noservername"]
    return subprocess.run(argv, input=b"Q\n", stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=TIMEOUT * 3,
                          env=clean_env())


def _curl_via(curl, origin, proxy_port, name, port):
    """curl https://name:port/sni through the proxy, its CONNECT going to
    127.0.0.1:port (--connect-to), the ClientHello naming name."""
    return subprocess.run(
        [curl, "-sS", "-x", "http://127.0.0.1:%d" % proxy_port,
         "--connect-to", "%s:%d:127.0.0.1:%d" % (name, port, port),
         "--cacert", origin.ca, "https://%s:%d/sni" % (name, port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT * 3,
        env=clean_env())


def test_decide_closes_an_address_whose_name_is_denied(proxy, origin,
                                                      openssl_cli):
    """CONNECT 127.0.0.1:port is allowed, its ClientHello names a denied
    host: the tunnel is closed, logged with the name's category and
    rule."""
    p = proxy(_decide_cfg(origin.port))
    cp = _s_client(openssl_cli, origin, p.port, "127.0.0.1:%d" % origin.port,
                   "blocked.test")
    assert cp.returncode != 0, cp.stdout.decode(errors="replace")
    assert b"BEGIN CERTIFICATE" not in cp.stdout
    rec = p.wait_log(lambda r: r["host"] == "127.0.0.1", "record")[0]
    assert rec["end"] == "sni_denied", rec
    assert rec["sni"] == "blocked.test"
    assert rec["action"] == "deny"
    assert rec["category"] == "sni-blocked"
    assert rule_matches(rec["rule"], p.config_path,
                        _rule(p, "sni-blocked", "blocked.test")), rec
    assert rec["status"] == 200
    assert rec["bytes_down"] == 0, "the server's answer reached the client"
    p.wait_stderr(r"127\.0\.0\.1:%d: tunnel closed \(tls_sni decide\): "
                  r"sni_denied, sni blocked\.test, category sni-blocked"
                  % origin.port)


def test_decide_sends_nothing_upstream(proxy, client_tls_ctx):
    """The ClientHello of a denied name never reaches the upstream: it
    sees a connection that ends without a byte."""
    sink = TCPServer("sink")
    try:
        p = proxy(_decide_cfg(sink.port))
        with Tunnel(p.port, "127.0.0.1:%d" % sink.port) as t:
            assert t.status == 200
            inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
            obj = client_tls_ctx.wrap_bio(inc, out,
                                          server_hostname="blocked.test")
            with pytest.raises(ssl.SSLWantReadError):
                obj.do_handshake()
            t.sock.sendall(out.read())
            assert t.read_to_eof() == b""
        rec = p.wait_log(lambda r: r["host"] == "127.0.0.1", "record")[0]
        assert rec["end"] == "sni_denied" and rec["sni"] == "blocked.test"
        wait_until(lambda: sink.received, "the upstream's end")
        assert sink.received == [b""]
    finally:
        sink.close()


def test_decide_relays_an_allowed_name(proxy, origin, curl):
    p = proxy(_decide_cfg(origin.port))
    cp = _curl_via(curl, origin, p.port, "web.test", origin.port)
    assert cp.returncode == 0, cp.stderr.decode()
    assert cp.stdout.decode().startswith("hello web.test")
    rec = p.wait_log(lambda r: r["host"] == "127.0.0.1", "record")[0]
    assert rec["sni"] == "web.test"
    assert rec["action"] == "allow" and rec["end"] != "sni_denied", rec
    assert rec["bytes_down"] > 0


def test_decide_relays_bytes_end_to_end(proxy, tls_echo, client_tls_ctx):
    p = proxy(_decide_cfg(tls_echo.port))
    with Tunnel(p.port, "127.0.0.1:%d" % tls_echo.port) as t:
        assert t.status == 200
        assert tls_over(t, client_tls_ctx, "echo.test") == b"ping over tls"
    rec = p.wait_log(lambda r: r["host"] == "127.0.0.1", "record")[0]
    assert rec["sni"] == "echo.test" and rec["end"] != "sni_denied"


def test_decide_audit_name_relays_and_is_logged(proxy, origin,
                                                curl):
    p = proxy(_decide_cfg(origin.port))
    cp = _curl_via(curl, origin, p.port, "audit.test", origin.port)
    assert cp.returncode == 0, cp.stderr.decode()
    assert cp.stdout.decode().startswith("hello audit.test")
    rec = p.wait_log(lambda r: r["host"] == "127.0.0.1", "record")[0]
    assert rec["sni"] == "audit.test"
    assert rec["action"] == "audit" and rec["category"] == "sni-audited"
    assert rule_matches(rec["rule"], p.config_path,
                        _rule(p, "sni-audited", "audit.test")), rec
    assert rec["end"] != "sni_denied"


def test_decide_a_denied_connect_host_is_403(proxy, origin,
                                             openssl_cli):
    """The CONNECT host is decided first, as without decide."""
    p = proxy(_decide_cfg(origin.port), hosts=["denied-host.test"])
    with Tunnel(p.port, "denied-host.test:%d" % origin.port) as t:
        assert t.status == 403
    rec = p.wait_log(lambda r: r["host"] == "denied-host.test", "record")[0]
    assert rec["end"] == "denied" and rec["category"] == "sni-no-connect"
    assert rec["sni"] is None


def test_decide_a_host_name_connect_with_a_denied_name(proxy, origin,
                                                       openssl_cli):
    """Not only addresses: an allowed CONNECT host whose ClientHello names
    a denied one."""
    p = proxy(_decide_cfg(origin.port), hosts=["web.test"])
    cp = _s_client(openssl_cli, origin, p.port, "web.test:%d" % origin.port,
                   "blocked.test")
    assert cp.returncode != 0
    rec = p.wait_log(lambda r: r["host"] == "web.test", "record")[0]
    assert rec["end"] == "sni_denied" and rec["category"] == "sni-blocked"


def test_decide_without_a_name_relays(proxy, origin, openssl_cli):
    """A ClientHello without a server name: the CONNECT host was allowed,
    the tunnel relays; the record has no sni."""
    p = proxy(_decide_cfg(origin.port))
    cp = _s_client(openssl_cli, origin, p.port, "127.0.0.1:%d" % origin.port)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    assert b"BEGIN CERTIFICATE" in cp.stdout
    rec = p.wait_log(lambda r: r["host"] == "127.0.0.1", "record")[0]
    assert rec["sni"] is None and rec["action"] == "allow"
    assert rec["end"] != "sni_denied" and rec["bytes_down"] > 0


def test_decide_without_tls_relays(proxy, echo_server):
    """Not TLS at all, even on a port in tls_ports: relayed (decide does
    not insist on TLS, require does)."""
    p = proxy(_decide_cfg(echo_server.port))
    with Tunnel(p.port, "127.0.0.1:%d" % echo_server.port) as t:
        assert t.status == 200
        t.echo(b"plain bytes, no ClientHello\n")
    rec = p.wait_log(lambda r: r["host"] == "127.0.0.1", "record")[0]
    assert rec["sni"] is None and rec["end"] != "sni_denied"


def test_decide_closes_a_hello_it_cannot_read(proxy):
    """A ClientHello longer than can be read (its name could sit past
    what is held) to a port of tls_ports: closed, nothing upstream."""
    sink = TCPServer("sink")
    try:
        p = proxy(_decide_cfg(sink.port))
        with Tunnel(p.port, "127.0.0.1:%d" % sink.port) as t:
            assert t.status == 200
            t.sock.sendall(b"\x16\x03\x01\x00\x04\x01\x00\x50\x00")
            assert t.read_to_eof() == b""
        rec = p.wait_log(lambda r: r["host"] == "127.0.0.1", "record")[0]
        assert rec["end"] == "bad_client_hello" and rec["sni"] is None
        wait_until(lambda: sink.received, "the upstream's end")
        assert sink.received == [b""]
        p.wait_stderr(r"127\.0\.0\.1:%d: tunnel closed \(tls_sni decide\): "
                      r"bad_client_hello" % sink.port)
    finally:
        sink.close()


def test_require_still_closes_a_mismatch_not_a_denial(proxy, origin,
                                                      openssl_cli):
    """require is unchanged by the rules: a denied name to an address is
    a mismatch, as any other name would be."""
    p = proxy(dict(_decide_cfg(origin.port, "require")))
    cp = _s_client(openssl_cli, origin, p.port, "127.0.0.1:%d" % origin.port,
                   "blocked.test")
    assert cp.returncode != 0
    rec = p.wait_log(lambda r: r["host"] == "127.0.0.1", "record")[0]
    assert rec["end"] == "sni_mismatch" and rec["sni"] == "blocked.test"
    assert rec["category"] is None and rec["action"] == "allow"


def test_log_mode_only_records_a_denied_name(proxy, origin,
                                             curl):
    p = proxy(_decide_cfg(origin.port, "log"))
    cp = _curl_via(curl, origin, p.port, "blocked.test", origin.port)
    assert cp.returncode == 0, cp.stderr.decode()
    rec = p.wait_log(lambda r: r["host"] == "127.0.0.1", "record")[0]
    assert rec["sni"] == "blocked.test" and rec["action"] == "allow"


def _explain_sni(tmp_path, mode, name, *targets):
    cfg = tmp_path / "explain.yaml"
    cfg.write_text(yaml.safe_dump({
        "tls_sni": mode, "connect_ports": [443],
        "dns": {"servers": [], "hosts_file": "/dev/null"},
        "categories": DECIDE_CATEGORIES}, sort_keys=False))
    cp = run_hushgate(["explain", "-c", str(cfg), "--sni", name] +
                      list(targets))
    rows = [l.split("\t") for l in cp.stdout.splitlines()]
    for r in rows:
        assert len(r) == 4, cp.stdout
    return cp, cfg, rows


def test_explain_sni_denied_under_decide(tmp_path):
    cp, cfg, rows = _explain_sni(tmp_path, "decide", "Blocked.Test.",
                                 "13.69.109.130:443")
    assert cp.returncode == 0, cp.stderr
    assert rows[0] == ["13.69.109.130:443", "allow", "-", "-"]
    assert rows[1][:3] == ["sni blocked.test:443", "deny", "sni-blocked"]
    assert rule_matches(rows[1][3], cfg, node_line(
        cfg, "categories", "sni-blocked", "hosts", "blocked.test")), rows
    assert rows[2] == ["outcome", "deny", "sni_denied", "tls_sni decide"]


@pytest.mark.parametrize("mode,name,outcome", [
    ("decide", "audit.test", ["audit", "relay"]),
    ("decide", "web.test", ["allow", "relay"]),
    ("decide", "other.test", ["allow", "relay"]),
    ("log", "blocked.test", ["allow", "relay"]),
    ("off", "blocked.test", ["allow", "relay"]),
    ("require", "blocked.test", ["deny", "sni_mismatch"]),
])
def test_explain_sni_outcomes(tmp_path, mode, name, outcome):
    cp, _, rows = _explain_sni(tmp_path, mode, name, "192.0.2.1")
    assert cp.returncode == 0, cp.stderr
    assert len(rows) == 3 and rows[1][0] == "sni %s:443" % name
    assert rows[2] == ["outcome"] + outcome + ["tls_sni " + mode]


def test_explain_sni_a_denied_target_stays_403(tmp_path):
    cp, _, rows = _explain_sni(tmp_path, "decide", "web.test",
                               "denied-host.test", "192.0.2.1:22")
    assert cp.returncode == 0, cp.stderr
    assert len(rows) == 6, cp.stdout
    assert rows[0][:3] == ["denied-host.test:443", "deny", "sni-no-connect"]
    assert rows[2] == ["outcome", "deny", "denied", "tls_sni decide"]
    assert rows[3] == ["192.0.2.1:22", "deny", "-", "connect_ports"]
    assert rows[4] == ["sni web.test:22", "deny", "-", "connect_ports"]
    assert rows[5] == ["outcome", "deny", "port_denied", "tls_sni decide"]


def test_explain_sni_invalid_name(tmp_path):
    cp, _, rows = _explain_sni(tmp_path, "decide", "bad..name", "192.0.2.1")
    assert cp.returncode == 1
    assert "--sni bad..name: empty label in host name" in cp.stderr
    assert rows[1] == ["sni bad..name:443", "invalid", "-", "-"]
    assert rows[2] == ["outcome", "allow", "relay", "tls_sni decide"]


def test_explain_sni_too_long(tmp_path):
    name = ".".join(["a" * 63] * 4) + ".test"
    cp, _, rows = _explain_sni(tmp_path, "decide", name, "192.0.2.1")
    assert cp.returncode == 1
    assert "longer than 253 characters" in cp.stderr
    assert rows[1][1:] == ["invalid", "-", "-"]
    assert rows[2] == ["outcome", "allow", "relay", "tls_sni decide"]


def test_explain_sni_for_a_group(tmp_path):
    """--group applies to the name as to the target."""
    cfg = tmp_path / "groups.yaml"
    cfg.write_text(yaml.safe_dump({
        "tls_sni": "decide",
        "dns": {"servers": [], "hosts_file": "/dev/null"},
        "clients": ["127.0.0.0/8", {"name": "lab",
                                     "networks": ["192.0.2.0/24"]}],
        "categories": {"sni-blocked": {"action": "deny",
                                       "hosts": ["blocked.test"],
                                       "actions": {"lab": "allow"}}}},
        sort_keys=False))
    for group, outcome in ((None, ["deny", "sni_denied"]),
                           ("lab", ["allow", "relay"])):
        cp = run_hushgate(["explain", "-c", str(cfg), "--sni",
                           "blocked.test", "192.0.2.1"] +
                          (["--group", group] if group else []))
        assert cp.returncode == 0, cp.stderr
        rows = [l.split("\t") for l in cp.stdout.splitlines()]
        assert rows[2] == ["outcome"] + outcome + ["tls_sni decide"], rows


def test_explain_sni_usage(tmp_path):
    cp = run_hushgate(["explain", "--http", "--sni", "web.test",
                       "192.0.2.1"])
    assert cp.returncode == 2
    cp = run_hushgate(["-t", "--sni", "web.test"])
    assert cp.returncode == 2

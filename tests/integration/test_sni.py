"""tls_sni: the proxy reads the server name from the ClientHello at the
start of a CONNECT tunnel, without terminating TLS.  log (the default)
writes it to the decision record; require also closes a tunnel whose name
is not the CONNECT host (domain fronting), that sends no name to a host
name, or that does not speak TLS on a port in tls_ports (plain bytes
through a tunnel are cases in cases/connect.yaml)."""

import socket
import ssl
import subprocess

import pytest

from helpers import TIMEOUT, Tunnel, clean_env


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
    assert "bad.yaml:1:10: tls_sni: expected off, log, require or decide" in out
    assert "bad.yaml:2:13: tls_ports:" in out

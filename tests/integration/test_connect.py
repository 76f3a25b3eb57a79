"""CONNECT tunnels with real clients: curl, openssl s_client, Python's
http.client and ssl; bulk data both ways; half-close; upstream failures."""

import hashlib
import http.client
import os
import socket
import subprocess
import threading

import pytest

from helpers import (TIMEOUT, Tunnel, clean_env, closed_port, exchange,
                     read_to_eof, recv_exact)

MIB = 1024 * 1024


def _cfg(*ports):
    return {"connect_ports": list(ports)}


def test_curl_https_through_connect(proxy, https_server, test_ca, curl):
    p = proxy(_cfg(https_server.port), hosts=["web.test"])
    url = "https://web.test:%d/via-curl?x=1" % https_server.port
    cp = subprocess.run(
        [curl, "-sS", "-x", "http://127.0.0.1:%d" % p.port, "--cacert",
         test_ca["ca"], "-w", "\n%{http_code} %{http_connect}", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT * 3,
        env=clean_env())
    assert cp.returncode == 0, cp.stderr.decode()
    body, _, codes = cp.stdout.decode().rpartition("\n")
    assert codes == "200 200"
    assert body == "hello web.test:%d /via-curl?x=1" % https_server.port
    rec = p.wait_log(lambda r: r["host"] == "web.test", "curl tunnel")[0]
    assert rec["method"] == "CONNECT"
    assert rec["port"] == https_server.port
    assert rec["action"] == "allow"
    assert rec["status"] == 200
    assert rec["upstream"] == "127.0.0.1:%d" % https_server.port
    assert rec["bytes_up"] > 0 and rec["bytes_down"] > 0


def test_curl_proxytunnel_plain_http(proxy, http_server, curl):
    p = proxy(_cfg(http_server.port), hosts=["plain.test"])
    url = "http://plain.test:%d/tunnelled" % http_server.port
    cp = subprocess.run(
        [curl, "-sS", "--proxytunnel", "-x", "http://127.0.0.1:%d" % p.port,
         "-w", "\n%{http_code} %{http_connect}", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT * 3,
        env=clean_env())
    assert cp.returncode == 0, cp.stderr.decode()
    body, _, codes = cp.stdout.decode().rpartition("\n")
    assert codes == "200 200"
    assert body == "hello plain.test:%d /tunnelled" % http_server.port


def test_curl_sees_403_for_denied_host(proxy, https_server, test_ca, curl):
    p = proxy({"connect_ports": [https_server.port],
               "categories": {"blocked": {"action": "deny",
                                          "hosts": ["web.test"]}}},
              hosts=["web.test"])
    cp = subprocess.run(
        [curl, "-sS", "-x", "http://127.0.0.1:%d" % p.port, "--cacert",
         test_ca["ca"], "-w", "%{http_connect}",
         "https://web.test:%d/" % https_server.port],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT * 3,
        env=clean_env())
    assert cp.returncode != 0
    assert cp.stdout.decode() == "403"


def test_openssl_s_client_proxy(proxy, tls_echo, test_ca, openssl_cli):
    p = proxy(_cfg(tls_echo.port), hosts=["echo.test"])
    cmd = [openssl_cli, "s_client", "-quiet",
           "-proxy", "127.0.0.1:%d" % p.port,
           "-connect", "echo.test:%d" % tls_echo.port,
           "-servername", "echo.test", "-verify_hostname", "echo.test",
           "-CAfile", test_ca["ca"], "-verify_return_error"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=clean_env())
    got = bytearray()
    done = threading.Event()
    token = b"hushgate-s_client-ping\n"

    def reader():
        while True:
            b = proc.stdout.read1(4096)
            if not b:
                break
            got.extend(b)
            if token in got:
                done.set()
        done.set()
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        proc.stdin.write(token)
        proc.stdin.flush()
        done.wait(TIMEOUT)
        assert token in bytes(got), (
            "s_client did not get the echo; stderr: %s"
            % (proc.stderr.read1(65536) if proc.poll() is not None else
               "(still running)"))
    finally:
        proc.kill()
        proc.wait(TIMEOUT)
        t.join(TIMEOUT)
    p.wait_log(lambda r: r["host"] == "echo.test" and r["status"] == 200,
               "s_client tunnel")


def test_http_client_set_tunnel(proxy, https_server, client_tls_ctx):
    p = proxy(_cfg(https_server.port), hosts=["web.test"])
    conn = http.client.HTTPSConnection("127.0.0.1", p.port, timeout=TIMEOUT,
                                       context=client_tls_ctx)
    conn.set_tunnel("web.test", https_server.port)
    try:
        for path in ("/one", "/two"):   # two requests, one tunnel
            conn.request("GET", path)
            r = conn.getresponse()
            assert r.status == 200
            assert r.read() == ("hello web.test:%d %s\n" % (
                https_server.port, path)).encode()
    finally:
        conn.close()
    recs = p.wait_log(lambda r: r["host"] == "web.test", "set_tunnel")
    assert len(recs) == 1, "one tunnel, one decision record: %r" % recs


def test_http_client_set_tunnel_denied(proxy, https_server, client_tls_ctx):
    p = proxy({"connect_ports": [https_server.port], "default": "deny"},
              hosts=["web.test"])
    conn = http.client.HTTPSConnection("127.0.0.1", p.port, timeout=TIMEOUT,
                                       context=client_tls_ctx)
    conn.set_tunnel("web.test", https_server.port)
    with pytest.raises(OSError, match="403"):
        conn.request("GET", "/")
    conn.close()


def test_tls_1mib_each_way(proxy, tls_echo, client_tls_ctx):
    p = proxy(_cfg(tls_echo.port), hosts=["echo.test"])
    data = os.urandom(MIB)
    with Tunnel(p.port, "echo.test:%d" % tls_echo.port) as t:
        assert t.status == 200
        s = client_tls_ctx.wrap_socket(t.sock, server_hostname="echo.test")
        got = exchange(s, data)
        s.close()
    assert hashlib.sha256(got).hexdigest() == \
        hashlib.sha256(data).hexdigest()
    rec = p.wait_log(lambda r: r["host"] == "echo.test", "tls tunnel")[0]
    assert rec["bytes_up"] > MIB and rec["bytes_down"] > MIB


def test_curl_post_1mib_each_way(proxy, https_server, test_ca, curl,
                                 tmp_path):
    p = proxy(_cfg(https_server.port), hosts=["web.test"])
    src = tmp_path / "up.bin"
    out = tmp_path / "down.bin"
    src.write_bytes(os.urandom(MIB))
    cp = subprocess.run(
        [curl, "-sS", "-x", "http://127.0.0.1:%d" % p.port, "--cacert",
         test_ca["ca"], "--data-binary", "@" + str(src), "-o", str(out),
         "https://web.test:%d/post" % https_server.port],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT * 3,
        env=clean_env())
    assert cp.returncode == 0, cp.stderr.decode()
    assert hashlib.sha256(out.read_bytes()).digest() == \
        hashlib.sha256(src.read_bytes()).digest()


def test_plain_1mib_each_way_exact_byte_counts(proxy, echo_server):
    p = proxy(_cfg(echo_server.port), hosts=["echo.test"])
    data = os.urandom(MIB)
    with Tunnel(p.port, "echo.test:%d" % echo_server.port) as t:
        assert t.status == 200
        errors = []

        def send():
            try:
                t.sock.sendall(data)
            except OSError as e:
                errors.append(e)
        th = threading.Thread(target=send)
        th.start()
        got = recv_exact(t.sock, len(data))
        th.join(TIMEOUT)
        assert not errors
        t.sock.shutdown(socket.SHUT_WR)
        assert read_to_eof(t.sock) == b""
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    rec = p.wait_log(lambda r: r["host"] == "echo.test", "plain tunnel")[0]
    assert rec["bytes_up"] == MIB
    assert rec["bytes_down"] == MIB
    assert rec["upstream"] == "127.0.0.1:%d" % echo_server.port
    assert rec["end"] in ("client_closed", "upstream_closed")


def test_half_close_client_side(proxy, deferred_echo):
    """The client shuts down its write side; the upstream only answers
    after it sees EOF, and the client still receives every byte."""
    p = proxy(_cfg(deferred_echo.port), hosts=["late.test"])
    data = os.urandom(300 * 1024)
    with Tunnel(p.port, "late.test:%d" % deferred_echo.port) as t:
        assert t.status == 200
        t.sock.sendall(data)
        t.sock.shutdown(socket.SHUT_WR)
        got = read_to_eof(t.sock)
    assert len(got) == len(data)
    assert got == data
    rec = p.wait_log(lambda r: r["host"] == "late.test", "half-close")[0]
    assert rec["bytes_up"] == len(data) and rec["bytes_down"] == len(data)


def test_upstream_close_reaches_client(proxy, sink_server):
    """Client sends, closes its write side; the sink closes without a
    byte; the client sees EOF and the sink got everything."""
    p = proxy(_cfg(sink_server.port), hosts=["sink.test"])
    data = os.urandom(64 * 1024) + b"end-of-sink-test"
    with Tunnel(p.port, "sink.test:%d" % sink_server.port) as t:
        assert t.status == 200
        t.sock.sendall(data)
        t.sock.shutdown(socket.SHUT_WR)
        assert read_to_eof(t.sock) == b""
    with sink_server.lock:
        assert data in sink_server.received
    rec = p.wait_log(lambda r: r["host"] == "sink.test", "sink")[0]
    assert rec["bytes_up"] == len(data) and rec["bytes_down"] == 0


def test_nxdomain_is_502_and_logged(proxy, echo_server):
    p = proxy(_cfg(echo_server.port), hosts=["known.test"])
    with Tunnel(p.port, "unknown-name.test:%d" % echo_server.port) as t:
        assert t.status == 502
    rec = p.wait_log(lambda r: r["host"] == "unknown-name.test",
                     "NXDOMAIN record")[0]
    assert rec["status"] == 502
    assert rec["end"] == "resolve_failed"
    assert rec["upstream"] is None
    assert rec["action"] == "allow"


def test_refused_upstream_is_502_and_logged(proxy):
    blocker = closed_port()
    try:
        port = blocker.getsockname()[1]
        p = proxy(_cfg(port), hosts=["refused.test"])
        with Tunnel(p.port, "refused.test:%d" % port) as t:
            assert t.status == 502
        rec = p.wait_log(lambda r: r["host"] == "refused.test",
                         "refused record")[0]
    finally:
        blocker.close()
    assert rec["status"] == 502
    assert rec["end"] == "connect_failed"
    assert rec["bytes_up"] == 0 and rec["bytes_down"] == 0


def test_many_sequential_and_parallel_tunnels(proxy, echo_server):
    p = proxy(_cfg(echo_server.port), hosts=["echo.test"])
    tunnels = [Tunnel(p.port, "echo.test:%d" % echo_server.port)
               for _ in range(20)]
    try:
        for i, t in enumerate(tunnels):
            assert t.status == 200
        for i, t in enumerate(tunnels):
            t.echo(b"tunnel %d\n" % i)
    finally:
        for t in tunnels:
            t.close()
    p.wait_log(lambda r: r["host"] == "echo.test", "20 records", count=20)

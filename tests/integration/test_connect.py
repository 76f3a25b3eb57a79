"""CONNECT tunnels with real clients: curl, openssl s_client, Python's
http.client and ssl; bulk data both ways; many tunnels at once; resets;
the connect timeout.  Tunnels driven by hand (half-closes, heads in
pieces, upstream failures) are cases in cases/connect.yaml."""

import hashlib
import http.client
import os
import socket
import struct
import subprocess
import threading

import pytest

from helpers import (TIMEOUT, Tunnel, clean_env, exchange, read_to_eof,
                     recv_exact)

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
    assert body == "hello web.test:%d /via-curl?x=1\n" % https_server.port
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
    assert body == "hello plain.test:%d /tunnelled\n" % http_server.port


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


def test_connect_timeout_is_504(proxy):
    """An upstream whose accept queue is full never answers the SYN."""
    full = socket.socket()
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    filler = socket.create_connection(full.getsockname(), timeout=TIMEOUT)
    try:
        port = full.getsockname()[1]
        p = proxy({"connect_ports": [port], "timeouts": {"connect": "1s"}},
                  hosts=["stuck.test"])
        with Tunnel(p.port, "stuck.test:%d" % port) as t:
            assert t.status == 504
        rec = p.wait_log(lambda r: r["host"] == "stuck.test", "504")[0]
        assert rec["end"] == "connect_timeout"
        assert rec["status"] == 504
    finally:
        filler.close()
        full.close()


def _rst_close(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    sock.close()


def test_client_reset_with_full_buffers(proxy, echo_server):
    """A client pushes megabytes without reading (the echo fills every
    buffer on the way back), then resets.  The proxy logs it, and keeps
    serving."""
    p = proxy(_cfg(echo_server.port), hosts=["echo.test", "reset.test"])
    keep = Tunnel(p.port, "echo.test:%d" % echo_server.port)
    try:
        assert keep.status == 200
        with Tunnel(p.port, "reset.test:%d" % echo_server.port) as t:
            assert t.status == 200
            t.sock.setblocking(False)
            sent = 0
            chunk = b"z" * 65536
            # Push until the path is full in both directions.
            while sent < 64 * MIB:
                try:
                    sent += t.sock.send(chunk)
                except BlockingIOError:
                    break
            assert sent > 0
            _rst_close(t.sock)
        rec = p.wait_log(lambda r: r["host"] == "reset.test", "reset")[0]
        assert rec["end"] in ("client_closed", "error"), rec
        assert rec["status"] == 200
        keep.echo(b"the other tunnel is fine")
        assert connect_status_ok(p.port, echo_server.port)
    finally:
        keep.close()


def connect_status_ok(port, echo_port):
    with Tunnel(port, "echo.test:%d" % echo_port) as t:
        if t.status != 200:
            return False
        t.echo(b"ok")
        return True


def test_parallel_clients_in_threads(proxy, echo_server):
    p = proxy(_cfg(echo_server.port), hosts=["echo.test"])
    n = 40
    results = [None] * n

    def client(i):
        try:
            data = os.urandom(64 * 1024 + i)
            with Tunnel(p.port, "echo.test:%d" % echo_server.port) as t:
                assert t.status == 200
                got = exchange(t.sock, data)
            results[i] = got == data
        except Exception as e:           # reported below
            results[i] = repr(e)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(TIMEOUT * 3)
    assert results == [True] * n, results
    p.wait_log(lambda r: r["host"] == "echo.test", "all", count=n)


def test_connections_closed_before_a_head(proxy, echo_server):
    p = proxy(_cfg(echo_server.port), hosts=["echo.test"])
    for i in range(50):
        s = socket.create_connection(("127.0.0.1", p.port), timeout=TIMEOUT)
        if i % 2:
            _rst_close(s)
        else:
            s.sendall(b"CONNECT echo.te")
            s.close()
    assert connect_status_ok(p.port, echo_server.port)

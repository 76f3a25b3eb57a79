"""hushgate.exe under Wine: the Windows build does what the Linux build
does on the wire.  Clients are Linux programs (curl, Python) talking to the
Windows program over 127.0.0.1; names resolve only through the test's
hosts file."""

import hashlib
import json
import os
import re
import socket
import subprocess
import threading

import pytest

import helpers
from helpers import HTTPServer, TCPServer, TIMEOUT, read_response

TELEMETRY = "watson.events.data.microsoft.com"
REPO = helpers.REPO


def _connect(port, target):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n"
               % (target, target)).encode())
    return s


def test_version_and_check(wine, hushgate_exe):
    """--version names the configure version; -t accepts the shipped
    default configuration and its balanced profile."""
    cp = wine.run(hushgate_exe, "--version")
    ver = re.search(r"AC_INIT\(\[hushgate\], \[([^]]+)\]",
                    (REPO / "configure.ac").read_text()).group(1)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.splitlines()[0].strip() == "hushgate %s" % ver
    assert "Licence: ISC" in cp.stdout, cp.stdout
    cp = wine.run(hushgate_exe, "-t", "-c", REPO / "hushgate.yaml")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "configuration OK" in cp.stdout


def test_explain_unicode_names_as_on_linux(wine, hushgate_exe):
    """Host names beyond ASCII on the command line: the C runtime's argv
    is in the ANSI code page ('?' for U+3002), so hushgate.exe takes its
    arguments from the wide command line in UTF-8, and maps them by UTS #46
    as the Linux build does: the Unicode full stops are dots, upper case
    and full-width letters fold, a disallowed code point is refused."""
    watson = "watson.events.data.microsoft.com"
    names = [watson.replace(".", "\u3002"), watson.replace(".", "\uff0e"),
             watson.replace(".", "\uff61"),
             "\uff37\uff41\uff54\uff53\uff4f\uff4e.events.data."
             "microsoft.com",
             "B\u00dcCHER.example", "fa\u00df.de", "a\u2665.example"]
    cp = wine.run(hushgate_exe, "explain", "-c", REPO / "hushgate.yaml",
                  *names)
    assert cp.returncode == 1, cp.stdout + cp.stderr   # the last is invalid
    rows = [l.split("\t") for l in cp.stdout.splitlines()]
    want = [watson + ":443", "deny", "windows-error-reporting"]
    assert [r[:3] for r in rows[:4]] == [want] * 4, cp.stdout + cp.stderr
    assert re.search(r"[/\\]windows\.yaml:\d+$", rows[0][3]), rows
    assert rows[4][:2] == ["xn--bcher-kva.example:443", "allow"], rows
    assert rows[5][:2] == ["xn--fa-hia.de:443", "allow"], rows
    assert rows[6] == ["a\u2665.example", "invalid", "-", "-"], rows
    assert "IDNA does not allow" in cp.stderr, cp.stderr
    # The Linux build, where there is one, says the same (but for the
    # spelling of the rule file's path).
    linux = helpers.hushgate_bin()
    if os.access(linux, os.X_OK):
        lp = helpers.run_hushgate(["explain", "-c",
                                   str(REPO / "hushgate.yaml")] + names)
        assert lp.returncode == 1, lp.stderr
        lrows = [l.split("\t") for l in lp.stdout.splitlines()]
        assert [r[:3] for r in lrows] == [r[:3] for r in rows], \
            (lp.stdout, cp.stdout)


def test_bad_config_file_line_col(wine, hushgate_exe, tmp_path):
    """A broken file: file:line:col: message and exit 1, as on Linux."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("listen: [\"127.0.0.1:0\"]\nworkers: lots\n")
    cp = wine.run(hushgate_exe, "-t", "-c", bad)
    assert cp.returncode == 1
    assert re.search(r"bad\.yaml:2:10: workers: expected 'auto' or a "
                     r"number", cp.stderr), cp.stderr


def test_windows_refuses_what_it_lacks(wine, hushgate_exe, tmp_path):
    """user:, chroot: and syslog do not exist on Windows: the check says
    so at their place in the file instead of failing at start."""
    cfg = tmp_path / "lacks.yaml"
    cfg.write_text("listen: [\"127.0.0.1:0\"]\n"
                   "user: nobody\n"
                   "chroot: /var/empty\n"
                   "log: {decisions: syslog}\n")
    cp = wine.run(hushgate_exe, "-t", "-c", cfg)
    assert cp.returncode == 1
    for where, what in (("2:1", "user"), ("3:1", "chroot"),
                        ("4:18", "log.decisions: syslog")):
        assert re.search(r"lacks\.yaml:%s: %s: not available in the "
                         r"Windows build" % (where, re.escape(what)),
                         cp.stderr), cp.stderr


def test_no_control_socket_on_windows(wine, hushgate_exe, tmp_path):
    """control: is refused at its place, and hushgate ctl says to use the
    service's commands instead, with the usage exit status."""
    cfg = tmp_path / "control.yaml"
    cfg.write_text("listen: [\"127.0.0.1:0\"]\n"
                   "control: {socket: ctl.sock}\n")
    cp = wine.run(hushgate_exe, "-t", "-c", cfg)
    assert cp.returncode == 1
    assert re.search(r"control\.yaml:2:1: control: not available in the "
                     r"Windows build", cp.stderr), cp.stderr
    cp = wine.run(hushgate_exe, "ctl", "-c", cfg, "status")
    assert cp.returncode == 2
    assert "ctl: not available on Windows (use hushgate service " \
        "reload|stop|status)" in cp.stderr, cp.stderr


def test_tunnel_bytes_exact(wine_proxy):
    """1 MiB of random bytes each way through a CONNECT tunnel, checksums
    equal: the relay's reads and writes on Windows sockets."""
    echo = TCPServer("echo")
    try:
        p = wine_proxy({"connect_ports": [echo.port]}, hosts=["echo.test"])
        s = _connect(p.port, "echo.test:%d" % echo.port)
        head, rest = helpers.read_head(s)
        assert rest == b""
        assert head.startswith(b"HTTP/1.1 200 "), head
        data = os.urandom(1 << 20)
        got = bytearray()
        t = threading.Thread(target=s.sendall, args=(data,))
        t.start()
        while len(got) < len(data):
            chunk = s.recv(65536)
            assert chunk, "tunnel closed after %d bytes" % len(got)
            got += chunk
        t.join(TIMEOUT)
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
        s.shutdown(socket.SHUT_WR)
        assert s.recv(10) == b""
        s.close()
        rec = p.wait_log(lambda r: r["host"] == "echo.test", "log line")[0]
        assert rec["action"] == "allow"
        assert rec["bytes_up"] == len(data)
        assert rec["bytes_down"] == len(data)
        assert rec["upstream"] == "127.0.0.1:%d" % echo.port
    finally:
        echo.close()


def test_curl_https_through_tunnel(wine_proxy, test_ca, server_tls_ctx):
    """curl -x through hushgate.exe to a local TLS server with a test CA."""
    srv = HTTPServer(tls_ctx=server_tls_ctx)
    try:
        p = wine_proxy({"connect_ports": [srv.port]}, hosts=["web.test"])
        cp = subprocess.run(
            ["curl", "-sS", "--max-time", str(int(TIMEOUT)), "--noproxy", "",
             "-x", "http://127.0.0.1:%d" % p.port, "--cacert", test_ca["ca"],
             "https://web.test:%d/hello" % srv.port],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=helpers.clean_env(), timeout=TIMEOUT * 2)
        assert cp.returncode == 0, cp.stderr
        assert cp.stdout == b"hello web.test:%d /hello\n" % srv.port, cp.stdout
    finally:
        srv.close()


def test_telemetry_denied_and_logged(wine_proxy):
    """A shipped telemetry host (balanced profile): 403 with its category,
    and a JSON decision line with every field."""
    p = wine_proxy({"include": [str(REPO / "rules/sets/balanced.yaml")]},
                   hosts=[TELEMETRY])
    s = _connect(p.port, "%s:443" % TELEMETRY)
    r = read_response(s)
    s.close()
    assert r.status == 403
    cat = r.headers.get("x-hushgate-category")
    assert cat, r
    recs = p.wait_log(lambda x: x["host"] == TELEMETRY, "deny line")
    rec = recs[0]
    assert set(helpers.LOG_FIELDS) <= set(rec)
    assert rec["action"] == "deny" and rec["category"] == cat
    assert rec["status"] == 403 and rec["end"] == "denied"
    assert re.match(r"^.*windows\.yaml:\d+$", rec["rule"]), rec["rule"]
    raw = p.log_path.read_bytes()
    assert b"\r\n" not in raw, "decision log written in text mode"
    json.loads(raw.splitlines()[0])


def test_plain_http_forwarded(wine_proxy):
    """GET http://... with an absolute URL is forwarded to a local server."""
    srv = HTTPServer()
    try:
        p = wine_proxy({"http_ports": [srv.port]}, hosts=["web.test"])
        cp = subprocess.run(
            ["curl", "-sS", "--max-time", str(int(TIMEOUT)), "--noproxy", "",
             "-x", "http://127.0.0.1:%d" % p.port,
             "http://web.test:%d/page" % srv.port],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=helpers.clean_env(), timeout=TIMEOUT * 2)
        assert cp.returncode == 0, cp.stderr
        assert cp.stdout == b"hello web.test:%d /page\n" % srv.port, cp.stdout
        rec = p.wait_log(lambda x: x["host"] == "web.test", "log")[0]
        assert rec["method"] == "GET" and rec["status"] == 200
    finally:
        srv.close()


def test_refused_upstream_502(wine_proxy):
    """A closed port: Windows' WSAECONNREFUSED reads as a refused
    connection (502, connect_failed), as on Linux."""
    s0 = socket.socket()
    s0.bind(("127.0.0.1", 0))
    port = s0.getsockname()[1]
    s0.close()
    p = wine_proxy({"connect_ports": [port]}, hosts=["closed.test"])
    s = _connect(p.port, "closed.test:%d" % port)
    r = read_response(s)
    s.close()
    assert r.status == 502
    rec = p.wait_log(lambda x: x["host"] == "closed.test", "log")[0]
    assert rec["end"] == "connect_failed"


def test_pac_served(wine_proxy):
    """/proxy.pac from the proxy port, the same text `hushgate.exe pac`
    writes for the same configuration."""
    p = wine_proxy({"include": [str(REPO / "rules/sets/balanced.yaml")],
                    "pac": {"mode": "policy"}})
    s = socket.create_connection(("127.0.0.1", p.port), timeout=TIMEOUT)
    s.sendall(b"GET /proxy.pac HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Connection: close\r\n\r\n")
    r = read_response(s)
    s.close()
    assert r.status == 200
    assert r.headers.get("content-type", "").startswith(
        "application/x-ns-proxy-autoconfig")
    assert b"function FindProxyForURL(url, host)" in r.body
    assert TELEMETRY.split(".", 1)[1].encode() in r.body


def test_malformed_request_400(wine_proxy):
    """A malformed request line gets 400 and the connection closes."""
    p = wine_proxy()
    s = socket.create_connection(("127.0.0.1", p.port), timeout=TIMEOUT)
    s.sendall(b"CONNECT\r\n\r\n")
    r = read_response(s)
    assert r.status == 400
    assert helpers.read_to_eof(s) == b""
    s.close()


def test_ctrl_c_drains_and_exits(wine_proxy):
    """Ctrl-C (SIGINT through Wine's console) stops the proxy with exit
    status 0 after saying it shuts down."""
    p = wine_proxy()
    assert p.stop() == 0
    assert "shutting down" in p.stderr_text()


def test_url_list_download_and_file_list(wine, hushgate_exe, tmp_path,
                                         test_ca):
    """Lists: `hushgate.exe lists update` downloads a url: list over HTTPS
    (mbedTLS on Windows sockets, the test CA as ca_file) into its cache;
    a local hosts-format list file loads too; explain then denies names
    from both and allows others."""
    import ssl
    from http.server import BaseHTTPRequestHandler

    body = b"# listed\ntracker.example\nads.example\n"

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200 if self.path == "/block.txt" else 404)
            n = body if self.path == "/block.txt" else b""
            self.send_header("Content-Length", str(len(n)))
            self.end_headers()
            self.wfile.write(n)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(test_ca["cert"], test_ca["key"])
    srv = HTTPServer(ctx, H)
    try:
        url = "https://lists.test:%d/block.txt" % srv.port
        local = tmp_path / "local.hosts"
        local.write_bytes(b"0.0.0.0 local-tracker.example\r\n"
                          b"0.0.0.0 more.example\r\n")
        cfg = helpers.dump_yaml({
            "dns": {"servers": [], "hosts_file": str(
                helpers.write_hosts(tmp_path / "hosts", ["lists.test"]))},
            "log": {"decisions": None},
            "lists": {"cache_dir": str(tmp_path / "cache"),
                      "timeout": "10s"},
            "categories": {"blocked": {"action": "deny", "lists": [
                {"url": url, "format": "domains",
                 "ca_file": test_ca["ca"]},
                {"file": str(local), "format": "hosts"}]}}},
            tmp_path / "hushgate.yaml")
        cp = wine.run(hushgate_exe, "lists", "update", "-c", cfg)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert re.fullmatch(r"%s: 2 entries, \+2/-0; \d+ bytes in "
                            r"[0-9.]+s\r?\n" % re.escape(url),
                            cp.stdout), cp.stdout
        cp = wine.run(hushgate_exe, "explain", "-c", cfg, "tracker.example",
                      "local-tracker.example", "other.example")
        rows = [l.split("\t") for l in cp.stdout.splitlines()]
        assert [r[1] for r in rows] == ["deny", "deny", "allow"], cp.stdout
        assert rows[0][3] == url + ":2", cp.stdout

        # Without ca_file the trust anchors are Windows' ROOT store, which
        # does not hold the test CA: the server is refused.
        cfg2 = helpers.dump_yaml({
            "dns": {"servers": [], "hosts_file": str(tmp_path / "hosts")},
            "log": {"decisions": None},
            "lists": {"cache_dir": str(tmp_path / "cache2"),
                      "timeout": "10s"},
            "categories": {"blocked": {"action": "deny", "lists": [
                {"url": url, "format": "domains"}]}}},
            tmp_path / "system-roots.yaml")
        cp = wine.run(hushgate_exe, "lists", "update", "-c", cfg2)
        assert cp.returncode == 1, cp.stdout + cp.stderr
        assert re.fullmatch(r"%s: error: certificate of lists\.test "
                            r"refused: .*\r?\n" % re.escape(url),
                            cp.stdout), cp.stdout + cp.stderr
    finally:
        srv.close()


def test_tls_listener_certs_and_metrics(wine, hushgate_exe, wine_proxy,
                                        tmp_path, test_ca, server_tls_ctx):
    """The gateway parts on Windows: `certs init` makes a CA and a server
    certificate (mbedTLS keys from Windows' random source); a TLS listener
    takes curl --proxy https:// to a local TLS origin and denies a blocked
    name over TLS; /metrics counts what happened."""
    d = tmp_path / "certs"
    cp = wine.run(hushgate_exe, "certs", "init", "--dir", d, "--name",
                  "localhost", "--ip", "127.0.0.1")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    for f in ("ca.crt", "server.crt", "server.key"):
        assert (d / f).stat().st_size > 0
    v = subprocess.run(["openssl", "verify", "-CAfile", str(d / "ca.crt"),
                        str(d / "server.crt")], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=TIMEOUT)
    assert v.returncode == 0, v.stdout
    srv = HTTPServer(tls_ctx=server_tls_ctx)
    try:
        p = wine_proxy({"listen": [{"address": "127.0.0.1:0", "tls": {
            "cert": str(d / "server.crt"), "key": str(d / "server.key")}}],
            "connect_ports": [srv.port],
            "categories": {"blocked": {"action": "deny",
                                       "hosts": ["blocked.test"]}}},
            hosts=["web.test", "blocked.test"])
        base = ["curl", "-sS", "--max-time", str(int(TIMEOUT)),
                "--noproxy", "", "--proxy", "https://127.0.0.1:%d" % p.port,
                "--proxy-cacert", str(d / "ca.crt"),
                "--cacert", test_ca["ca"]]
        cp = subprocess.run(base + ["https://web.test:%d/tls" % srv.port],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=helpers.clean_env(), timeout=TIMEOUT * 2)
        assert cp.returncode == 0, cp.stderr
        assert cp.stdout == b"hello web.test:%d /tls\n" % srv.port
        cp = subprocess.run(base + ["-o", "/dev/null", "-w",
                                    "%{http_connect}",
                                    "https://blocked.test:%d/" % srv.port],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=helpers.clean_env(), timeout=TIMEOUT * 2)
        assert cp.stdout == b"403", cp.stdout + cp.stderr
        p.wait_log(lambda x: x["host"] == "blocked.test", "deny line")
        cp = subprocess.run(["curl", "-sS", "--max-time", str(int(TIMEOUT)),
                             "--cacert", str(d / "ca.crt"),
                             "https://127.0.0.1:%d/metrics" % p.port],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=helpers.clean_env(), timeout=TIMEOUT * 2)
        assert cp.returncode == 0, cp.stderr
        text = cp.stdout.decode()
        m = re.search(r'^hushgate_decisions_total\{action="deny",'
                      r'category="blocked"\} (\d+)$', text, re.M)
        assert m and int(m.group(1)) == 1, text[:2000]
    finally:
        srv.close()

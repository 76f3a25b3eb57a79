"""Shared machinery for the hushgate integration tests.

Everything here talks to real processes over real sockets on the loopback
interface.  Nothing waits by sleeping: every wait is for a stderr line, a socket
event or a file, bounded by TIMEOUT, and fails with a message saying what it
was waiting for.
"""

import json
import os
import re
import select
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]

# Generous: the suite also runs against sanitizer builds.  This bounds waits;
# no test depends on anything being fast.
TIMEOUT = float(os.environ.get("HUSHGATE_TEST_TIMEOUT", "20"))

SANITIZER_RE = re.compile(
    r"ERROR: (?:AddressSanitizer|LeakSanitizer|ThreadSanitizer|MemorySanitizer)"
    r"|WARNING: ThreadSanitizer"
    r"|SUMMARY: \w*Sanitizer"
    r"|runtime error:"
)

# The exit statuses the sanitizer runtimes are given (scripts/test): a
# report that ends the process, whether or not its text reached stderr.
SANITIZER_EXIT = {99: "AddressSanitizer", 66: "ThreadSanitizer"}

LOG_FIELDS = (
    "ts", "client", "user", "group", "method", "host", "port", "sni", "action",
    "category", "rule", "status", "upstream", "bytes_up", "bytes_down",
    "duration_ms", "end",
)

END_CODES = {
    "client_closed", "upstream_closed", "denied", "port_denied",
    "client_denied", "bad_request", "too_large", "overload",
    "request_timeout", "resolve_failed", "resolve_timeout", "connect_failed",
    "connect_timeout", "idle_timeout", "error", "shutdown", "tls_error",
    "tls_timeout", "auth_required", "auth_failed", "auth_blocked",
    "auth_busy", "auth_ticket_expired", "auth_replay", "auth_wrong_service",
}

TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def hushgate_bin():
    """Path of the binary under test: $HUSHGATE_BIN or ./hushgate at the
    repository root."""
    return os.environ.get("HUSHGATE_BIN") or str(REPO / "hushgate")


def wait_until(pred, what, timeout=TIMEOUT, interval=0.02):
    """Poll pred() until it returns something true; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                "timed out after %gs waiting for %s" % (timeout, what))
        time.sleep(interval)


def sanitizer_lines(text_lines):
    return [l for l in text_lines if SANITIZER_RE.search(l)]


def sanitizer_exit(rc):
    """What a sanitizer's exit status says ("" for any other status)."""
    if rc in SANITIZER_EXIT:
        return "%s report (exit status %d)" % (SANITIZER_EXIT[rc], rc)
    return ""


_tsan_built = {}


def built_with_tsan(path=None):
    """Is the binary under test linked with the ThreadSanitizer runtime?"""
    path = path or hushgate_bin()
    if path not in _tsan_built:
        try:
            with open(path, "rb") as f:
                _tsan_built[path] = b"__tsan_init" in f.read()
        except OSError:
            _tsan_built[path] = False
    return _tsan_built[path]


def clean_env():
    """Environment for child processes: no proxy variables inherited."""
    env = dict(os.environ)
    for k in list(env):
        if k.lower() in ("http_proxy", "https_proxy", "all_proxy",
                         "no_proxy", "ftp_proxy"):
            del env[k]
    return env


def run_hushgate(args, stdin=None, input=None, stdout=subprocess.PIPE,
                 cwd=None, timeout=None):
    """Run the binary to completion (for -t, explain, --version ...).

    Returns the CompletedProcess with text stdout/stderr (stdout is None when
    redirected to a file).  Fails the test if the binary printed a sanitizer
    report."""
    if timeout is None:
        timeout = TIMEOUT * 6
    cp = subprocess.run(
        [hushgate_bin()] + list(args), stdin=stdin, input=input,
        stdout=stdout, stderr=subprocess.PIPE, cwd=cwd, timeout=timeout,
        env=clean_env())
    err = cp.stderr.decode("utf-8", "replace")
    cp.stderr = err
    if isinstance(cp.stdout, bytes):
        cp.stdout = cp.stdout.decode("utf-8", "replace")
    bad = sanitizer_lines(err.splitlines())
    assert not bad, "sanitizer report from hushgate %s:\n%s" % (
        " ".join(args), err)
    assert not sanitizer_exit(cp.returncode), "%s from hushgate %s:\n%s" % (
        sanitizer_exit(cp.returncode), " ".join(args), err)
    return cp


# ---------------------------------------------------------------------------
# Local servers (threads, 127.0.0.1 or ::1, port 0)

class TCPServer:
    """A threaded TCP server; each connection is handed to handler(sock).

    modes: "echo" streams back what it reads and closes its write side on
    EOF; "deferred" reads until EOF, then sends everything back and closes
    (only a proxy that relays half-close lets the client see a byte of it);
    "sink" reads until EOF and records what it got; "greet" sends a line,
    closes its write side, then behaves as "sink";
    "reset" reads once, then resets the connection (RST); "close" closes
    at once."""

    def __init__(self, mode="echo", host="127.0.0.1", tls_ctx=None):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(128)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.mode = mode
        self.tls_ctx = tls_ctx
        self.lock = threading.Lock()
        self.accepted = 0
        self.received = []          # per connection: bytes received (sink)
        self.errors = []
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(TIMEOUT * 10)
        try:
            if self.tls_ctx is not None:
                conn = self.tls_ctx.wrap_socket(conn, server_side=True)
            getattr(self, "_" + self.mode)(conn)
        except (OSError, ssl.SSLError) as e:
            with self.lock:
                self.errors.append(repr(e))
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _shut_wr(self, conn):
        if isinstance(conn, ssl.SSLSocket):
            return
        try:
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _echo(self, conn):
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
        self._shut_wr(conn)

    def _deferred(self, conn):
        buf = bytearray()
        while True:
            data = conn.recv(65536)
            if not data:
                break
            buf += data
        conn.sendall(bytes(buf))
        self._shut_wr(conn)

    def _greet(self, conn):
        conn.sendall(b"greeting from upstream\n")
        self._shut_wr(conn)
        self._sink(conn)

    def _close(self, conn):
        conn.close()

    def _reset(self, conn):
        conn.recv(65536)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
        conn.close()

    def _sink(self, conn):
        buf = bytearray()
        while True:
            data = conn.recv(65536)
            if not data:
                break
            buf += data
        with self.lock:
            self.received.append(bytes(buf))

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class _HTTPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._reply(("hello %s %s\n" % (self.headers.get("Host"),
                                        self.path)).encode())

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self._reply(self.rfile.read(n))


class HTTPServer(ThreadingHTTPServer):
    """HTTP (or, with tls_ctx, HTTPS) server: GET answers
    "hello HOST PATH\\n", POST echoes the body."""
    daemon_threads = True

    def __init__(self, tls_ctx=None, handler=None):
        self.tls_ctx = tls_ctx
        super().__init__(("127.0.0.1", 0), handler or _HTTPHandler)
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever,
                                       kwargs={"poll_interval": 0.2},
                                       daemon=True)
        self.thread.start()

    def finish_request(self, request, client_address):
        request.settimeout(TIMEOUT * 10)
        if self.tls_ctx is not None:
            try:
                request = self.tls_ctx.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
        super().finish_request(request, client_address)

    def close(self):
        self.shutdown()
        self.server_close()


# ---------------------------------------------------------------------------
# Hosts file and config helpers

def list_config(tmp_path, path, fmt):
    """A configuration of one deny category loading the list file path in
    format fmt (no DNS, no decision log); returns its path."""
    cfg = tmp_path / "lists.yaml"
    dump_yaml({"dns": {"servers": [], "hosts_file": None},
               "log": {"decisions": None},
               "categories": {"list": {"action": "deny",
                                       "lists": [{"file": str(path),
                                                  "format": fmt}]}}}, cfg)
    return cfg


def make_test_ca(d, names=("echo.test", "web.test", "*.test")):
    """A throwaway CA and a server certificate for names and 127.0.0.1,
    made in folder d with the openssl CLI.  Returns a dict of paths (ca,
    cert, key)."""
    def run(*args):
        cp = subprocess.run(["openssl"] + list(args), cwd=str(d),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=TIMEOUT * 3)
        assert cp.returncode == 0, "openssl %s failed:\n%s" % (
            " ".join(args), cp.stderr.decode(errors="replace"))

    run("req", "-x509", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
        "-out", "ca.pem", "-days", "3", "-subj", "/CN=hushgate test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=%s" % names[0])
    (Path(d) / "server.ext").write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=%s,IP:127.0.0.1\n" %
        ",".join("DNS:" + n for n in names))
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey",
        "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "3",
        "-extfile", "server.ext")
    return {"ca": str(Path(d) / "ca.pem"), "cert": str(Path(d) / "server.pem"),
            "key": str(Path(d) / "server.key")}


def write_hosts(path, names, ip="127.0.0.1"):
    """Write a hosts file mapping every name (iterable, or dict name->ip) to
    a loopback address."""
    if isinstance(names, dict):
        items = list(names.items())
    else:
        items = [(n, ip) for n in names]
    with open(path, "w") as f:
        f.write("# hosts file written by the hushgate integration tests\n")
        for name, addr in items:
            assert addr.startswith("127.") or addr == "::1", addr
            f.write("%s %s\n" % (addr, name))
    return Path(path)


def dump_yaml(obj, path):
    with open(path, "w") as f:
        yaml.safe_dump(obj, f, sort_keys=False, default_flow_style=False,
                       width=1000)
    return Path(path)


def node_line(path, *keys):
    """1-based line of the YAML node reached by keys (mapping keys or
    sequence values, matched by scalar text) in file path."""
    with open(path) as f:
        node = yaml.compose(f)
    for k in keys:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for kn, vn in node.value:
                if kn.value == k:
                    nxt = vn
                    break
        elif isinstance(node, yaml.SequenceNode):
            for vn in node.value:
                if isinstance(vn, yaml.ScalarNode) and vn.value == k:
                    nxt = vn
                    break
        assert nxt is not None, "%r not found in %s" % (keys, path)
        node = nxt
    return node.start_mark.line + 1


def rule_matches(rule, path, line):
    """Does a logged/explained rule "file:line" name this file and line?
    The file may be written absolute or relative; its name must match."""
    if rule is None or ":" not in rule:
        return False
    f, _, l = rule.rpartition(":")
    return l == str(line) and (f == str(path) or os.path.basename(f) ==
                               os.path.basename(str(path)))


# ---------------------------------------------------------------------------
# The proxy under test

class Proxy:
    """One running hushgate, started with -c on a config written here."""

    # How finish() stops it (the Windows build under Wine: Ctrl-C), and how
    # long start() waits for the "listening" line.
    stop_signal = signal.SIGTERM
    start_timeout = TIMEOUT
    # Resource limits of the process, {resource.RLIMIT_...: (soft, hard)};
    # set before start().
    rlimits = {}

    def __init__(self, workdir, config, hosts=(), start=True):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.hosts_path = self.dir / "hosts"
        self.log_path = self.dir / "decisions.log"
        self.config_path = self.dir / "hushgate.yaml"
        write_hosts(self.hosts_path, hosts)
        self.config = self.full_config(config)
        dump_yaml(self.config, self.config_path)
        self.proc = None
        self.lines = []
        self._cond = threading.Condition()
        self._eof = False
        self.expect_exit = False
        self.port = None
        if start:
            self.start()

    def full_config(self, config):
        cfg = {
            "listen": ["127.0.0.1:0"],
            "workers": 2,
            "clients": ["127.0.0.0/8", "::1/128"],
            "connect_ports": [443],
            "default": "allow",
            "max_connections": 4096,
            "timeouts": {"request": "10s", "connect": "10s",
                         "idle": "300s", "drain": "10s"},
            "log": {"decisions": str(self.log_path), "level": "info"},
        }
        for k, v in config.items():
            if k == "timeouts":
                cfg["timeouts"] = dict(cfg["timeouts"], **v)
            else:
                cfg[k] = v
        # Tests never use real DNS: only the hosts file written here.
        cfg["dns"] = {"servers": [], "hosts_file": str(self.hosts_path)}
        return cfg

    def rewrite_config(self, config):
        """Write a new config (same defaults) for a following reload."""
        self.config = self.full_config(config)
        dump_yaml(self.config, self.config_path)


    def command(self):
        """The command line and environment of the proxy process."""
        return [hushgate_bin(), "-c", str(self.config_path)], clean_env()

    def start(self):
        self.stdout_file = open(self.dir / "stdout", "wb")
        argv, env = self.command()
        preexec = None
        if self.rlimits:
            import resource
            limits = dict(self.rlimits)

            def preexec():
                for which, value in limits.items():
                    resource.setrlimit(which, value)
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self.stdout_file,
            stderr=subprocess.PIPE, cwd=str(self.dir), env=env,
            preexec_fn=preexec)
        self._reader = threading.Thread(target=self._read_stderr,
                                        daemon=True)
        self._reader.start()
        m = self.wait_stderr(r"^hushgate: listening on 127\.0\.0\.1:(\d+)$",
                             timeout=self.start_timeout)
        self.port = int(m.group(1))
        assert self.port != 0
        return self

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def stderr_text(self):
        with self._cond:
            return "\n".join(self.lines)

    def wait_stderr(self, pattern, start=0, timeout=TIMEOUT):
        """Wait for a stderr line (index >= start) matching the regex;
        returns the match (its line index is in self.last_index)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            i = start
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        self.last_index = i
                        return m
                    i += 1
                if self._eof:
                    self.proc.wait(timeout=TIMEOUT)
                    raise AssertionError(
                        "hushgate exited (rc=%s) before printing a line "
                        "matching %r; stderr:\n%s" % (
                            self.proc.returncode, pattern,
                            "\n".join(self.lines)))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "timed out after %gs waiting for stderr line %r; "
                        "stderr:\n%s" % (timeout, pattern,
                                         "\n".join(self.lines)))
                self._cond.wait(left)

    def nlines(self):
        with self._cond:
            return len(self.lines)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self):
        """SIGHUP, then wait for the "reload:" line.  Returns (ok, gen,
        index of that line)."""
        start = self.nlines()
        self.signal(signal.SIGHUP)
        m = self.wait_stderr(
            r"^hushgate: reload: (?:ok \(generation (\d+)\)|"
            r"failed, keeping generation (\d+))$", start=start)
        if m.group(1) is not None:
            return True, int(m.group(1)), self.last_index
        return False, int(m.group(2)), self.last_index

    def wait_exit(self, timeout=TIMEOUT):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("hushgate did not exit within %gs; "
                                 "stderr:\n%s" % (timeout,
                                                  self.stderr_text()))
        self._reader.join(TIMEOUT)
        return rc

    def terminate(self, timeout=TIMEOUT):
        """SIGTERM and wait for exit; returns the exit status."""
        self.expect_exit = True
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    # -- decision log -----------------------------------------------------

    def log_lines(self, path=None):
        """Parsed JSON records of the decision log (complete lines only)."""
        path = Path(path) if path else self.log_path
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return []
        out = []
        for raw in data.split(b"\n")[:-1]:
            if not raw.strip():
                continue
            try:
                out.append(json.loads(raw))
            except ValueError:
                raise AssertionError("decision log line is not JSON: %r"
                                     % raw)
        return out

    def wait_log(self, pred, what, count=1, path=None):
        """Wait until at least count log records satisfy pred; returns
        them."""
        def check():
            hits = [r for r in self.log_lines(path) if pred(r)]
            return hits if len(hits) >= count else None
        try:
            return wait_until(check, "decision log: " + what)
        except AssertionError as e:
            raise AssertionError("%s\nlog so far:\n%s" % (
                e, "\n".join(json.dumps(r) for r in self.log_lines(path))))

    # -- teardown ---------------------------------------------------------

    def finish(self):
        """Stop the proxy if it runs; return a list of problems."""
        problems = []
        if self.proc is None:
            return problems
        name = signal.Signals(self.stop_signal).name
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                rc = self.proc.wait(
                    timeout=TIMEOUT + self._drain_seconds())
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
                problems.append("hushgate did not exit after %s" % name)
            else:
                if sanitizer_exit(rc):
                    problems.append("%s after %s" % (sanitizer_exit(rc),
                                                     name))
                elif rc != 0:
                    problems.append("hushgate exited %s after %s"
                                    % (rc, name))
        elif sanitizer_exit(self.proc.returncode):
            problems.append("%s during the test" %
                            sanitizer_exit(self.proc.returncode))
        elif not self.expect_exit:
            problems.append("hushgate died during the test (rc=%s)"
                            % self.proc.returncode)
        self._reader.join(TIMEOUT)
        self.stdout_file.close()
        bad = sanitizer_lines(self.lines)
        if bad:
            problems.append("sanitizer report on stderr")
        if problems:
            problems.append("stderr of %s:\n%s" % (self.dir,
                                                    self.stderr_text()))
        return problems

    def _drain_seconds(self):
        d = str(self.config.get("timeouts", {}).get("drain", "10s"))
        m = re.match(r"^(\d+)(ms|s|m)?$", d)
        if not m:
            return 60
        n = int(m.group(1))
        return {"ms": n / 1000.0, "s": n, None: n, "m": n * 60}[m.group(2)]


class ProxyFactory:
    """Starts proxies in subdirectories of base; cleanup() stops them all."""

    def __init__(self, base):
        self.base = Path(base)
        self.proxies = []

    def __call__(self, config=None, hosts=(), start=True):
        p = Proxy(self.base / ("proxy%d" % len(self.proxies)),
                  config or {}, hosts, start=False)
        self.proxies.append(p)      # so cleanup() stops it even if start fails
        if start:
            p.start()
        return p

    def cleanup(self):
        problems = []
        for p in self.proxies:
            problems += p.finish()
        return problems


# ---------------------------------------------------------------------------
# Client side

class Response:
    def __init__(self, head, body):
        self.raw_head = head
        self.body = body
        lines = head.split(b"\r\n")
        self.status_line = lines[0].decode("latin-1")
        parts = self.status_line.split(" ", 2)
        assert len(parts) >= 2 and parts[0].startswith("HTTP/1."), \
            "bad status line %r" % self.status_line
        self.status = int(parts[1])
        self.headers = {}
        for l in lines[1:]:
            if not l:
                continue
            k, _, v = l.decode("latin-1").partition(":")
            self.headers[k.strip().lower()] = v.strip()

    def __repr__(self):
        return "<Response %r %r>" % (self.raw_head, self.body[:200])


def recv_some(sock, n=65536):
    """recv that treats a reset after data as end of stream."""
    try:
        return sock.recv(n)
    except ConnectionResetError:
        return b""


def read_head(sock):
    """Read up to and including the blank line; returns (head, rest).
    head is None if the peer closed before a full head arrived."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = recv_some(sock)
        if not data:
            return None, buf
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def read_to_eof(sock, already=b""):
    buf = bytearray(already)
    while True:
        data = recv_some(sock)
        if not data:
            return bytes(buf)
        buf += data


def recv_exact(sock, n, already=b""):
    buf = bytearray(already)
    while len(buf) < n:
        data = sock.recv(min(65536, n - len(buf)))
        if not data:
            raise AssertionError("stream ended after %d of %d bytes"
                                 % (len(buf), n))
        buf += data
    return bytes(buf)


def read_response(sock, body=True):
    """Read a response head and its body (Content-Length, else to EOF)."""
    head, rest = read_head(sock)
    assert head is not None, \
        "connection closed without a complete response head (got %r)" % rest
    resp = Response(head, b"")
    if not body:
        resp.rest = rest
        return resp
    cl = resp.headers.get("content-length")
    if cl is not None:
        resp.body = recv_exact(sock, int(cl), rest)
    else:
        resp.body = read_to_eof(sock, rest)
    return resp


def open_client(port, source=None):
    s = socket.create_connection(
        ("127.0.0.1", port), timeout=TIMEOUT,
        source_address=(source, 0) if source else None)
    return s


def raw_request(port, data, source=None):
    """Send bytes as a request head; return the parsed Response."""
    with open_client(port, source) as s:
        s.sendall(data)
        return read_response(s)


class Tunnel:
    """A CONNECT through the proxy.  .resp is the proxy's answer; when it
    is 200, .sock is the tunnel."""

    def __init__(self, port, target, source=None, extra=b""):
        self.target = target
        self.sock = open_client(port, source)
        self.sock.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n" % (
            target, target)).encode() + extra + b"\r\n")
        head, rest = read_head(self.sock)
        assert head is not None, \
            "proxy closed without answering CONNECT %s (got %r)" % (target,
                                                                    rest)
        self.resp = Response(head, b"")
        self.status = self.resp.status
        self.pending = b""
        if self.status == 200:
            # Bytes of the tunnel that came in the same read as the head
            # (an upstream that speaks first).
            self.pending = rest
        else:
            cl = self.resp.headers.get("content-length")
            if cl is not None:
                self.resp.body = recv_exact(self.sock, int(cl), rest)
            else:
                self.resp.body = read_to_eof(self.sock, rest)

    def echo(self, data):
        """Send data, expect it back (needs an echo server behind)."""
        self.sock.sendall(data)
        got = recv_exact(self.sock, len(data), self.pending)
        self.pending = b""
        assert got == data, "tunnel echoed different bytes"
        return got

    def read_to_eof(self):
        data = read_to_eof(self.sock, self.pending)
        self.pending = b""
        return data

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def connect_status(port, target, source=None):
    """Status of CONNECT target; the connection is closed afterwards."""
    with Tunnel(port, target, source) as t:
        return t.status


def exchange(sock, data, chunk=16384):
    """Send data and receive len(data) bytes at the same time over a
    blocking socket or SSLSocket, without threads (select loop)."""
    sock.setblocking(False)
    sent = 0
    got = bytearray()
    try:
        while len(got) < len(data):
            want_w = sent < len(data)
            pending = isinstance(sock, ssl.SSLSocket) and sock.pending()
            if not pending:
                r, w, _ = select.select([sock], [sock] if want_w else [],
                                        [], TIMEOUT)
                assert r or w, "no progress for %gs (sent %d, got %d)" % (
                    TIMEOUT, sent, len(got))
            else:
                r, w = [sock], []
            if want_w and w:
                try:
                    sent += sock.send(data[sent:sent + chunk])
                except (ssl.SSLWantWriteError, ssl.SSLWantReadError,
                        BlockingIOError):
                    pass
            if r:
                while True:
                    try:
                        d = sock.recv(65536)
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                            BlockingIOError):
                        break
                    if not d:
                        raise AssertionError(
                            "stream ended after %d of %d bytes"
                            % (len(got), len(data)))
                    got += d
                    if not (isinstance(sock, ssl.SSLSocket)
                            and sock.pending()):
                        break
    finally:
        sock.setblocking(True)
        sock.settimeout(TIMEOUT)
    return bytes(got)


def has_ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def closed_port():
    """A socket bound on 127.0.0.1 that does not listen: connecting to its
    port is refused.  Keep the returned socket open while it is used."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s


# ---------------------------------------------------------------------------
# Plain HTTP: a scripted origin server and a keep-alive client

def pattern_bytes(n, seed=0):
    """n deterministic pseudo-random bytes (the same for the same n, seed)."""
    import random
    return random.Random(n * 7919 + seed).randbytes(n)


def sha256(data):
    import hashlib
    return hashlib.sha256(data).hexdigest()


class OriginRequest:
    """One request as the origin server received it."""

    def __init__(self, conn, seq, raw_head):
        self.conn = conn            # connection number (1-based, per server)
        self.seq = seq              # request number on that connection
        self.raw_head = raw_head    # bytes through the blank line
        lines = raw_head[:-4].split(b"\r\n")
        self.request_line = lines[0].decode("latin-1")
        parts = self.request_line.split(" ")
        self.method = parts[0]
        self.target = parts[1] if len(parts) > 1 else ""
        self.version = parts[2] if len(parts) > 2 else ""
        self.path = self.target.split("?", 1)[0]
        self.header_list = []       # [(name, value)] in arrival order
        for l in lines[1:]:
            k, _, v = l.decode("latin-1").partition(":")
            self.header_list.append((k, v.strip()))
        self._body = bytearray()    # decoded body bytes (so far)
        self.raw_body = b""         # body bytes as framed on the wire
        self.chunked = False        # the body came chunked
        self.complete = False       # the body was read completely

    @property
    def body(self):
        """The decoded body bytes received so far."""
        return bytes(self._body)

    def header(self, name):
        """Value of the last header called name (any case), or None."""
        name = name.lower()
        vals = [v for k, v in self.header_list if k.lower() == name]
        return vals[-1] if vals else None

    def headers_named(self, name):
        name = name.lower()
        return [v for k, v in self.header_list if k.lower() == name]

    def names(self):
        return {k.lower() for k, _ in self.header_list}

    def __repr__(self):
        return "<OriginRequest conn=%d seq=%d %r>" % (
            self.conn, self.seq, self.raw_head[:300])


class _OriginClosed(Exception):
    pass


class _OriginConn:
    """Buffered reading over one accepted connection."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def fill(self):
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            data = b""
        if not data:
            raise _OriginClosed()
        self.buf += data

    def read_until(self, sep, limit=1 << 20):
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[:i + len(sep)])
                del self.buf[:i + len(sep)]
                return out
            if len(self.buf) > limit:
                raise _OriginClosed()
            self.fill()

    def read(self, n, sink=None):
        """Read exactly n bytes; sink(bytes) sees them as they arrive."""
        out = bytearray()
        while len(out) < n:
            if not self.buf:
                self.fill()
            take = bytes(self.buf[:n - len(out)])
            del self.buf[:len(take)]
            out += take
            if sink:
                sink(take)
        return bytes(out)

    def send(self, data):
        self.sock.sendall(data)


class OriginServer:
    """A threaded raw-socket HTTP/1.1 origin on 127.0.0.1 that records
    exactly what it received and answers with scripted responses.

    Every accepted connection gets a number (self.accepted counts them) and
    every request on it a sequence number; both are echoed in the response
    headers X-Conn and X-Seq, so a test can see upstream connection reuse.
    Requests are recorded in self.requests as soon as their head arrived
    (the body is filled in while it is read).

    The answer depends on the first segment of the request path:
      /cl/N        N bytes (pattern_bytes(N)) with Content-Length
      /chunked/N   the same bytes chunked (chunks of varying size)
      /close/N     the same bytes delimited by closing the connection
      /cut/N       Content-Length N, N//2 bytes, then close
      /status/S    status S (204 and 304 without a body, others "status S")
      /echo        the request body back (Content-Length)
      /sha         the sha256 hex digest of the request body
      /hop         a response carrying hop-by-hop headers
      /slow        reads the request, never answers, waits for EOF
      /bighead/K   a response head of about K KiB (K filler headers of
                   1000 bytes; 20 when K is missing), body "ok"
      /garbage     an unparseable response
      /stream      chunked: "first\\n", then waits for self.go (an Event)
                   before "second\\n" and the last chunk
    anything else: "hello HOST TARGET\\n" with Content-Length.
    HEAD gets the GET head without the body.  A request carrying
    "Expect: 100-continue" is answered "100 Continue" before its body is
    read.  Tests may add handlers: self.handlers["name"] = fn(oc, req)
    where oc.send(bytes) writes; fn returns True to keep the connection.
    self.early_handlers["name"] = fn(oc, req) runs as soon as the head
    arrived, before any 100 Continue or body is read; returning False
    closes the connection there."""

    def __init__(self, host="127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(128)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.accepted = 0
        self.requests = []
        self.errors = []
        self.go = threading.Event()
        self.handlers = {}
        self.early_handlers = {}
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    # -- test side ----------------------------------------------------------

    def wait_request(self, pred, what="a request", count=1):
        """Wait until count recorded requests satisfy pred; returns them."""
        def check():
            with self.lock:
                hits = [r for r in self.requests if pred(r)]
            return hits if len(hits) >= count else None
        return wait_until(check, "origin: " + what)

    def find(self, pred):
        with self.lock:
            return [r for r in self.requests if pred(r)]

    def by_path(self, path, count=1):
        """The requests whose path (without query) is path."""
        return self.wait_request(lambda r: r.path == path,
                                 "a request for %s" % path, count)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.go.set()

    # -- server side --------------------------------------------------------

    def _accept_loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                n = self.accepted
            threading.Thread(target=self._serve, args=(conn, n),
                             daemon=True).start()

    def _serve(self, sock, n):
        sock.settimeout(TIMEOUT * 10)
        oc = _OriginConn(sock)
        seq = 0
        try:
            while True:
                try:
                    head = oc.read_until(b"\r\n\r\n")
                except _OriginClosed:
                    return
                seq += 1
                req = OriginRequest(n, seq, head)
                with self.cond:
                    self.requests.append(req)
                    self.cond.notify_all()
                early = self.early_handlers.get(self._route(req)[0])
                if early is not None and not early(oc, req):
                    return
                if req.header("expect") and \
                        req.header("expect").lower() == "100-continue":
                    oc.send(b"HTTP/1.1 100 Continue\r\n\r\n")
                self._read_body(oc, req)
                req.complete = True
                if not self._answer(oc, req):
                    return
                if (req.header("connection") or "").lower() == "close":
                    return
        except _OriginClosed:
            return
        except OSError as e:
            with self.lock:
                self.errors.append(repr(e))
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def _read_body(self, oc, req):
        def sink(data):
            with self.lock:
                req._body += data
        te = req.header("transfer-encoding")
        if te is not None and te.lower() == "chunked":
            req.chunked = True
            raw = bytearray()
            while True:
                line = oc.read_until(b"\r\n")
                raw += line
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while True:
                        t = oc.read_until(b"\r\n")
                        raw += t
                        if t == b"\r\n":
                            break
                    break
                raw += oc.read(size, sink)
                raw += oc.read(2)
            req.raw_body = bytes(raw)
        elif req.header("content-length") is not None:
            req.raw_body = oc.read(int(req.header("content-length")), sink)

    def _head(self, req, status, reason, headers):
        out = ["HTTP/1.1 %d %s" % (status, reason),
               "X-Conn: %d" % req.conn, "X-Seq: %d" % req.seq]
        out += ["%s: %s" % kv for kv in headers]
        return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")

    @staticmethod
    def _route(req):
        segs = req.path.split("/")
        return (segs[1] if len(segs) > 1 else "",
                segs[2] if len(segs) > 2 else "")

    def _answer(self, oc, req):
        """Write the response; return True to keep the connection."""
        name, arg = self._route(req)
        head_only = req.method == "HEAD"
        if name in self.handlers:
            return self.handlers[name](oc, req)
        if name in ("cl", "chunked", "close", "cut"):
            size = int(arg)
            body = pattern_bytes(size)
            ctype = ("Content-Type", "application/octet-stream")
            if name == "cl":
                oc.send(self._head(req, 200, "OK", [
                    ctype, ("Content-Length", str(size))]))
                if not head_only:
                    oc.send(body)
                return True
            if name == "chunked":
                oc.send(self._head(req, 200, "OK", [
                    ctype, ("Transfer-Encoding", "chunked")]))
                if head_only:
                    return True
                i, step = 0, 7
                while i < size:
                    piece = body[i:i + step]
                    oc.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
                    i += len(piece)
                    step = 65536 if step == 7 else 7 if step > 60000 \
                        else 65536
                oc.send(b"0\r\nX-Trailer-Field: kept\r\n\r\n")
                return True
            if name == "close":
                oc.send(self._head(req, 200, "OK", [
                    ctype, ("Connection", "close")]))
                if not head_only:
                    oc.send(body)
                return False
            oc.send(self._head(req, 200, "OK", [
                ctype, ("Content-Length", str(size))]))
            oc.send(body[:size // 2])
            return False
        if name == "status":
            status = int(arg)
            reason = {204: "No Content", 304: "Not Modified"}.get(
                status, "Status")
            if status in (204, 304):
                hdrs = [("ETag", '"v1"')]
                if status == 304:
                    # The length of the representation, not of this
                    # response: there is no body after a 304.
                    hdrs.append(("Content-Length", "50"))
                oc.send(self._head(req, status, reason, hdrs))
                return True
            body = b"status %d\n" % status
            oc.send(self._head(req, status, reason, [
                ("Content-Length", str(len(body)))]))
            if not head_only:
                oc.send(body)
            return True
        if name in ("echo", "sha"):
            body = req.body if name == "echo" else \
                (sha256(req.body) + "\n").encode()
            oc.send(self._head(req, 200, "OK", [
                ("Content-Length", str(len(body)))]))
            if not head_only:
                oc.send(body)
            return True
        if name == "hop":
            body = b"hop\n"
            oc.send(self._head(req, 200, "OK", [
                ("Connection", "X-Resp-Secret, keep-alive"),
                ("X-Resp-Secret", "must not pass"),
                ("Keep-Alive", "timeout=5, max=100"),
                ("Proxy-Connection", "keep-alive"),
                ("Upgrade", "h2c"),
                ("Trailer", "X-Never"),
                ("X-End-To-End", "kept"),
                ("Cache-Control", "max-age=60"),
                ("Content-Length", str(len(body)))]))
            if not head_only:
                oc.send(body)
            return True
        if name == "slow":
            while True:
                oc.buf.clear()
                oc.fill()
        if name == "bighead":
            kib = int(arg) if arg else 20
            hdrs = [("X-Filler-%d" % i, "f" * 1000) for i in range(kib)]
            hdrs.append(("Content-Length", "2"))
            oc.send(self._head(req, 200, "OK", hdrs) + b"ok")
            return True
        if name == "garbage":
            oc.send(b"THIS IS NOT HTTP\r\n\r\n")
            return False
        if name == "stream":
            oc.send(self._head(req, 200, "OK", [
                ("Transfer-Encoding", "chunked")]))
            oc.send(b"6\r\nfirst\n\r\n")
            if not self.go.wait(TIMEOUT * 3):
                return False
            oc.send(b"7\r\nsecond\n\r\n0\r\n\r\n")
            return True
        body = ("hello %s %s\n" % (req.header("host"), req.target)).encode(
            "latin-1")
        oc.send(self._head(req, 200, "OK", [
            ("Content-Type", "text/plain"),
            ("Content-Length", str(len(body)))]))
        if not head_only:
            oc.send(body)
        return True


class HTTPResponse(Response):
    """A response read by HTTPClient: .body is the decoded body, .raw_body
    the bytes as framed, .chunked tells the framing, .header_list keeps
    every header in order."""

    def __init__(self, head, body=b""):
        super().__init__(head, body)
        self.header_list = []
        for l in head.split(b"\r\n")[1:]:
            if l:
                k, _, v = l.decode("latin-1").partition(":")
                self.header_list.append((k.strip(), v.strip()))
        self.raw_body = b""
        self.chunked = False
        self.interim = []

    def names(self):
        return {k.lower() for k, _ in self.header_list}


class HTTPClient:
    """A client connection to the proxy that sends absolute-form requests
    and reads responses with full HTTP/1.1 framing (keep-alive aware)."""

    def __init__(self, port, source=None):
        self.sock = open_client(port, source)
        self.buf = bytearray()

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method, url, headers=(), body=None, version="1.1",
                host=True):
        """Send a request; headers is a list of (name, value).  A Host
        header naming the URL authority is added unless host is False or
        headers carry one."""
        lines = ["%s %s HTTP/%s" % (method, url, version)]
        names = {k.lower() for k, _ in headers}
        if host and "host" not in names:
            lines.append("Host: %s" % url.split("/")[2])
        lines += ["%s: %s" % kv for kv in headers]
        if body is not None and "content-length" not in names and \
                "transfer-encoding" not in names:
            lines.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.send(data + (body or b""))

    def _fill(self):
        data = recv_some(self.sock)
        if not data:
            return False
        self.buf += data
        return True

    def read_until(self, sep):
        """Bytes up to sep (sep consumed, not returned)."""
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[:i + len(sep)]
                return out
            if not self._fill():
                raise AssertionError(
                    "connection closed while waiting for %r (have %r)"
                    % (sep, bytes(self.buf[:200])))

    def read_exact(self, n):
        """Exactly n bytes (fails if the stream ends first)."""
        while len(self.buf) < n:
            if not self._fill():
                raise AssertionError("stream ended after %d of %d bytes"
                                     % (len(self.buf), n))
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_head(self):
        return HTTPResponse(self.read_until(b"\r\n\r\n"))

    def response(self, method="GET", interim=False):
        """Read one response (1xx interim responses are collected in
        .interim unless interim is True, when the first one is
        returned)."""
        early = []
        while True:
            resp = self.read_head()
            if 100 <= resp.status < 200 and resp.status != 101:
                if interim:
                    return resp
                early.append(resp)
                continue
            break
        resp.interim = early
        te = resp.headers.get("transfer-encoding")
        cl = resp.headers.get("content-length")
        if method == "HEAD" or resp.status in (204, 304):
            return resp
        if te is not None:
            assert te.lower() == "chunked", "response TE %r" % te
            resp.chunked = True
            raw = bytearray()
            body = bytearray()
            while True:
                line = self.read_until(b"\r\n")
                raw += line + b"\r\n"
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while True:
                        t = self.read_until(b"\r\n")
                        raw += t + b"\r\n"
                        if not t:
                            break
                    break
                data = self.read_exact(size)
                body += data
                raw += data
                crlf = self.read_exact(2)
                assert crlf == b"\r\n", "chunk data not followed by CRLF"
                raw += crlf
            resp.body = bytes(body)
            resp.raw_body = bytes(raw)
        elif cl is not None:
            resp.body = resp.raw_body = self.read_exact(int(cl))
        else:
            resp.body = resp.raw_body = self.read_to_eof()
        return resp

    def read_to_eof(self):
        data = read_to_eof(self.sock, bytes(self.buf))
        self.buf = bytearray()
        return data

    def at_eof(self):
        """True if the proxy closed the connection (after any buffered
        bytes, which must be none)."""
        rest = self.read_to_eof()
        assert rest == b"", "unexpected bytes before close: %r" % rest[:200]
        return True

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


# -- a real load balancer in front ------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class HAProxy:
    """Debian's haproxy in TCP mode in front of hushgate instances (ports),
    sending the PROXY header v2 and checking GET /healthz (also behind a
    PROXY header) every 100 ms.  A connection an instance refuses is
    retried on the other (redispatch)."""

    def __init__(self, path, workdir, backends, check=True):
        self.port = free_port()
        cfg = Path(workdir) / "haproxy.cfg"
        lines = [
            "global", "  maxconn 4000",
            "defaults", "  mode tcp", "  timeout connect 2s",
            "  timeout client 30s", "  timeout server 30s",
            "  retries 3", "  option redispatch",
            "frontend fe", "  bind 127.0.0.1:%d" % self.port,
            "  default_backend be",
            "backend be", "  balance roundrobin",
        ]
        if check:
            lines += ["  option httpchk GET /healthz"]
        for i, port in enumerate(backends):
            lines.append("  server hg%d 127.0.0.1:%d send-proxy-v2%s" % (
                i, port, " check check-send-proxy inter 100ms fall 1 "
                "rise 1" if check else ""))
        cfg.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([path, "-db", "-f", str(cfg)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        wait_until(self._listening, "haproxy listening")

    def _listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("haproxy exited: %s" %
                                 self.proc.stderr.read().decode())
        try:
            socket.create_connection(("127.0.0.1", self.port), 1).close()
            return True
        except OSError:
            return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=TIMEOUT)

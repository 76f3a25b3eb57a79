"""Basic proxy authentication (auth.basic): CONNECT and plain HTTP with
the right password from real clients, the user in the decision log, failed
attempts logged and rate-limited, password hashes off the worker's loop,
reload with a changed users file, the `hushgate users` command, and the
refusal of Basic auth on a plain listener.  The 407 and its realm, the
records of early refusals, the health check and a SHA-512 crypt hash are
cases/auth.yaml."""

import base64
import http.client
import os
import re
import stat
import subprocess

import pytest

from helpers import (TIMEOUT, Tunnel, clean_env, node_line, open_client,
                     raw_request, read_response, run_hushgate, wait_until)

REALM = "hushgate test"

# SHA-512 crypt hashes that are slow to check on purpose, so that hashes
# are still in flight while a test looks at them: "slow-password" with
# 4,000,000 rounds keeps a core busy for the better part of a second,
# "stall-password" with 12,000,000 rounds for seconds (two of these hold
# both hashing threads while a test fills the queue).
SLOW_HASH = ("$6$rounds=4000000$hushgateslow$x7Gzte8LhHiK6Cf5Zoy/LjbAkBufnMTo"
             "6eiI0yN8P7gCFa5G4NYbZ8wYo1nLnreo3EsjWSN7hNWUSRaYiwuVi.")
STALL_HASH = ("$6$rounds=12000000$hushgatestall$RtNhvOeilO0YW0hDSsifhh0P.Dge"
              "Do9gEggErt1zwBJydkVZFGSJnFDDmJWVB9JBGPOcERz5gNBkNUjAwFR0g.")


def basic(user, password):
    return "Basic " + base64.b64encode(
        ("%s:%s" % (user, password)).encode()).decode()


def auth_header(user, password):
    return ("Proxy-Authorization: %s\r\n" % basic(user, password)).encode()


def users_cmd(*args, input=None):
    return run_hushgate(["users"] + list(args), input=input)


def add_user(path, name, password):
    cp = users_cmd("add", name, "--users-file", str(path),
                   input=(password + "\n").encode())
    assert cp.returncode == 0, cp.stderr
    return cp


@pytest.fixture
def users_file(tmp_path):
    path = tmp_path / "users"
    add_user(path, "alice", "wonderland")
    add_user(path, "bob", "builder")
    return path


def auth_config(users, **extra):
    cfg = {"auth": {"basic": {"users_file": str(users), "realm": REALM},
                    "allow_plaintext_auth": True}}
    cfg["auth"].update(extra)
    return cfg


def echo_proxy(proxy, users, echo_server, **extra):
    """A proxy with auth whose one allowed port is the echo server's;
    returns it and the CONNECT target that reaches the server."""
    cfg = auth_config(users, **extra)
    cfg["connect_ports"] = [echo_server.port]
    return (proxy(cfg, hosts=["echo.test"]),
            "echo.test:%d" % echo_server.port)


def tunnel_status(port, target, user=None, password=None, source=None):
    extra = auth_header(user, password) if user is not None else b""
    with Tunnel(port, target, source=source, extra=extra) as t:
        return t.status, t.resp


def auth_metrics(port):
    """The password checks in /metrics: {"hashes", "cache_hits", "waits",
    "queued", "running"}."""
    body = raw_request(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                       b"\r\n").body.decode()

    def value(name):
        m = re.search(r"^%s (\d+)$" % re.escape(name), body, re.M)
        assert m, "%s not in /metrics" % name
        return int(m.group(1))
    return {"hashes": value("hushgate_auth_hashes_total"),
            "cache_hits": value("hushgate_auth_cache_hits_total"),
            "waits": value("hushgate_auth_hash_waits_total"),
            "queued": value('hushgate_auth_hashes_in_flight{state="queued"}'),
            "running": value(
                'hushgate_auth_hashes_in_flight{state="running"}')}


def auth_counts(port):
    """(passwords hashed, credentials answered from a cache)."""
    m = auth_metrics(port)
    return m["hashes"], m["cache_hits"]


def in_flight(port):
    m = auth_metrics(port)
    return m["queued"] + m["running"]


def curl_https(curl, port, url, test_ca, proxy_user=None):
    args = [curl, "-sS", "--noproxy", "", "-x", "http://127.0.0.1:%d" % port,
            "--cacert", test_ca["ca"], "-w", "\n%{http_connect}",
            "--max-time", str(int(TIMEOUT))]
    if proxy_user is not None:
        args += ["--proxy-user", proxy_user]
    cp = subprocess.run(args + [url], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, timeout=TIMEOUT * 2,
                        env=clean_env())
    out = cp.stdout.decode("utf-8", "replace")
    body, _, code = out.rpartition("\n")
    return cp.returncode, body, code


def test_connect_with_curl(proxy, curl, https_server, test_ca, users_file):
    cfg = auth_config(users_file)
    cfg["connect_ports"] = [https_server.port]
    p = proxy(cfg, hosts=["web.test"])
    url = "https://web.test:%d/secret" % https_server.port

    rc, body, code = curl_https(curl, p.port, url, test_ca,
                                "alice:wonderland")
    assert rc == 0, (rc, body)
    assert body == "hello web.test:%d /secret\n" % https_server.port
    assert code == "200"

    rc, body, code = curl_https(curl, p.port, url, test_ca, "alice:wrong")
    assert rc != 0 and code == "407", (rc, code)
    rc, body, code = curl_https(curl, p.port, url, test_ca)
    assert rc != 0 and code == "407", (rc, code)

    rec = p.wait_log(lambda r: r["status"] == 200, "authenticated tunnel")[0]
    assert rec["user"] == "alice"
    assert rec["group"] is None
    assert rec["host"] == "web.test"
    failed = p.wait_log(lambda r: r["end"] == "auth_failed", "failure")[0]
    assert failed["status"] == 407 and failed["user"] is None
    p.wait_log(lambda r: r["end"] == "auth_required", "no credentials")


def test_python_set_tunnel(proxy, https_server, client_tls_ctx, users_file):
    cfg = auth_config(users_file)
    cfg["connect_ports"] = [https_server.port]
    p = proxy(cfg, hosts=["web.test"])

    def get(user, password):
        conn = http.client.HTTPSConnection("127.0.0.1", p.port,
                                           context=client_tls_ctx,
                                           timeout=TIMEOUT)
        conn.set_tunnel("web.test", https_server.port, headers={
            "Proxy-Authorization": basic(user, password)})
        try:
            conn.request("GET", "/py")
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    assert get("bob", "builder") == (200, b"hello web.test:%d /py\n"
                                     % https_server.port)
    with pytest.raises(OSError, match="407"):
        get("bob", "alice's password")
    rec = p.wait_log(lambda r: r["user"] == "bob", "bob's tunnel")[0]
    assert rec["method"] == "CONNECT" and rec["status"] == 200


def test_plain_http_with_auth(proxy, curl, http_server, users_file):
    cfg = auth_config(users_file)
    cfg["http_ports"] = [http_server.port]
    p = proxy(cfg, hosts=["web.test"])
    url = "http://web.test:%d/plain" % http_server.port
    base = [curl, "-sS", "--noproxy", "", "-x",
            "http://127.0.0.1:%d" % p.port, "-o", "-", "-w", "\n%{http_code}",
            "--max-time", str(int(TIMEOUT))]

    def get(*extra):
        cp = subprocess.run(base + list(extra) + [url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=TIMEOUT * 2, env=clean_env())
        body, _, code = cp.stdout.decode().rpartition("\n")
        return code, body

    code, body = get("--proxy-user", "alice:wonderland")
    assert code == "200"
    assert body == "hello web.test:%d /plain\n" % http_server.port
    code, body = get()
    assert code == "407"
    code, body = get("--proxy-user", "alice:nope")
    assert code == "407"
    rec = p.wait_log(lambda r: r["path"] == "/plain" and r["status"] == 200,
                     "plain request")[0]
    assert rec["user"] == "alice" and rec["method"] == "GET"


def test_failures_logged_and_rate_limited(proxy, users_file, echo_server):
    p, target = echo_proxy(proxy, users_file, echo_server, max_failures=3,
                           failure_window="1s")
    start = p.nlines()
    for i in range(3):
        status, _ = tunnel_status(p.port, target, "alice", "guess%d" % i)
        assert status == 407
    p.wait_stderr(r"127\.0\.0\.1: proxy authentication failed for "
                  r"user 'alice'", start=start)
    assert "guess" not in p.stderr_text()

    # Blocked: even the right password is not checked now.
    status, resp = tunnel_status(p.port, target, "bob", "builder")
    assert status == 429
    assert int(resp.headers.get("retry-after", "0")) >= 1
    rec = p.wait_log(lambda r: r["end"] == "auth_blocked", "429")[0]
    assert rec["status"] == 429
    p.wait_stderr(r"127\.0\.0\.1: proxy authentication refused", start=start)

    # After the window the right password works again (its answer, not a
    # sleep, tells when).
    def allowed():
        status, _ = tunnel_status(p.port, target, "bob", "builder")
        assert status in (429, 200), status
        return status == 200
    wait_until(allowed, "the failure window to end")
    rec = p.wait_log(lambda r: r["user"] == "bob", "bob after the window")[0]
    assert rec["status"] == 200


def test_unknown_user_is_checked_and_cached_like_a_known_one(
        proxy, users_file, echo_server):
    """Wrong credentials cost one password hash, and the same again cost
    none (the worker's cache), whether the user exists or not: what the
    proxy does, and so how long it takes, must not tell which names
    exist. One worker, so that every attempt meets the same cache."""
    cfg = auth_config(users_file)
    cfg["connect_ports"] = [echo_server.port]
    cfg["workers"] = 1
    p = proxy(cfg, hosts=["echo.test"])
    target = "echo.test:%d" % echo_server.port

    def attempts(user, source):
        """(hashes, cache hits) added by each of three tries of one wrong
        password from a fresh address (under max_failures)."""
        steps, before = [], auth_counts(p.port)
        for _ in range(3):
            status, _ = tunnel_status(p.port, target, user, "not-it",
                                      source=source)
            assert status == 407, (user, status)
            now = auth_counts(p.port)
            steps.append((now[0] - before[0], now[1] - before[1]))
            before = now
        return steps

    known = attempts("alice", "127.0.0.21")
    assert known == [(1, 0), (0, 1), (0, 1)], known
    assert attempts("nobody", "127.0.0.22") == known


@pytest.fixture
def slow_users(tmp_path):
    """alice, checked at the usual cost; slow and stall, whose hashes are
    slow."""
    path = tmp_path / "users"
    add_user(path, "alice", "wonderland")
    with open(path, "a") as f:
        f.write("slow:%s\nstall:%s\n" % (SLOW_HASH, STALL_HASH))
    return path


def slow_proxy(proxy, users, echo_server):
    """One worker, so that a hash on its loop would stop everything; no
    address is refused for its failures, and a request may wait long for
    its hash."""
    cfg = auth_config(users, max_failures=1000)
    cfg["connect_ports"] = [echo_server.port]
    cfg["workers"] = 1
    cfg["timeouts"] = {"request": "120s"}
    return (proxy(cfg, hosts=["echo.test"]),
            "echo.test:%d" % echo_server.port)


def start_attempt(port, target, user, password, source):
    """A CONNECT with credentials whose answer is read later."""
    s = open_client(port, source)
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n" % (
        target, target)).encode() + auth_header(user, password) + b"\r\n")
    return s


def stall(port, target):
    """Both hashing threads busy for seconds; returns the two clients."""
    socks = [start_attempt(port, target, "stall", "guess%d" % i,
                           "127.0.9.%d" % i) for i in (1, 2)]
    wait_until(lambda: auth_metrics(port)["running"] == 2,
               "both threads hashing")
    return socks


def answer(sock):
    with sock:
        return read_response(sock)


def test_password_hashes_do_not_stop_the_worker(proxy, slow_users,
                                                echo_server):
    """While passwords are being hashed, the worker that asked for them
    goes on: an open tunnel echoes, /metrics answers."""
    p, target = slow_proxy(proxy, slow_users, echo_server)
    with Tunnel(p.port, target, extra=auth_header("alice",
                                                  "wonderland")) as t:
        assert t.status == 200
        t.echo(b"before")
        stalled = stall(p.port, target)
        t.echo(b"while hashing")
        assert auth_metrics(p.port)["running"] == 2, \
            "the hashes ended before the echo"
        for s in stalled:
            s.close()
        t.echo(b"after")


def test_hashes_in_flight_are_bounded(proxy, slow_users, echo_server):
    """At most 4 hashes in flight for one client address and 64 in all;
    over that a request gets 503 at once. Credentials already being
    hashed are waited for, whatever the bounds."""
    p, target = slow_proxy(proxy, slow_users, echo_server)
    socks = stall(p.port, target)
    socks += [start_attempt(p.port, target, "slow", "guess%d" % i,
                            "127.0.2.1") for i in range(4)]
    wait_until(lambda: auth_metrics(p.port)["queued"] == 4, "4 queued")
    status, resp = tunnel_status(p.port, target, "slow", "guess4",
                                 source="127.0.2.1")
    assert status == 503, status
    assert resp.headers.get("retry-after") == "1"
    assert resp.body == b"hushgate: too many password checks in progress, " \
        b"try again\n"
    # The same credentials wait for the hash queued already.
    socks.append(start_attempt(p.port, target, "slow", "guess0",
                               "127.0.2.1"))
    wait_until(lambda: auth_metrics(p.port)["waits"] == 1,
               "a request waiting for the same hash")

    # 6 in flight now: 58 more from other addresses, then one too many.
    socks += [start_attempt(p.port, target, "slow", "fill%d" % i,
                            "127.0.3.%d" % (i // 4 + 1)) for i in range(58)]
    wait_until(lambda: auth_metrics(p.port)["queued"] == 62, "62 queued")
    assert tunnel_status(p.port, target, "slow", "guess",
                         source="127.0.4.1")[0] == 503
    assert in_flight(p.port) == 64
    for s in socks:
        s.close()
    wait_until(lambda: auth_metrics(p.port)["queued"] == 0,
               "the queue dropped")
    recs = p.wait_log(lambda r: r["end"] == "auth_busy", "refusals",
                      count=2)
    assert all(r["status"] == 503 and r["user"] is None for r in recs)
    p.wait_stderr(r"127\.0\.4\.1: proxy authentication refused: too many "
                  r"password checks in progress")


def test_clients_that_leave_while_their_password_is_hashed(
        proxy, slow_users, echo_server):
    """A connection may close while its hash is queued or running: the
    hash is dropped if queued, else finished and still counted as a
    failure; requests waiting for the same hash still get their answer."""
    p, target = slow_proxy(proxy, slow_users, echo_server)
    first = start_attempt(p.port, target, "slow", "same", "127.0.5.1")
    wait_until(lambda: auth_metrics(p.port)["running"] == 1, "a hash")
    second = start_attempt(p.port, target, "slow", "same", "127.0.5.2")
    wait_until(lambda: auth_metrics(p.port)["waits"] == 1, "a second wait")
    first.close()
    assert answer(second).status == 407
    wait_until(lambda: in_flight(p.port) == 0, "no hash in flight")

    # Alone with its hash: the hash goes on, and the failure is logged
    # and counted for the address.
    start = p.nlines()
    before = auth_metrics(p.port)["hashes"]
    gone = start_attempt(p.port, target, "slow", "gone", "127.0.5.3")
    wait_until(lambda: auth_metrics(p.port)["running"] == 1, "its hash")
    gone.close()
    p.wait_stderr(r"127\.0\.5\.3: proxy authentication failed for user "
                  r"'slow': wrong user name or password \(the client did "
                  r"not wait\)", start=start)
    assert auth_metrics(p.port)["hashes"] == before + 1

    # Queued behind two others: dropped unhashed.
    before = auth_metrics(p.port)["hashes"]
    busy = [start_attempt(p.port, target, "slow", "busy%d" % i,
                          "127.0.5.%d" % (10 + i)) for i in range(2)]
    wait_until(lambda: auth_metrics(p.port)["running"] == 2, "two hashes")
    queued = start_attempt(p.port, target, "slow", "queued", "127.0.5.12")
    wait_until(lambda: auth_metrics(p.port)["queued"] == 1, "one queued")
    queued.close()
    wait_until(lambda: auth_metrics(p.port)["queued"] == 0, "none queued")
    for s in busy:
        assert answer(s).status == 407
    wait_until(lambda: in_flight(p.port) == 0, "no hash in flight")
    assert auth_metrics(p.port)["hashes"] == before + 2

    # The proxy still serves, the right password included.
    assert tunnel_status(p.port, target, "alice", "wonderland")[0] == 200
    assert tunnel_status(p.port, target, "slow", "slow-password")[0] == 200


def test_reload_reads_the_users_file_again(proxy, tmp_path, echo_server):
    users = tmp_path / "users"
    add_user(users, "alice", "first")
    p, target = echo_proxy(proxy, users, echo_server)

    assert tunnel_status(p.port, target, "alice", "first")[0] == 200
    assert tunnel_status(p.port, target, "carol", "c4")[0] == 407

    add_user(users, "carol", "c4")
    add_user(users, "alice", "second")
    ok, _, _ = p.reload()
    assert ok
    assert tunnel_status(p.port, target, "carol", "c4")[0] == 200
    # The cache does not outlive the change of alice's password.
    assert tunnel_status(p.port, target, "alice", "first")[0] == 407
    assert tunnel_status(p.port, target, "alice", "second")[0] == 200

    # A broken users file keeps the running one.
    users.write_text(users.read_text() + "broken line\n")
    start = p.nlines()
    ok, _, _ = p.reload()
    assert not ok
    p.wait_stderr(r"users:\d+:1: white space|users:\d+:\d+: expected "
                  r"NAME:HASH", start=start)
    assert tunnel_status(p.port, target, "carol", "c4")[0] == 200


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_users_command(tmp_path):
    path = tmp_path / "users"
    cp = users_cmd("add", "alice", "--users-file", str(path),
                   input=b"pw-alice\n")
    assert cp.returncode == 0, cp.stderr
    assert "pw-alice" not in cp.stdout + cp.stderr
    assert _mode(path) == 0o600
    text = path.read_text()
    assert re.match(r"^alice:\$y\$[./A-Za-z0-9$]+\n$", text), text

    # Other lines stay as they are; the mode of the file is kept.
    path.write_text("# staff\n" + text + "\n#  spaced  comment\n")
    os.chmod(path, 0o640)
    add_user(path, "bob", "pw-bob")
    lines = path.read_text().split("\n")
    assert lines[0] == "# staff" and lines[1] == text.rstrip("\n")
    assert lines[2] == "" and lines[3] == "#  spaced  comment"
    assert lines[4].startswith("bob:$y$")
    assert _mode(path) == 0o640

    cp = users_cmd("list", "--users-file", str(path))
    assert cp.returncode == 0 and cp.stdout == "alice\nbob\n"

    # A new password replaces the line where it is.
    before = path.read_text().split("\n")
    add_user(path, "alice", "pw-new")
    after = path.read_text().split("\n")
    assert after[1].startswith("alice:$y$") and after[1] != before[1]
    assert after[0] == before[0] and after[2:] == before[2:]

    unchanged = path.read_text()
    cp = users_cmd("del", "carol", "--users-file", str(path))
    assert cp.returncode != 0 and "carol" in cp.stderr
    assert path.read_text() == unchanged
    cp = users_cmd("del", "alice", "--users-file", str(path))
    assert cp.returncode == 0
    assert users_cmd("list", "--users-file", str(path)).stdout == "bob\n"
    assert "# staff" in path.read_text()

    for bad in ("a:b", "a b", ""):
        cp = users_cmd("add", bad, "--users-file", str(path),
                       input=b"pw\n")
        assert cp.returncode == 2, bad
    cp = users_cmd("add", "eve", "--users-file", str(path), input=b"")
    assert cp.returncode != 0
    cp = users_cmd("add", "eve", "--users-file", str(path), input=b"\n")
    assert cp.returncode != 0 and "empty" in cp.stderr
    assert "eve" not in path.read_text()
    # no temporary file left behind
    assert sorted(os.listdir(tmp_path)) == ["users"]

    # A file with a mistake is not edited.
    path.write_text(path.read_text() + "mallory\n")
    cp = users_cmd("add", "eve", "--users-file", str(path), input=b"x\n")
    assert cp.returncode != 0
    assert re.search(r"users:\d+:1: expected NAME:HASH", cp.stderr), \
        cp.stderr


def test_users_command_reads_the_configuration(tmp_path, users_file):
    cfg = tmp_path / "hushgate.yaml"
    cfg.write_text("auth:\n  allow_plaintext_auth: true\n  basic:\n"
                   "    users_file: %s\n" % users_file.name)
    cp = users_cmd("list", "-c", str(cfg))
    assert cp.returncode == 0 and cp.stdout == "alice\nbob\n", cp.stderr


def test_plain_listener_refused_unless_allowed(tmp_path, users_file):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("listen: [\"127.0.0.1:0\"]\n"
                   "dns: {servers: [], hosts_file: /dev/null}\n"
                   "auth:\n"
                   "  basic: {users_file: %s, realm: x}\n" % users_file)
    cp = run_hushgate(["-t", "-c", str(cfg)])
    assert cp.returncode == 1
    line = node_line(cfg, "auth", "basic")
    assert re.search(r"c\.yaml:%d:3: auth\.basic: .*plain listener "
                     r"127\.0\.0\.1:0.*allow_plaintext_auth" % line,
                     cp.stderr), cp.stderr
    assert "configuration OK" not in cp.stdout

    cfg.write_text(cfg.read_text() + "  allow_plaintext_auth: true\n")
    cp = run_hushgate(["-t", "-c", str(cfg)])
    assert cp.returncode == 0, cp.stderr
    assert "configuration OK" in cp.stdout


def test_users_command_usage():
    cp = run_hushgate(["users"])
    assert cp.returncode == 2
    cp = run_hushgate(["users", "list", "--users-file", "/nonexistent/x"])
    assert cp.returncode == 1 and "/nonexistent/x" in cp.stderr

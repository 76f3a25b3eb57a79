"""Kerberos single sign-on (auth.negotiate, HTTP Negotiate) against a real
MIT KDC in a scratch realm on loopback (krbrealm.py): curl and Python's
gssapi as clients, CONNECT and plain HTTP, the user and group from the
client principal, the offered challenges, authentication per connection,
a handshake of two legs, the failures (another service's ticket, an
expired ticket, a replayed token) with their termination codes and the
failure limit, the keytab at -t and on reload, and the Kerberos checks
off the worker's loop.

Clients reach the proxy as `localhost` (service principal
HTTP/localhost@TEST.REALM): curl builds the principal from the proxy's
host name, as browsers do, and `localhost` resolves to 127.0.0.1 on any
machine without a hosts file; krb5.conf turns off canonicalization so
the name is used as written.  Python builds tokens by hand where a case
needs a precise one (another service, a replay, a token kept until its
ticket expired)."""

import base64
import fcntl
import os
import re
import select
import shutil
import subprocess
import time

import gssapi
import pytest

from helpers import (TIMEOUT, Tunnel, clean_env, dump_yaml, open_client,
                     read_response, run_hushgate, wait_until)
from krbrealm import REALM, Realm, krb5_conf

SPNEGO = gssapi.OID.from_int_seq("1.3.6.1.5.5.2")
KRB5 = gssapi.OID.from_int_seq("1.2.840.113554.1.2.2")
ALICE = "alice@" + REALM
BOB = "bob@" + REALM


@pytest.fixture(scope="module")
def realm(tmp_path_factory):
    """TEST.REALM with users alice and bob, services HTTP/localhost (the
    proxy's), HTTP/proxy.test (in the proxy's keytab too) and
    HTTP/other.test (not in it); KRB5_CONFIG points at it for the module
    (the proxies inherit it)."""
    d = tmp_path_factory.mktemp("realm")
    r = Realm(d)
    saved = os.environ.get("KRB5_CONFIG")
    try:
        r.start()
        r.addprinc("alice", "alice-pw")
        r.addprinc("bob", "bob-pw")
        for svc in ("HTTP/localhost", "HTTP/proxy.test", "HTTP/other.test",
                    "HTTP/reload.test"):
            r.addprinc(svc)
        r.keytab = d / "proxy.keytab"
        r.ktadd(r.keytab, "HTTP/localhost", "HTTP/proxy.test")
        r.alice = r.kinit("alice", "alice-pw", d / "alice.cc")
        r.bob = r.kinit("bob", "bob-pw", d / "bob.cc")
        os.environ["KRB5_CONFIG"] = str(r.conf)
        yield r
    finally:
        if saved is None:
            os.environ.pop("KRB5_CONFIG", None)
        else:
            os.environ["KRB5_CONFIG"] = saved
        r.stop()


def fresh_ccache(realm, tmp_path, user="alice", **kw):
    """A new credential cache (no service ticket in it yet)."""
    return realm.kinit(user, user + "-pw", tmp_path / ("%s-%d.cc" % (
        user, time.monotonic_ns())), **kw)


class Client:
    """A GSS-API initiator for service (host-based, HTTP@localhost) with
    the credentials of ccache."""

    def __init__(self, ccache, service="HTTP@localhost", mech=SPNEGO):
        self.creds = gssapi.Credentials(usage="initiate", store={
            "ccache": "FILE:%s" % ccache})
        self.ctx = gssapi.SecurityContext(
            name=gssapi.Name(service, gssapi.NameType.hostbased_service),
            creds=self.creds, usage="initiate", mech=mech,
            flags=gssapi.RequirementFlag.mutual_authentication)

    def token(self, server_token=None):
        return base64.b64encode(self.ctx.step(server_token)).decode()

    def header(self, server_token=None):
        return ("Proxy-Authorization: Negotiate %s\r\n" %
                self.token(server_token)).encode()


def nego_header(ccache, service="HTTP@localhost"):
    return Client(ccache, service).header()


def nego_config(realm, tmp_path, basic_users=None, principal="HTTP/localhost",
                keytab=None, **auth):
    neg = {"keytab": str(keytab or realm.keytab),
           "replay_cache": str(tmp_path / "krb5.rcache2")}
    if principal:
        neg["service_principal"] = principal
    cfg = {"auth": dict({"negotiate": neg}, **auth)}
    if basic_users is not None:
        cfg["auth"]["basic"] = {"users_file": str(basic_users),
                                "realm": "hushgate test"}
        cfg["auth"]["allow_plaintext_auth"] = True
    return cfg


def echo_proxy(proxy, realm, tmp_path, echo_server, **kw):
    cfg = nego_config(realm, tmp_path, **kw)
    cfg["connect_ports"] = [echo_server.port]
    return proxy(cfg, hosts=["echo.test"]), "echo.test:%d" % echo_server.port


def challenges(resp):
    """The Proxy-Authenticate values of a response, in order."""
    out = []
    for line in resp.raw_head.split(b"\r\n")[1:]:
        k, _, v = line.decode("latin-1").partition(":")
        if k.strip().lower() == "proxy-authenticate":
            out.append(v.strip())
    return out


def curl_negotiate(curl, port, url, ccache, *extra):
    """curl through the proxy as localhost with the tickets of ccache:
    (exit code, body, HTTP code of the last response or CONNECT)."""
    env = dict(clean_env(), KRB5CCNAME="FILE:%s" % ccache)
    cp = subprocess.run([curl, "-sS", "-4", "--noproxy", "", "--proxy",
                         "http://localhost:%d" % port, "--proxy-negotiate",
                         "-U", ":", "-w", "\n%{http_code} %{http_connect}",
                         "--max-time", str(int(TIMEOUT))] + list(extra) +
                        [url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        timeout=TIMEOUT * 2, env=env)
    body, _, codes = cp.stdout.decode("utf-8", "replace").rpartition("\n")
    return cp.returncode, body, codes.split()


def test_connect_and_plain_http_with_curl(proxy, curl, realm, tmp_path,
                                          https_server, http_server,
                                          test_ca):
    cfg = nego_config(realm, tmp_path)
    cfg["connect_ports"] = [https_server.port]
    cfg["http_ports"] = [http_server.port]
    p = proxy(cfg, hosts=["web.test"])

    url = "https://web.test:%d/tls" % https_server.port
    rc, body, codes = curl_negotiate(curl, p.port, url, realm.alice,
                                     "--cacert", test_ca["ca"])
    assert rc == 0, (rc, body)
    assert body == "hello web.test:%d /tls\n" % https_server.port
    assert codes[-1] == "200"
    url = "http://web.test:%d/plain" % http_server.port
    rc, body, codes = curl_negotiate(curl, p.port, url, realm.bob)
    assert rc == 0 and codes[0] == "200", (rc, body, codes)
    assert body == "hello web.test:%d /plain\n" % http_server.port

    rec = p.wait_log(lambda r: r["method"] == "CONNECT" and
                     r["status"] == 200, "the tunnel")[0]
    assert rec["user"] == ALICE and rec["host"] == "web.test"
    rec = p.wait_log(lambda r: r["path"] == "/plain", "plain HTTP")[0]
    assert rec["user"] == BOB and rec["status"] == 200

    # Without a ticket curl gets the challenge and has nothing to answer.
    env_cc = tmp_path / "empty.cc"
    rc, body, codes = curl_negotiate(curl, p.port, url, env_cc)
    assert codes[0] == "407", (rc, body, codes)


def test_mutual_authentication_token_on_connect(proxy, realm, tmp_path,
                                                echo_server):
    """The 200 of a CONNECT carries the acceptor's token, and the client's
    context completes with it (mutual authentication)."""
    p, target = echo_proxy(proxy, realm, tmp_path, echo_server)
    c = Client(realm.alice)
    with Tunnel(p.port, target, extra=c.header()) as t:
        assert t.status == 200
        chal = challenges(t.resp)
        assert len(chal) == 1 and chal[0].startswith("Negotiate "), chal
        assert not c.ctx.complete
        c.ctx.step(base64.b64decode(chal[0].split()[1]))
        assert c.ctx.complete
        t.echo(b"mutual")


def test_group_of_the_principal(proxy, realm, tmp_path, echo_server):
    """A clients group whose users: list names the principal picks that
    group's policy; strip_realm: true makes the name without the realm."""
    cfg = nego_config(realm, tmp_path)
    cfg["connect_ports"] = [echo_server.port]
    cfg["clients"] = [{"name": "sso", "networks": ["127.0.0.0/8"],
                       "users": [ALICE]},
                      {"name": "rest", "networks": ["127.0.0.0/8"]}]
    cfg["categories"] = {"work": {"action": "deny",
                                  "actions": {"sso": "allow"},
                                  "hosts": ["work.test"]}}
    p = proxy(cfg, hosts=["work.test"])
    target = "work.test:%d" % echo_server.port
    with Tunnel(p.port, target, extra=nego_header(realm.alice)) as t:
        assert t.status == 200
        t.echo(b"staff")
    with Tunnel(p.port, target, extra=nego_header(realm.bob)) as t:
        assert t.status == 403
    p.wait_log(lambda r: r["user"] == ALICE and r["group"] == "sso" and
               r["status"] == 200, "alice in sso")
    p.wait_log(lambda r: r["user"] == BOB and r["group"] == "rest" and
               r["status"] == 403, "bob in rest")

    cfg["auth"]["negotiate"]["strip_realm"] = True
    cfg["clients"][0]["users"] = ["alice"]
    p.rewrite_config(cfg)
    assert p.reload()[0]
    with Tunnel(p.port, target, extra=nego_header(realm.alice)) as t:
        assert t.status == 200
    p.wait_log(lambda r: r["user"] == "alice" and r["group"] == "sso",
               "alice, her realm stripped")


def test_offered_challenges(proxy, realm, tmp_path, echo_server):
    # Negotiate alone: its challenge, nothing else.
    p, target = echo_proxy(proxy, realm, tmp_path, echo_server)
    with Tunnel(p.port, target) as t:
        assert t.status == 407
        assert challenges(t.resp) == ["Negotiate"]
    rec = p.wait_log(lambda r: r["end"] == "auth_required", "407")[0]
    assert rec["user"] is None

    # A Basic header where only Negotiate is offered is a failure.
    with Tunnel(p.port, target, extra=b"Proxy-Authorization: Basic "
                b"YWxpY2U6eA==\r\n") as t:
        assert t.status == 407 and challenges(t.resp) == ["Negotiate"]
    p.wait_log(lambda r: r["end"] == "auth_failed", "Basic refused")

    # Both: both challenges, and either scheme works.
    users = tmp_path / "users"
    cp = run_hushgate(["users", "add", "carol", "--users-file", str(users)],
                      input=b"carol-pw\n")
    assert cp.returncode == 0, cp.stderr
    p2, _ = echo_proxy(proxy, realm, tmp_path, echo_server,
                       basic_users=users)
    with Tunnel(p2.port, target) as t:
        assert t.status == 407
        chal = challenges(t.resp)
        assert chal == ["Negotiate",
                        'Basic realm="hushgate test", charset="UTF-8"'], chal
    basic = base64.b64encode(b"carol:carol-pw")
    with Tunnel(p2.port, target, extra=b"Proxy-Authorization: Basic " +
                basic + b"\r\n") as t:
        assert t.status == 200
        t.echo(b"basic")
    with Tunnel(p2.port, target, extra=nego_header(realm.alice)) as t:
        assert t.status == 200
        t.echo(b"negotiate")
    with Tunnel(p2.port, target, extra=b"Proxy-Authorization: Basic " +
                base64.b64encode(b"carol:wrong") + b"\r\n") as t:
        assert t.status == 407 and len(challenges(t.resp)) == 2
    p2.wait_log(lambda r: r["user"] == "carol", "carol by Basic")
    p2.wait_log(lambda r: r["user"] == ALICE, "alice by Negotiate")


def get(sock, url, extra=b""):
    sock.sendall(b"GET " + url.encode() + b" HTTP/1.1\r\nHost: web.test\r\n"
                 + extra + b"\r\n")
    return read_response(sock)


def test_authentication_per_connection(proxy, realm, tmp_path, http_server):
    cfg = nego_config(realm, tmp_path)
    cfg["http_ports"] = [http_server.port]
    p = proxy(cfg, hosts=["web.test"])
    url = "http://web.test:%d/" % http_server.port
    with open_client(p.port) as s:
        r = get(s, url + "one", nego_header(realm.alice))
        assert r.status == 200 and r.body.endswith(b"/one\n")
        r = get(s, url + "two")             # no token: the connection's
        assert r.status == 200 and r.body.endswith(b"/two\n")
    with open_client(p.port) as s:          # a new connection: a new one
        r = get(s, url + "three")
        assert r.status == 407 and challenges(r) == ["Negotiate"]
    recs = p.wait_log(lambda r: r["path"] in ("/one", "/two"), "both", 2)
    assert [r["user"] for r in recs] == [ALICE, ALICE]
    rec = p.wait_log(lambda r: r["path"] == "/three", "the new one")[0]
    assert rec["user"] is None and rec["end"] == "auth_required"


def der(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + length + content


def test_handshake_of_two_legs(proxy, realm, tmp_path, echo_server):
    """A SPNEGO NegTokenInit that offers Kerberos without its token: the
    acceptor asks for another leg (407 with its token, the connection kept
    open), and the Kerberos token in a NegTokenResp on the same connection
    completes it."""
    p, target = echo_proxy(proxy, realm, tmp_path, echo_server)
    krb5_oid = der(0x06, bytes.fromhex("2a864886f712010202"))
    init = der(0x60, der(0x06, bytes.fromhex("2b0601050502")) +
               der(0xa0, der(0x30, der(0xa0, der(0x30, krb5_oid)))))
    with open_client(p.port) as s:
        s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: "
                   "Negotiate %s\r\n\r\n" % (target, target,
                                             base64.b64encode(init).decode())
                   ).encode())
        r = read_response(s)
        assert r.status == 407, r
        chal = challenges(r)
        assert len(chal) == 1 and chal[0].startswith("Negotiate "), chal
        assert r.headers.get("connection") == "keep-alive"
        krb = Client(realm.alice, mech=KRB5).ctx.step()
        resp = der(0xa1, der(0x30, der(0xa2, der(0x04, krb))))
        s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: "
                   "Negotiate %s\r\n\r\n" % (target, target,
                                             base64.b64encode(resp).decode())
                   ).encode())
        r = read_response(s, body=False)
        assert r.status == 200, r
        s.sendall(b"two legs")
        assert s.recv(100) == b"two legs"
    recs = p.wait_log(lambda r: r["method"] == "CONNECT", "both legs", 2)
    assert [(r["status"], r["user"]) for r in recs] == [(407, None),
                                                         (200, ALICE)]


def test_wrong_service_and_replay(proxy, realm, tmp_path, echo_server):
    p, target = echo_proxy(proxy, realm, tmp_path, echo_server)
    start = p.nlines()
    # A ticket for a service in the keytab but not the configured one,
    # and one for a service whose key the keytab does not have.
    for svc in ("HTTP@proxy.test", "HTTP@other.test"):
        with Tunnel(p.port, target,
                    extra=nego_header(realm.alice, svc)) as t:
            assert t.status == 407 and challenges(t.resp) == ["Negotiate"]
    recs = p.wait_log(lambda r: r["end"] == "auth_wrong_service", "wrong", 2)
    assert all(r["status"] == 407 and r["user"] is None for r in recs)
    p.wait_stderr(r"127\.0\.0\.1: proxy authentication failed for user "
                  r"'-': Negotiate: .*other\.test", start=start)

    # The same token on a second connection: a replay.
    header = nego_header(realm.alice)
    with Tunnel(p.port, target, extra=header) as t:
        assert t.status == 200
    with Tunnel(p.port, target, extra=header) as t:
        assert t.status == 407
    rec = p.wait_log(lambda r: r["end"] == "auth_replay", "the replay")[0]
    assert rec["status"] == 407 and rec["user"] is None
    p.wait_stderr(r"Negotiate: Request is a replay", start=start)
    assert (tmp_path / "krb5.rcache2").stat().st_size > 0


def test_failures_count_for_the_address(proxy, realm, tmp_path, echo_server):
    """auth.max_failures counts Negotiate failures as it counts Basic's."""
    p, target = echo_proxy(proxy, realm, tmp_path, echo_server,
                           max_failures=2, failure_window="60s")
    for _ in range(2):
        with Tunnel(p.port, target,
                    extra=nego_header(realm.alice, "HTTP@other.test")) as t:
            assert t.status == 407
    with Tunnel(p.port, target, extra=nego_header(realm.alice)) as t:
        assert t.status == 429
    p.wait_log(lambda r: r["end"] == "auth_blocked", "429")
    # Another address is not blocked.
    with Tunnel(p.port, target, source="127.0.0.2",
                extra=nego_header(realm.alice)) as t:
        assert t.status == 200


def test_expired_ticket(proxy, realm, tmp_path, echo_server, monkeypatch):
    """A token made while its ticket was valid, sent once the ticket has
    expired (the proxy allows 1 s of clock skew here, not 5 minutes)."""
    skew = tmp_path / "krb5-skew.conf"
    skew.write_text(krb5_conf(realm.port, clockskew=1))
    monkeypatch.setenv("KRB5_CONFIG", str(skew))
    p, target = echo_proxy(proxy, realm, tmp_path, echo_server)
    cc = fresh_ccache(realm, tmp_path, lifetime="3s")
    c = Client(cc)
    # The service ticket ends when the initial one does, or before.
    ends = time.time() + c.creds.lifetime
    assert c.creds.lifetime <= 5
    header = c.header()
    # Wait for the instant the ticket's end plus the skew has passed (the
    # clock is what is waited for).
    wait_until(lambda: time.time() > ends + 2, "the ticket to expire",
               timeout=30, interval=0.1)
    with Tunnel(p.port, target, extra=header) as t:
        assert t.status == 407
    rec = p.wait_log(lambda r: r["end"] == "auth_ticket_expired", "407")[0]
    assert rec["user"] is None
    p.wait_stderr(r"Negotiate: Ticket expired")


def check_config(tmp_path, neg):
    cfg = dump_yaml({"listen": ["127.0.0.1:0"],
                     "dns": {"servers": [], "hosts_file": "/dev/null"},
                     "auth": {"negotiate": neg}}, tmp_path / "c.yaml")
    return run_hushgate(["-t", "-c", str(cfg)])


def test_keytab_errors_at_load(realm, tmp_path):
    rc = str(tmp_path / "rc")
    cp = check_config(tmp_path, {"keytab": str(realm.keytab),
                                 "service_principal": "HTTP/localhost",
                                 "replay_cache": rc})
    assert cp.returncode == 0, cp.stderr

    def refused(neg, pattern):
        cp = check_config(tmp_path, neg)
        assert cp.returncode != 0
        assert re.search(
            r"c\.yaml:\d+:\d+: auth\.negotiate\.keytab: " + pattern,
            cp.stderr), cp.stderr

    refused({"keytab": str(tmp_path / "none"), "replay_cache": rc},
            r".*none: cannot open: No such file")
    garbage = tmp_path / "garbage.keytab"
    garbage.write_bytes(b"not a keytab\n")
    refused({"keytab": str(garbage), "replay_cache": rc},
            r".*garbage\.keytab: .*(format|version)")
    refused({"keytab": str(realm.keytab), "replay_cache": rc,
             "service_principal": "HTTP/other.test"},
            r".*no key for HTTP/other\.test in it")
    refused({"keytab": str(realm.keytab),
             "replay_cache": str(tmp_path / "no" / "rc")},
            r"replay cache .*: no directory")
    cp = check_config(tmp_path, {"service_principal": "HTTP/x"})
    assert cp.returncode != 0 and "keytab is missing" in cp.stderr


def test_reload_reads_the_keytab_again(proxy, realm, tmp_path, echo_server):
    """The keytab is copied at load: a key changed on the KDC is accepted
    after a reload, not before; a reload with a bad keytab keeps the
    running keys."""
    keytab = tmp_path / "reload.keytab"
    realm.ktadd(keytab, "HTTP/reload.test")
    p, target = echo_proxy(proxy, realm, tmp_path, echo_server,
                           keytab=keytab, principal="HTTP/reload.test")
    svc = "HTTP@reload.test"
    hdr = nego_header(fresh_ccache(realm, tmp_path), svc)
    with Tunnel(p.port, target, extra=hdr) as t:
        assert t.status == 200

    # New keys: written to the file, not yet read.
    realm.kadmin("cpw -randkey HTTP/reload.test")
    keytab.unlink()
    realm.ktadd(keytab, "HTTP/reload.test")
    new_cc = fresh_ccache(realm, tmp_path)
    with Tunnel(p.port, target, extra=nego_header(new_cc, svc)) as t:
        assert t.status == 407
    p.wait_log(lambda r: r["end"] == "auth_wrong_service", "old keys")
    assert p.reload()[0]
    with Tunnel(p.port, target, extra=nego_header(new_cc, svc)) as t:
        assert t.status == 200

    # A keytab that cannot be read: the reload fails, the keys stay.
    good = tmp_path / "good.keytab"
    shutil.copy(keytab, good)
    keytab.write_bytes(b"broken")
    start = p.nlines()
    ok, _, _ = p.reload()
    assert not ok
    p.wait_stderr(r":\d+:\d+: auth\.negotiate\.keytab: .*reload\.keytab",
                  start=start)
    with Tunnel(p.port, target, extra=nego_header(new_cc, svc)) as t:
        assert t.status == 200


def lock_waiters(path):
    """How many lock requests wait on the file (/proc/locks: '->')."""
    st = os.stat(path)
    dev = "%02x:%02x:%d" % (os.major(st.st_dev), os.minor(st.st_dev),
                            st.st_ino)
    with open("/proc/locks") as f:
        return sum(1 for line in f if "->" in line and dev in line)


def test_handshakes_do_not_stop_the_worker(proxy, realm, tmp_path,
                                           echo_server):
    """While Kerberos checks wait (the replay cache held locked by the
    test, so that both checking threads are stuck in it), the one worker
    goes on: an open tunnel echoes, and the waiting clients have no
    answer until the lock is let go."""
    cfg = nego_config(realm, tmp_path)
    cfg["connect_ports"] = [echo_server.port]
    cfg["workers"] = 1
    p = proxy(cfg, hosts=["echo.test"])
    target = "echo.test:%d" % echo_server.port
    rcache = tmp_path / "krb5.rcache2"
    with Tunnel(p.port, target, extra=nego_header(realm.alice)) as t:
        assert t.status == 200
        t.echo(b"before")
        with open(rcache, "r+b") as lock:
            fcntl.lockf(lock, fcntl.LOCK_EX)
            waiting = []
            for _ in range(2):
                s = open_client(p.port)
                s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n" % (
                    target, target)).encode() + nego_header(realm.bob) +
                    b"\r\n")
                waiting.append(s)
            wait_until(lambda: lock_waiters(rcache) == 2,
                       "both Kerberos threads waiting for the lock")
            t.echo(b"while checking")
            ready, _, _ = select.select(waiting, [], [], 0)
            assert ready == [], "answered while the check was held"
            assert lock_waiters(rcache) == 2
            fcntl.lockf(lock, fcntl.LOCK_UN)
        for s in waiting:
            with s:
                assert read_response(s, body=False).status == 200
        t.echo(b"after")
    recs = p.wait_log(lambda r: r["user"] == BOB, "bob's tunnels", 2)
    assert all(r["status"] == 200 for r in recs)



def test_large_heads_with_negotiate(proxy, realm, tmp_path, echo_server):
    """Kerberos tokens of users in many directory groups run to tens of
    KiB: with auth.negotiate a request head may be 64 KiB (8 KiB
    otherwise). A 40 KiB head with a good token is served; a 40 KiB
    token that is no ticket is a Kerberos failure (407), not 431; over
    64 KiB is 431."""
    p, target = echo_proxy(proxy, realm, tmp_path, echo_server)
    pad = b"X-Pad: " + b"a" * 40000 + b"\r\n"
    with Tunnel(p.port, target, extra=nego_header(realm.alice) + pad) as t:
        assert t.status == 200
        t.echo(b"big head")
    junk = base64.b64encode(b"\x60" + os.urandom(30000)).decode()
    with Tunnel(p.port, target, extra=("Proxy-Authorization: Negotiate %s"
                                       "\r\n" % junk).encode()) as t:
        assert t.status == 407
    p.wait_log(lambda r: r["status"] == 407 and r["end"] == "auth_failed",
               "the junk token refused by Kerberos")
    with Tunnel(p.port, target, extra=nego_header(realm.alice) +
                b"X-Pad: " + b"a" * 66000 + b"\r\n") as t:
        assert t.status == 431

    # The same 40 KiB head without auth.negotiate: 431.
    q = proxy({"connect_ports": [echo_server.port]}, hosts=["echo.test"])
    with Tunnel(q.port, target, extra=pad) as t:
        assert t.status == 431

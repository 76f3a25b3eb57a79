"""Client groups from an LDAP directory (ldap:, clients.ldap_group),
against a real slapd started here: a user authenticated with Basic is in
a group when the directory says so; answers are kept for ldap.ttl and
asked again after it (one lookup for concurrent requests); a directory
that does not answer keeps the last membership until ldap.ttl after its
confirmation and then fails closed, said once in the log and counted in
/metrics; a wrong bind password fails closed without showing it; a slow
directory does not block a worker's event loop; bad settings are
file:line:col errors.

Debian packages: slapd, ldap-utils (its schemas), python3-ldap."""

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import ldap
import pytest

from helpers import (REPO, TIMEOUT, Tunnel, dump_yaml, free_port,
                     make_test_ca, raw_request, run_hushgate, wait_until)

ROOT_DN, ROOT_PW = "cn=admin,dc=test", "root-secret"
SVC_DN, SVC_PW = "cn=hushgate,dc=test", "svc-secret-Kq7"
STAFF = "cn=staff,ou=groups,dc=test"
LAB = "cn=lab,ou=groups,dc=test"
POSIX = "cn=posixstaff,ou=groups,dc=test"

# The users file (tests/integration/cases/groups.yaml has the same):
# alice / pw-alice, bob / pw-bob.
USERS = (
    "alice:$y$j9T$IBsnEK8d/UGelYHsAed8g/$6IjR1w/EPjEt5DUvuUs2RVhHAjd0mSHMD"
    "dLrcaIlQI.\n"
    "bob:$y$j9T$Vm01lIsxGaO5M5lj8xj1L/$PFtkgblM0mlazE34DmkHV4YuNLpXKxJd104"
    "L57Qaqz0\n")
CREDS = {"alice": b"Proxy-Authorization: Basic YWxpY2U6cHctYWxpY2U=\r\n",
         "bob": b"Proxy-Authorization: Basic Ym9iOnB3LWJvYg==\r\n"}

SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
{tls}modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
database mdb
maxsize 10485760
suffix "dc=test"
rootdn "{root_dn}"
rootpw {root_pw}
directory {dir}/db
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="{svc_dn}" read by * none
overlay memberof
"""

# groupOfNames needs a member: cn=nobody stands in for an empty group.
LDIF = """\
dn: dc=test
objectClass: dcObject
objectClass: organization
o: test
dc: test

dn: {svc_dn}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: hushgate
userPassword: {svc_pw}

dn: ou=people,dc=test
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=test
objectClass: organizationalUnit
ou: groups

dn: uid=alice,ou=people,dc=test
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: A

dn: uid=bob,ou=people,dc=test
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: B

dn: {staff}
objectClass: groupOfNames
cn: staff
member: cn=nobody,dc=test
member: uid=alice,ou=people,dc=test

dn: {lab}
objectClass: groupOfNames
cn: lab
member: cn=nobody,dc=test
member: uid=bob,ou=people,dc=test

dn: {posix}
objectClass: posixGroup
cn: posixstaff
gidNumber: 5000
memberUid: alice
"""


def user_dn(uid):
    return "uid=%s,ou=people,dc=test" % uid


class Slapd:
    """A slapd of the test's own on 127.0.0.1, a port chosen at run time,
    its database in dir; loaded with the users and groups above."""

    def __init__(self, d, tls=None):
        self.dir = Path(d)
        (self.dir / "db").mkdir(parents=True)
        self.port = free_port()
        self.url = "ldap://127.0.0.1:%d" % self.port
        self.listen = self.url + "/"
        tls_conf = ""
        if tls is not None:
            # also ldaps:// on a port of its own, and StartTLS on ldap://
            self.tls_url = "ldaps://127.0.0.1:%d" % free_port()
            self.listen += " " + self.tls_url + "/"
            tls_conf = ("TLSCACertificateFile %s\nTLSCertificateFile %s\n"
                        "TLSCertificateKeyFile %s\n" % (
                            tls["ca"], tls["cert"], tls["key"]))
        self.conf = self.dir / "slapd.conf"
        self.conf.write_text(SLAPD_CONF.format(
            dir=self.dir, root_dn=ROOT_DN, root_pw=ROOT_PW, svc_dn=SVC_DN,
            tls=tls_conf))
        self.bin = shutil.which("slapd") or "/usr/sbin/slapd"
        if not os.path.exists(self.bin):
            pytest.fail("slapd is not installed (Debian package slapd)")
        self.proc = None
        self.paused = False
        self.start()
        c = self.admin()
        for block in LDIF.format(svc_dn=SVC_DN, svc_pw=SVC_PW, staff=STAFF,
                                 lab=LAB, posix=POSIX).split("\n\n"):
            lines = [l.split(": ", 1) for l in block.strip().splitlines()]
            dn = lines[0][1]
            attrs = {}
            for k, v in lines[1:]:
                attrs.setdefault(k, []).append(v.encode())
            c.add_s(dn, list(attrs.items()))
        c.unbind_s()

    def start(self):
        self.log = open(self.dir / "slapd.log", "ab")
        self.proc = subprocess.Popen(
            [self.bin, "-d", "0", "-f", str(self.conf), "-h",
             self.listen], stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT)
        wait_until(self._answers, "slapd to answer on %s" % self.url)

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError("slapd exited (%s): %s" % (
                self.proc.returncode,
                (self.dir / "slapd.log").read_text(errors="replace")))
        try:
            self.admin().unbind_s()
            return True
        except ldap.SERVER_DOWN:
            return False

    def admin(self):
        c = ldap.initialize(self.url)
        c.set_option(ldap.OPT_NETWORK_TIMEOUT, 2)
        c.set_option(ldap.OPT_TIMEOUT, 5)
        c.simple_bind_s(ROOT_DN, ROOT_PW)
        return c

    def modify(self, dn, op, attr, value):
        c = self.admin()
        try:
            c.modify_s(dn, [(op, attr, [value.encode()])])
        finally:
            c.unbind_s()

    def add_member(self, group, uid):
        self.modify(group, ldap.MOD_ADD, "member", user_dn(uid))

    def remove_member(self, group, uid):
        self.modify(group, ldap.MOD_DELETE, "member", user_dn(uid))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            if self.paused:
                self.resume()
            self.proc.terminate()
            self.proc.wait(TIMEOUT)
        self.proc = None
        self.log.close()

    def pause(self):
        """SIGSTOP: connections are still accepted (by the kernel), but
        nothing is answered."""
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)
        self.paused = False


@pytest.fixture
def slapd(tmp_path):
    s = Slapd(tmp_path / "slapd")
    yield s
    s.stop()


@pytest.fixture
def files(tmp_path):
    """The users file, and the bind password in a file of its own."""
    users = tmp_path / "users"
    users.write_text(USERS)
    pw = tmp_path / "ldap.secret"
    pw.write_text(SVC_PW + "\n")
    pw.chmod(0o600)
    return users, pw


def config(slapd, files, echo_port, ldap_extra=None, clients=None):
    users, pw = files
    cfg = {
        "auth": {"basic": {"users_file": str(users)},
                 "allow_plaintext_auth": True},
        "ldap": {"url": slapd.url, "bind_dn": SVC_DN,
                 "bind_password_file": str(pw), "base": "ou=people,dc=test",
                 "ttl": "300s", "timeout": "2s"},
        "clients": clients or ["127.0.0.0/8",
                               {"name": "staff", "ldap_group": STAFF}],
        "connect_ports": [echo_port],
        # work.test: denied by default, allowed for staff
        "categories": {"work": {"action": "deny",
                                "actions": {"staff": "allow"},
                                "hosts": ["work.test"]}},
    }
    cfg["ldap"].update(ldap_extra or {})
    return cfg


def start(proxy, slapd, files, echo_server, **kw):
    p = proxy(config(slapd, files, echo_server.port, **kw),
              hosts=["work.test"])
    p.target = "work.test:%d" % echo_server.port
    return p


def tunnel(p, user):
    """The status of a tunnel to work.test as user; a 200 echoes."""
    with Tunnel(p.port, p.target, extra=CREDS[user]) as t:
        if t.status == 200:
            t.echo(b"ping")
        return t.status


def metrics(p):
    body = raw_request(p.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                       b"\r\n").body.decode()
    out = {}
    for m in re.finditer(r"^(hushgate_ldap_\w+)(\{result=\"(\w+)\"\})? "
                         r"(\d+)$", body, re.M):
        out[m.group(1) + ("." + m.group(3) if m.group(3) else "")] = \
            int(m.group(4))
    assert "hushgate_ldap_up" in out, body
    return out


def lookups(p):
    return metrics(p)["hushgate_ldap_lookups_total.ok"]


def count_lines(p, pattern):
    return len(re.findall(pattern, p.stderr_text(), re.M))


def test_build_has_ldap():
    cp = run_hushgate(["--version"])
    assert "Kerberos single sign-on: yes" in cp.stdout, cp.stdout
    assert "Directory groups (LDAP): yes" in cp.stdout, \
        "this build has no directory groups (configure without libldap?)"


def test_member_of_group_gets_its_policy(proxy, slapd, files, echo_server):
    """1. alice, in the directory group staff, gets staff's policy; bob,
    not in it, the default."""
    p = start(proxy, slapd, files, echo_server)
    assert tunnel(p, "alice") == 200
    assert tunnel(p, "bob") == 403
    rec = p.wait_log(lambda r: r["user"] == "alice", "alice's tunnel")[0]
    assert rec["group"] == "staff" and rec["action"] == "allow"
    rec = p.wait_log(lambda r: r["user"] == "bob", "bob's tunnel")[0]
    assert rec["group"] is None and rec["action"] == "deny"
    m = metrics(p)
    assert m["hushgate_ldap_up"] == 1
    assert m["hushgate_ldap_lookups_total.ok"] == 2
    assert m["hushgate_ldap_lookups_total.failed"] == 0


def test_added_member_after_ttl(proxy, slapd, files, echo_server):
    """2. bob added to staff: his decision changes once his membership is
    ldap.ttl old, not before; within it no question is asked."""
    ttl = 4
    p = start(proxy, slapd, files, echo_server,
              ldap_extra={"ttl": "%ds" % ttl})
    t0 = time.monotonic()
    assert tunnel(p, "bob") == 403
    assert lookups(p) == 1
    slapd.add_member(STAFF, "bob")
    for _ in range(5):
        assert tunnel(p, "bob") == 403
    m = metrics(p)
    assert time.monotonic() - t0 < ttl, "too slow to see the cache at work"
    assert m["hushgate_ldap_lookups_total.ok"] == 1
    assert m["hushgate_ldap_cache_hits_total"] >= 5

    wait_until(lambda: tunnel(p, "bob") == 200, "bob in staff",
               timeout=TIMEOUT + ttl)
    assert time.monotonic() - t0 >= ttl
    assert lookups(p) == 2
    rec = p.wait_log(lambda r: r["user"] == "bob" and r["status"] == 200,
                     "bob allowed")[0]
    assert rec["group"] == "staff"


def test_removed_member_after_ttl(proxy, slapd, files, echo_server):
    """3. alice taken out of staff: denied once her membership is
    ldap.ttl old."""
    ttl = 1
    p = start(proxy, slapd, files, echo_server,
              ldap_extra={"ttl": "%ds" % ttl})
    t0 = time.monotonic()
    assert tunnel(p, "alice") == 200
    slapd.remove_member(STAFF, "alice")
    wait_until(lambda: tunnel(p, "alice") == 403, "alice out of staff",
               timeout=TIMEOUT + ttl)
    assert time.monotonic() - t0 >= ttl
    rec = p.wait_log(lambda r: r["user"] == "alice" and r["status"] == 403,
                     "alice denied")[0]
    assert rec["group"] is None


def test_concurrent_requests_share_one_lookup(proxy, slapd, files,
                                              echo_server):
    """Requests for the same user while a lookup runs wait for it: the
    directory is held (SIGSTOP) until three requests wait."""
    p = start(proxy, slapd, files, echo_server,
              ldap_extra={"timeout": "%ds" % int(TIMEOUT)})
    slapd.pause()
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        tunnel(p, "alice"))) for _ in range(3)]
    for t in threads:
        t.start()
    wait_until(lambda: metrics(p)["hushgate_ldap_lookup_waits_total"] == 2,
               "two requests waiting for the first one's lookup")
    m = metrics(p)
    assert m["hushgate_ldap_lookups_in_flight"] == 1
    slapd.resume()
    for t in threads:
        t.join(TIMEOUT)
    assert results == [200, 200, 200]
    assert lookups(p) == 1


def test_directory_down_keeps_then_fails_closed(proxy, slapd, files,
                                                echo_server):
    """4. slapd stopped: alice keeps staff until ldap.ttl after her last
    confirmation, then is in no directory group (denied); said once; and
    back in staff when slapd is back."""
    ttl = 3
    p = start(proxy, slapd, files, echo_server,
              ldap_extra={"ttl": "%ds" % ttl})
    t0 = time.monotonic()
    assert tunnel(p, "alice") == 200
    slapd.stop()
    assert tunnel(p, "alice") == 200
    assert time.monotonic() - t0 < ttl, "too slow to see the kept answer"

    wait_until(lambda: tunnel(p, "alice") == 403, "alice failing closed",
               timeout=TIMEOUT + ttl)
    assert time.monotonic() - t0 >= ttl
    p.wait_stderr(r"ldap: directory unreachable: .*Can't contact LDAP "
                  r"server")
    for _ in range(3):
        assert tunnel(p, "alice") == 403
    m = metrics(p)
    assert m["hushgate_ldap_up"] == 0
    assert m["hushgate_ldap_unreachable_total"] == 1
    assert m["hushgate_ldap_fail_closed_total"] >= 4
    assert m["hushgate_ldap_lookups_total.failed"] >= 1
    rec = p.wait_log(lambda r: r["user"] == "alice" and r["status"] == 403,
                     "alice failing closed")[0]
    assert rec["group"] is None

    slapd.start()
    wait_until(lambda: tunnel(p, "alice") == 200, "alice back in staff",
               timeout=TIMEOUT + 10)
    p.wait_stderr(r"ldap: directory back")
    assert count_lines(p, r"directory unreachable") == 1
    assert count_lines(p, r"directory back") == 1
    assert metrics(p)["hushgate_ldap_up"] == 1


def test_wrong_bind_password_fails_closed(proxy, slapd, files, echo_server,
                                          tmp_path):
    """5. A bind password the directory refuses: logged (never the
    password), everyone in no directory group; the right one in the file
    and a reload: in staff again."""
    wrong = "Wr0ng-bind-pw-91"
    _, pw = files
    pw.write_text(wrong + "\n")
    p = start(proxy, slapd, files, echo_server)
    assert tunnel(p, "alice") == 403
    p.wait_stderr(r"ldap: directory unreachable: bind as cn=hushgate,"
                  r"dc=test to ldap://127\.0\.0\.1:\d+: Invalid credentials "
                  r"\(49\)")
    assert tunnel(p, "alice") == 403
    assert count_lines(p, r"directory unreachable") == 1
    rec = p.wait_log(lambda r: r["user"] == "alice", "alice denied")[0]
    assert rec["group"] is None
    m = metrics(p)
    assert m["hushgate_ldap_up"] == 0
    assert m["hushgate_ldap_lookups_total.failed"] == 1

    pw.write_text(SVC_PW + "\n")
    ok, _, _ = p.reload()
    assert ok
    wait_until(lambda: tunnel(p, "alice") == 200, "alice in staff after "
               "the reload")
    for text in (p.stderr_text(), p.log_path.read_text()):
        assert wrong not in text and SVC_PW not in text


def test_slow_directory_does_not_block_the_loop(proxy, slapd, files,
                                                echo_server):
    """6. One worker; the directory stopped (SIGSTOP) so that bob's lookup
    hangs until ldap.timeout: meanwhile alice (known) tunnels and echoes
    on the same worker. Then bob fails closed."""
    timeout = 5
    cfg = config(slapd, files, echo_server.port,
                 ldap_extra={"timeout": "%ds" % timeout})
    cfg["workers"] = 1
    p = proxy(cfg, hosts=["work.test"])
    p.target = "work.test:%d" % echo_server.port
    assert tunnel(p, "alice") == 200
    slapd.pause()
    done = {}

    def bob():
        t = time.monotonic()
        done["status"] = tunnel(p, "bob")
        done["took"] = time.monotonic() - t
    th = threading.Thread(target=bob)
    th.start()
    wait_until(lambda: metrics(p)["hushgate_ldap_lookups_in_flight"] == 1,
               "bob's lookup to start")
    t = time.monotonic()
    with Tunnel(p.port, p.target, extra=CREDS["alice"]) as tun:
        assert tun.status == 200
        for i in range(20):
            tun.echo(b"meanwhile %d" % i)
    assert "status" not in done, "bob's answer came before alice's echoes"
    assert time.monotonic() - t < timeout
    th.join(TIMEOUT + timeout)
    assert done["status"] == 403
    assert done["took"] >= timeout - 1
    p.wait_stderr(r"ldap: directory unreachable: .*Timed out")
    slapd.resume()


def test_memberuid_of_posix_group(proxy, slapd, files, echo_server):
    """membership: memberuid -- a posixGroup's memberUid names users (no
    user entry is searched)."""
    clients = ["127.0.0.0/8", {"name": "staff", "ldap_group": POSIX}]
    p = proxy(config(slapd, files, echo_server.port,
                     ldap_extra={"membership": "memberuid"},
                     clients=clients), hosts=["work.test"])
    p.target = "work.test:%d" % echo_server.port
    assert tunnel(p, "alice") == 200
    assert tunnel(p, "bob") == 403


def test_memberof_and_users_and_networks(proxy, slapd, files, echo_server):
    """membership: memberof (the user's memberOf, kept by slapd's memberof
    overlay); and ldap_group with users and networks in one entry: the
    networks must hold the client, and the user be named or a member."""
    clients = ["127.0.0.0/8",
               {"name": "staff", "networks": ["127.0.0.2/32"],
                "users": ["bob"], "ldap_group": STAFF},
               {"name": "lab", "ldap_group": LAB}]
    cfg = config(slapd, files, echo_server.port,
                 ldap_extra={"membership": "memberof"}, clients=clients)
    cfg["categories"]["work"]["actions"]["lab"] = "audit"
    p = proxy(cfg, hosts=["work.test"])
    target = "work.test:%d" % echo_server.port

    def status(user, source):
        with Tunnel(p.port, target, source=source, extra=CREDS[user]) as t:
            return t.status

    assert status("alice", "127.0.0.2") == 200     # a member of staff
    assert status("bob", "127.0.0.2") == 200       # named in users
    assert status("alice", "127.0.0.3") == 403     # not staff's network
    assert status("bob", "127.0.0.3") == 200       # lab, from anywhere

    def group_of(user, client):
        rec = p.wait_log(lambda r: r["user"] == user and
                         r["client"] == client, "%s from %s" % (user,
                                                                client))[0]
        return rec["group"], rec["action"]
    assert group_of("alice", "127.0.0.2") == ("staff", "allow")
    assert group_of("bob", "127.0.0.2") == ("staff", "allow")
    assert group_of("alice", "127.0.0.3") == (None, "deny")
    assert group_of("bob", "127.0.0.3") == ("lab", "audit")


def test_tls_to_the_directory(proxy, tmp_path, files, echo_server, test_ca):
    """ldaps:// and StartTLS, the directory's certificate checked against
    ldap.ca_file; a certificate that does not check fails closed."""
    s = Slapd(tmp_path / "tls-slapd", tls=test_ca)
    try:
        for extra in ({"url": s.tls_url, "ca_file": test_ca["ca"]},
                      {"starttls": True, "ca_file": test_ca["ca"]}):
            p = start(proxy, s, files, echo_server, ldap_extra=extra)
            assert tunnel(p, "alice") == 200, p.stderr_text()
            assert tunnel(p, "bob") == 403

        # Signed by a CA it was not told of: no bind, no password sent.
        other = tmp_path / "other-ca"
        other.mkdir()
        other_ca = make_test_ca(other)
        p = start(proxy, s, files, echo_server,
                  ldap_extra={"url": s.tls_url, "ca_file": other_ca["ca"]})
        assert tunnel(p, "alice") == 403
        p.wait_stderr(r"ldap: directory unreachable: bind as "
                      r"cn=hushgate,dc=test to ldaps://127\.0\.0\.1:\d+: "
                      r"Can't contact LDAP server")
    finally:
        s.stop()


def check_error(tmp_path, cfg, pattern):
    path = tmp_path / "bad.yaml"
    dump_yaml(cfg, path)
    cp = run_hushgate(["-t", "-c", str(path)])
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert re.search(r"^%s:\d+:\d+: %s" % (re.escape(str(path)), pattern),
                     cp.stderr, re.M), cp.stderr
    return cp.stderr


def test_bad_settings_are_errors_in_place(tmp_path, files):
    """7. ldap_group without ldap:, a bad URL, a password file that cannot
    be read: each a file:line:col error of hushgate -t."""
    users, pw = files
    base = {"ldap": {"url": "ldap://127.0.0.1:1", "base": "dc=test",
                     "bind_dn": SVC_DN, "bind_password_file": str(pw)},
            "clients": ["127.0.0.0/8", {"name": "staff",
                                        "ldap_group": STAFF}]}
    good = tmp_path / "good.yaml"
    dump_yaml(base, good)
    cp = run_hushgate(["-t", "-c", str(good)])
    assert cp.returncode == 0, cp.stderr

    cfg = dict(base)
    del cfg["ldap"]
    check_error(tmp_path, cfg, r"clients\.ldap_group: no ldap: section")

    cfg = dict(base, ldap=dict(base["ldap"], url="http://dc.test"))
    check_error(tmp_path, cfg, r"ldap\.url: 'http://dc\.test': expected "
                r"ldap://")
    cfg = dict(base, ldap=dict(base["ldap"],
                               url=["ldap://a.test", "ldap://b.test/x"]))
    check_error(tmp_path, cfg, r"ldap\.url: 'ldap://b\.test/x'")

    missing = tmp_path / "no-such.secret"
    cfg = dict(base, ldap=dict(base["ldap"], bind_password_file=str(missing)))
    check_error(tmp_path, cfg, r"ldap\.bind_password_file: .*no-such\.secret"
                r": cannot open: No such file or directory")
    cfg = dict(base, ldap=dict(base["ldap"], bind_password_file=str(tmp_path)))
    check_error(tmp_path, cfg, r"ldap\.bind_password_file: .*: cannot read")
    empty = tmp_path / "empty.secret"
    empty.write_text("\n")
    cfg = dict(base, ldap=dict(base["ldap"], bind_password_file=str(empty)))
    check_error(tmp_path, cfg, r"ldap\.bind_password_file: .*: is empty")

    cfg = dict(base, clients=["127.0.0.0/8", {"name": "staff",
                                              "ldap_group": "staff"}])
    check_error(tmp_path, cfg, r"clients\.ldap_group: 'staff' is not a DN")
    cfg = dict(base, ldap=dict(base["ldap"], user_filter="uid=%s"))
    check_error(tmp_path, cfg, r"ldap\.user_filter: 'uid=%s'")
    cfg = dict(base, ldap={"url": "ldap://127.0.0.1:1"})
    check_error(tmp_path, cfg, r"ldap: base is missing")
    cfg = dict(base, ldap=dict(base["ldap"], membership="memberuid",
                               nested=True))
    check_error(tmp_path, cfg, r"ldap\.nested: with membership member or "
                r"memberof only")
    cfg = dict(base, ldap=dict(base["ldap"], membership="groups"))
    check_error(tmp_path, cfg, r"ldap\.membership: expected member, "
                r"memberuid or memberof")
    err = check_error(tmp_path, dict(base, ldap=dict(
        base["ldap"], ttl="0s")), r"ldap\.ttl: '0s' is not a duration")
    assert SVC_PW not in err


def test_readme_examples_check(tmp_path, files):
    """The complete configurations of the README's "Directory groups
    (LDAP)" section pass hushgate -t, with the files they name."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Directory groups (LDAP)\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"^```yaml\n(.*?)^```$", section, re.M | re.S)
    assert len(blocks) == 2, blocks
    # the files fixture wrote users and ldap.secret there
    shutil.copytree(REPO / "rules/sets", tmp_path / "rules/sets")
    tls = tmp_path / "tls"
    tls.mkdir()
    cp = run_hushgate(["certs", "init", "--dir", str(tls), "--name",
                       "proxy.example.org"])
    assert cp.returncode == 0, cp.stderr
    for i, text in enumerate(blocks):
        cfg = tmp_path / ("example%d.yaml" % i)
        cfg.write_text(text)
        cp = run_hushgate(["-t", "-c", str(cfg)], cwd=str(tmp_path))
        assert cp.returncode == 0, (text, cp.stderr)
        assert "configuration OK" in cp.stdout

"""A scratch Kerberos realm on loopback for the Negotiate tests and the
benchmark (tests/bench/negotiate-run): MIT's KDC (krb5kdc) in the
foreground on a port chosen at run time on 127.0.0.1, its database,
configuration, keytabs and credential caches in one directory.

    realm = Realm(directory); realm.start()
    realm.addprinc("alice", "alice-pw"); realm.ktadd(keytab, "HTTP/localhost")
    realm.kinit("alice", "alice-pw", ccache)
    realm.stop()

Clients reach the proxy as `localhost`: curl, like a browser, builds the
service principal from the proxy's host name (HTTP/<proxy host>), and
`localhost` is the one name that resolves to 127.0.0.1 on any machine
without touching /etc/hosts. krb5.conf turns off DNS canonicalization and
reverse lookups, so the principal is HTTP/localhost@TEST.REALM as
written.
"""

import os
import socket
import subprocess
import time
from pathlib import Path

REALM = "TEST.REALM"
SERVICE = "HTTP/localhost"

KDB5_UTIL = "/usr/sbin/kdb5_util"
KADMIN_LOCAL = "/usr/sbin/kadmin.local"
KRB5KDC = "/usr/sbin/krb5kdc"
KINIT = "/usr/bin/kinit"


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 (the KDC binds both)."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            u.close()
            t.close()
        return port
    raise RuntimeError("no free port for the KDC")


def krb5_conf(port, clockskew=None):
    return """[libdefaults]
    default_realm = %(realm)s
    dns_lookup_realm = false
    dns_lookup_kdc = false
    rdns = false
    dns_canonicalize_hostname = false
    ignore_acceptor_hostname = false
    udp_preference_limit = 1
%(skew)s
[realms]
    %(realm)s = {
        kdc = 127.0.0.1:%(port)d
    }

[domain_realm]
    localhost = %(realm)s
    .test = %(realm)s
""" % {"realm": REALM, "port": port,
       "skew": "    clockskew = %d\n" % clockskew if clockskew else ""}


class Realm:
    """The realm TEST.REALM in directory d (created)."""

    def __init__(self, d):
        self.dir = Path(d)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.conf = self.dir / "krb5.conf"
        self.kdc_conf = self.dir / "kdc.conf"
        self.conf.write_text(krb5_conf(self.port))
        self.kdc_conf.write_text("""[kdcdefaults]
    kdc_ports = %(port)d
    kdc_tcp_ports = %(port)d

[realms]
    %(realm)s = {
        kdc_listen = 127.0.0.1:%(port)d
        kdc_tcp_listen = 127.0.0.1:%(port)d
        database_name = %(dir)s/principal
        key_stash_file = %(dir)s/stash
        acl_file = %(dir)s/kadm5.acl
        max_life = 10h
        max_renewable_life = 0
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }

[logging]
    kdc = FILE:%(dir)s/kdc.log
    admin_server = FILE:%(dir)s/kadmin.log
    default = FILE:%(dir)s/krb5lib.log
""" % {"port": self.port, "realm": REALM, "dir": self.dir})
        (self.dir / "kadm5.acl").write_text("")
        self.proc = None

    def env(self, ccache=None, conf=None):
        """The environment of a Kerberos program of this realm."""
        env = dict(os.environ, KRB5_CONFIG=str(conf or self.conf),
                   KRB5_KDC_PROFILE=str(self.kdc_conf),
                   KRB5CCNAME="FILE:%s" % (ccache or self.dir / "ccache"))
        env.pop("KRB5_KTNAME", None)
        return env

    def run(self, argv, input=None, ccache=None, check=True):
        cp = subprocess.run(argv, input=input, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=self.env(ccache),
                            timeout=60)
        if check and cp.returncode != 0:
            raise RuntimeError("%s: exit %d: %s %s" % (
                " ".join(argv), cp.returncode, cp.stdout.decode(),
                cp.stderr.decode()))
        return cp

    def kadmin(self, query):
        return self.run([KADMIN_LOCAL, "-r", REALM, "-q", query])

    def start(self):
        self.run([KDB5_UTIL, "create", "-s", "-P", "master-pass", "-r",
                  REALM])
        self.proc = subprocess.Popen([KRB5KDC, "-n", "-r", REALM],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE,
                                     env=self.env())
        self.addprinc("probe", "probe-pw")
        # Poll until the KDC answers a real request.
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("krb5kdc exited %d: %s" % (
                    self.proc.returncode, self.proc.stderr.read().decode()))
            cp = self.run([KINIT, "probe"], input=b"probe-pw\n",
                          ccache=self.dir / "probe.cc", check=False)
            if cp.returncode == 0:
                return self
            if time.monotonic() > deadline:
                raise RuntimeError("the KDC does not answer: %s" %
                                   cp.stderr.decode())
            time.sleep(0.05)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.proc.stderr.close()
        self.proc = None

    def addprinc(self, name, password=None, maxlife=None):
        opts = ("-pw %s" % password) if password else "-randkey"
        if maxlife:
            opts += " -maxlife \"%s\"" % maxlife
        self.kadmin("addprinc %s %s" % (opts, name))

    def ktadd(self, keytab, *names):
        """Add the current keys of names to keytab (a new key version:
        ktadd changes the keys; -norandkey keeps them)."""
        self.kadmin("ktadd -k %s -norandkey %s" % (keytab, " ".join(names)))

    def kinit(self, name, password, ccache, lifetime=None):
        argv = [KINIT]
        if lifetime:
            argv += ["-l", lifetime]
        self.run(argv + [name], input=(password + "\n").encode(),
                 ccache=ccache)
        return ccache

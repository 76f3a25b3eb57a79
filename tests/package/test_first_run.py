"""The README's first command, as a newcomer runs it: scripts/run in a
fresh copy of the tree, on a machine where only what scripts/deps build
installs is visible to configure (no cmocka, nothing else the tests need).
The proxy it starts must relay a CONNECT to a local TLS origin and deny a
telemetry host of the shipped default rules."""

import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import yaml

import helpers
from helpers import Tunnel, write_hosts

# Building from nothing takes a while on a small machine: this bounds the
# wait for the "listening" line, it is not a speed target.
BUILD_TIMEOUT = 900

# A host the shipped balanced profile denies (Windows Error Reporting).
TELEMETRY = "watson.events.data.microsoft.com"


class Run:
    """scripts/run in the background; its stderr read line by line."""

    def __init__(self, top, args, env):
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            [str(top / "scripts" / "run")] + args, cwd=str(top), env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip())
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)
            self.cond.notify_all()

    def wait_line(self, pattern, timeout):
        rx = re.compile(pattern)
        with self.cond:
            def seen():
                return any(l is None or rx.search(l) for l in self.lines)
            assert self.cond.wait_for(seen, timeout), \
                "no line matching %r in %ss:\n%s" % (
                    pattern, timeout, "\n".join(self.lines[-40:]))
            for l in self.lines:
                if l is None:
                    raise AssertionError(
                        "scripts/run ended (rc=%s) before %r:\n%s" % (
                            self.proc.wait(), pattern,
                            "\n".join(x for x in self.lines[-60:] if x)))
                m = rx.search(l)
                if m:
                    return m

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(helpers.TIMEOUT * 3)


def test_scripts_run_without_test_dependencies(scratch_clone,
                                               build_only_pkgconfig,
                                               tls_origin, test_ca,
                                               tmp_path):
    top = scratch_clone
    env = dict(helpers.clean_env(), PKG_CONFIG_LIBDIR=str(build_only_pkgconfig))
    # The shipped configuration, as scripts/run uses it, with what a test
    # must change: a port chosen at run time, names from a test hosts file
    # only, the decision log in a file, the origin's port allowed.
    cfg = yaml.safe_load((top / "hushgate.yaml").read_text())
    assert cfg["include"] == ["rules/sets/balanced.yaml"], cfg
    hosts = write_hosts(tmp_path / "hosts", ["origin.test", TELEMETRY])
    log = tmp_path / "decisions.log"
    cfg.update({"listen": ["127.0.0.1:0"],
                "connect_ports": [443, tls_origin.port],
                "dns": {"servers": [], "hosts_file": str(hosts)},
                "log": {"decisions": str(log), "level": "info"}})
    (top / "test.yaml").write_text(yaml.safe_dump(cfg))

    run = Run(top, ["-c", "test.yaml"], env)
    try:
        run.wait_line(r"^hushgate: starting with ", BUILD_TIMEOUT)
        port = int(run.wait_line(
            r"^hushgate: listening on 127\.0\.0\.1:(\d+)$",
            helpers.TIMEOUT).group(1))

        # The build the newcomer got has no unit test binary, and
        # configure really did not see cmocka.
        rel = top / "build" / "release"
        assert (rel / "hushgate").is_file()
        assert not (rel / "tests" / "unit" / "hg_unit").exists()
        assert re.search(r"^HAVE_CMOCKA_TRUE='#'$",
                         (rel / "config.log").read_text(), re.M)
        # Nor MIT Kerberos' GSS-API: auth.negotiate is refused, in its
        # place, rather than ignored.
        nego = top / "nego.yaml"
        nego.write_text("listen: 127.0.0.1:0\nauth:\n"
                        "  negotiate: {keytab: /etc/krb5.keytab}\n")
        cp = subprocess.run([str(rel / "hushgate"), "-t", "-c", str(nego)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, timeout=helpers.TIMEOUT)
        assert cp.returncode != 0
        assert re.search(r"nego\.yaml:3:3: auth\.negotiate: .*not "
                         r"supported in this build", cp.stderr), cp.stderr

        # Nor libldap (optional): directory groups are refused where they
        # are written, and --version says so.
        hg = rel / "hushgate"
        cp = subprocess.run([str(hg), "--version"], stdout=subprocess.PIPE,
                            text=True)
        assert "Directory groups (LDAP): no" in cp.stdout, cp.stdout
        assert "Kerberos single sign-on: no" in cp.stdout, cp.stdout
        bad = tmp_path / "ldap.yaml"
        bad.write_text("clients: [{name: staff, ldap_group: cn=staff}]\n"
                       "ldap: {url: ldap://127.0.0.1, base: dc=test}\n")
        cp = subprocess.run([str(hg), "-t", "-c", str(bad)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
        assert cp.returncode == 1, cp.stderr
        for where in ("1:25: clients.ldap_group", "2:1: ldap"):
            assert "%s:%s: not supported in this build" % (bad, where) in \
                cp.stderr, cp.stderr

        # One tunnel to the local TLS origin, with a real handshake.
        with Tunnel(port, "origin.test:%d" % tls_origin.port) as t:
            assert t.status == 200, t.resp
            ctx = ssl.create_default_context(cafile=test_ca["ca"])
            tls = ctx.wrap_socket(t.sock, server_hostname="origin.test")
            tls.sendall(b"through the proxy")
            got = b""
            while len(got) < 17:
                chunk = tls.recv(64)
                assert chunk, "tunnel closed early"
                got += chunk
            assert got == b"through the proxy"
            tls.close()		# owns the socket since wrap_socket

        # One shipped telemetry host, denied by the shipped rules.
        with Tunnel(port, TELEMETRY + ":443") as t:
            assert t.status == 403, t.resp
            assert t.resp.headers.get("x-hushgate-category") == \
                "windows-error-reporting", t.resp.headers

        # Both decisions are logged once the tunnel has been closed.
        def records():
            if not log.exists():
                return None
            recs = [json.loads(l) for l in log.read_text().splitlines()]
            return recs if len(recs) >= 2 else None
        recs = helpers.wait_until(records, "two decision records")
    finally:
        rc = run.stop()
    assert rc == 0, "\n".join(l for l in run.lines if l)
    assert not helpers.sanitizer_lines([l for l in run.lines if l])
    got = [(r["host"], r["action"], r["end"]) for r in recs]
    assert ("origin.test", "allow", "client_closed") in got or \
        ("origin.test", "allow", "upstream_closed") in got, got
    assert (TELEMETRY, "deny", "denied") in got, got


def test_scripts_build_after_run_reconfigures(scratch_clone,
                                              build_only_pkgconfig):
    # scripts/run first (no cmocka), then the test dependencies arrive:
    # the next build (scripts/test's) configures again and builds the unit
    # tests instead of reusing the tree configured without them.
    top = scratch_clone
    hidden = dict(helpers.clean_env(),
                  PKG_CONFIG_LIBDIR=str(build_only_pkgconfig))
    cp = subprocess.run([str(top / "scripts" / "build"), "release"],
                        cwd=str(top), env=hidden, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True,
                        timeout=BUILD_TIMEOUT)
    assert cp.returncode == 0, cp.stderr
    unit = top / "build" / "release" / "tests" / "unit" / "hg_unit"
    assert not unit.exists()
    cp = subprocess.run([str(top / "scripts" / "build"), "release"],
                        cwd=str(top), env=helpers.clean_env(),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True, timeout=BUILD_TIMEOUT)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.strip() == str(top / "build" / "release" / "hushgate")
    assert unit.is_file(), "the unit tests were not built"
    run = subprocess.run([str(unit)], cwd=str(top), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True,
                         timeout=BUILD_TIMEOUT)
    assert run.returncode == 0, run.stdout[-3000:]


"""The shipped gateway example (hushgate-gateway.yaml), end to end: it
passes `hushgate -t` once its certificates and users exist, and run on
loopback it asks for credentials over its TLS listener, lets a good
request through with the SNI it names, refuses an inner address with the
destination guard, serves metrics and logs Squid-format lines."""

import base64
import grp
import os
import re
import stat
import shutil
import ssl
from pathlib import Path

import yaml

from helpers import read_response, run_hushgate, wait_until
from test_log_formats import SQUID, lines
from test_tls_listener import certs_init, inner_tls, tls_client, tls_connect

TOP = Path(__file__).resolve().parents[2]


def example(tmp_path):
    """The example with its files made here: certificates, one user."""
    d = tmp_path / "gw"
    d.mkdir()
    shutil.copy(TOP / "hushgate-gateway.yaml", d)
    shutil.copytree(TOP / "rules/sets", d / "rules/sets")
    certs = certs_init(d / "tls", "--name", "proxy.example.org", "--ip",
                       "127.0.0.1")
    cp = run_hushgate(["users", "add", "alice", "--users-file",
                       str(d / "users")], input=b"s3cret\n")
    assert cp.returncode == 0, cp.stderr
    return d, certs


def test_example_passes_check(tmp_path):
    d, _ = example(tmp_path)
    cp = run_hushgate(["-t", "-c", str(d / "hushgate-gateway.yaml")])
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "configuration OK" in cp.stdout


def test_missing_users_file_names_its_place(tmp_path):
    """Without its users file, -t fails at the users_file value of the
    example (file:line:col), not at the users file alone."""
    d, _ = example(tmp_path)
    (d / "users").unlink()
    text = (d / "hushgate-gateway.yaml").read_text().splitlines()
    at = [(i + 1, l.index("users_file: ") + len("users_file: ") + 1)
          for i, l in enumerate(text) if "users_file: " in l
          and not l.lstrip().startswith("#")]
    assert len(at) == 1, at
    cp = run_hushgate(["-t", "-c", str(d / "hushgate-gateway.yaml")])
    assert cp.returncode == 1, cp.stdout + cp.stderr
    want = "%s:%d:%d: " % (d / "hushgate-gateway.yaml", at[0][0], at[0][1])
    hits = [l for l in cp.stderr.splitlines() if l.startswith(want)]
    assert hits and "cannot open" in hits[0] and \
        str(d / "users") in hits[0], cp.stderr


def test_example_on_loopback(proxy, tmp_path, tls_echo, test_ca):
    d, certs = example(tmp_path)
    cfg = yaml.safe_load((d / "hushgate-gateway.yaml").read_text())
    # the same configuration, on loopback with ports chosen now
    for entry in cfg["listen"]:
        entry["address"] = "127.0.0.1:0"
        entry["tls"] = {"cert": certs["cert"], "key": certs["key"]}
    cfg["listen"] = cfg["listen"][:1]
    cfg["clients"][0]["networks"] = ["127.0.0.0/8"]
    cfg["auth"]["basic"]["users_file"] = str(d / "users")
    cfg["destinations"]["allow"] = ["127.0.0.1/32"]
    cfg["connect_ports"] = [tls_echo.port]
    cfg["tls_ports"] = [tls_echo.port]
    cfg["include"] = [str(d / "rules/sets/balanced.yaml")]
    cfg["log"]["decisions"] = "access.log"
    cfg["metrics"]["listen"] = ["127.0.0.1:0"]
    # the control socket next to the configuration, in the group of the
    # tests
    assert cfg["control"]["socket"] == "/run/hushgate/control.sock"
    cfg["control"]["socket"] = "control.sock"
    cfg["control"]["group"] = grp.getgrgid(os.getgid()).gr_name
    del cfg["dns"]
    p = proxy(cfg, hosts={"echo.test": "127.0.0.1",
                          "inner.test": "127.0.0.2"})
    target = "echo.test:%d" % tls_echo.port
    # no credentials: 407 over the TLS listener
    s, r = tls_connect(p.port, certs["ca"], target)
    with s:
        assert r.status == 407
        assert 'Basic realm="Egress proxy"' in \
            r.headers["proxy-authenticate"]
    cred = base64.b64encode(b"alice:s3cret").decode()
    auth = "Proxy-Authorization: Basic %s\r\n" % cred
    s, r = tls_connect(p.port, certs["ca"], target, extra=auth)
    with s:
        assert r.status == 200
        ctx = ssl.create_default_context(cafile=test_ca["ca"])
        assert inner_tls(s, ctx, "echo.test") == b"ping inside"
    # an inner address: refused by the guard
    s, r = tls_connect(p.port, certs["ca"], "inner.test:%d" % tls_echo.port,
                       extra=auth)
    with s:
        assert r.status == 403
    got = wait_until(lambda: (lambda l: l if len(l) >= 3 else None)(
        lines(p.dir / "access.log")), "three access.log lines")
    fields = [SQUID.match(l) for l in got]
    assert all(fields), got
    ok = [m for m in fields if m.group(6) == "200"][0]
    assert ok.group(5) == "TCP_TUNNEL" and ok.group(10) == "alice"
    assert any(m.group(6) == "407" for m in fields)
    assert any(m.group(6) == "403" and m.group(9).startswith("inner.test")
               for m in fields)
    # metrics, for the monitoring address (loopback here), over TLS too
    s = tls_client(p.port, certs["ca"])
    with s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        m = read_response(s)
    assert m.status == 200
    assert re.search(rb'^hushgate_requests_by_end_total\{end="auth_required"'
                     rb'\} [1-9]', m.body, re.M), m.body[:300]
    # the control socket, with the example's mode
    sock = p.dir / "control.sock"
    assert stat.S_IMODE(os.lstat(sock).st_mode) == 0o660
    cp = run_hushgate(["ctl", "-s", str(sock), "status"])
    assert cp.returncode == 0, cp.stderr
    assert "generation: 1\n" in cp.stdout

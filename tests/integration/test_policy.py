"""Policy decisions observed live: shipped telemetry host denied, allow,
audit, default, connect_ports, clients, precedence of rule forms, port
restrictions, IP literals."""

import datetime
import os
import socket

import pytest

from helpers import (END_CODES, LOG_FIELDS, REPO, TIMEOUT, TS_RE, TCPServer,
                     Tunnel, connect_status, has_ipv6_loopback, node_line,
                     read_head, read_to_eof, recv_exact, rule_matches)
from rulemodel import Ruleset

WATSON = "watson.events.data.microsoft.com"
BALANCED = REPO / "rules" / "sets" / "balanced.yaml"


def _utcnow_ms():
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _check_record_shape(rec):
    missing = [f for f in LOG_FIELDS if f not in rec]
    assert not missing, "log record lacks %s: %r" % (missing, rec)
    assert TS_RE.match(rec["ts"]), rec["ts"]
    assert rec["end"] in END_CODES, rec["end"]
    assert isinstance(rec["duration_ms"], int) and rec["duration_ms"] >= 0
    for f in ("port", "status", "bytes_up", "bytes_down"):
        assert isinstance(rec[f], int) and not isinstance(rec[f], bool), f


def test_shipped_telemetry_host_denied(proxy):
    assert BALANCED.is_file(), "the balanced profile is not shipped"
    action, category, rule = Ruleset(BALANCED).match(WATSON, 443)
    assert action == "deny" and rule is not None, (
        "the balanced profile does not deny %s (model: %s %s)"
        % (WATSON, action, category))
    p = proxy({"include": [str(BALANCED)], "connect_ports": [443]},
              hosts=[])
    t0 = _utcnow_ms()
    with Tunnel(p.port, "%s:443" % WATSON) as t:
        resp = t.resp
    assert resp.status == 403
    assert resp.status_line.startswith("HTTP/1.1 403 Forbidden")
    assert resp.headers.get("x-hushgate-category") == category
    assert resp.headers.get("content-type", "").startswith("text/plain")
    body = resp.body.decode("utf-8", "replace")
    assert WATSON in body and category in body
    assert "%s:%d" % (os.path.basename(rule.path), rule.line) in body, body

    rec = p.wait_log(lambda r: r.get("host") == WATSON, "watson record")[0]
    t1 = _utcnow_ms()
    _check_record_shape(rec)
    ts = datetime.datetime.strptime(rec["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert t0 <= ts <= t1, (t0, rec["ts"], t1)
    expected = {
        "client": "127.0.0.1", "user": None, "method": "CONNECT",
        "host": WATSON, "port": 443, "sni": None, "action": "deny",
        "category": category, "status": 403, "upstream": None,
        "bytes_up": 0, "bytes_down": 0, "end": "denied",
    }
    wrong = {k: (rec[k], v) for k, v in expected.items() if rec[k] != v}
    assert not wrong, "fields (logged, expected): %r" % wrong
    assert rule_matches(rec["rule"], rule.path, rule.line), (
        rec["rule"], rule.path, rule.line)


def test_allowed_host_logged_with_upstream_and_bytes(proxy, echo_server):
    p = proxy({"connect_ports": [echo_server.port],
               "categories": {"fine": {"action": "allow",
                                       "hosts": ["fine.test"]}}},
              hosts=["fine.test"])
    up = b"u" * 12345
    with Tunnel(p.port, "fine.test:%d" % echo_server.port) as t:
        assert t.status == 200
        assert t.resp.status_line.startswith(
            "HTTP/1.1 200 Connection established")
        t.echo(up)
        t.echo(b"x" * 55)
    rec = p.wait_log(lambda r: r["host"] == "fine.test", "allowed record")[0]
    _check_record_shape(rec)
    assert rec["action"] == "allow"
    assert rec["category"] == "fine"
    assert rule_matches(rec["rule"], p.config_path,
                        node_line(p.config_path, "categories", "fine",
                                  "hosts", "fine.test"))
    assert rec["status"] == 200
    assert rec["upstream"] == "127.0.0.1:%d" % echo_server.port
    assert rec["bytes_up"] == 12345 + 55
    assert rec["bytes_down"] == 12345 + 55
    assert rec["client"] == "127.0.0.1"
    assert rec["port"] == echo_server.port
    assert rec["end"] == "client_closed"


def test_audit_category_allows_and_logs_audit(proxy, echo_server):
    p = proxy({"connect_ports": [echo_server.port],
               "categories": {"watched": {"action": "audit",
                                          "hosts": [".audit.test"]}}},
              hosts=["x.audit.test"])
    with Tunnel(p.port, "x.audit.test:%d" % echo_server.port) as t:
        assert t.status == 200
        t.echo(b"audited bytes")
    rec = p.wait_log(lambda r: r["host"] == "x.audit.test", "audit")[0]
    assert rec["action"] == "audit"
    assert rec["category"] == "watched"
    assert rec["status"] == 200
    assert rec["bytes_up"] == len(b"audited bytes")


def test_actions_override_category_action(proxy, echo_server):
    p = proxy({"connect_ports": [echo_server.port],
               "categories": {"flip": {"action": "allow",
                                       "hosts": ["flip.test"]}},
               "actions": {"flip": "deny"}},
              hosts=["flip.test"])
    with Tunnel(p.port, "flip.test:%d" % echo_server.port) as t:
        assert t.status == 403
        assert t.resp.headers.get("x-hushgate-category") == "flip"


def test_default_deny(proxy, echo_server):
    p = proxy({"connect_ports": [echo_server.port], "default": "deny",
               "categories": {"ok": {"action": "allow",
                                     "hosts": ["ok.test"]}}},
              hosts=["ok.test", "nothing.test"])
    assert connect_status(p.port, "ok.test:%d" % echo_server.port) == 200
    with Tunnel(p.port, "nothing.test:%d" % echo_server.port) as t:
        assert t.status == 403
        assert t.resp.headers.get("x-hushgate-category") == "default"
        assert b"nothing.test" in t.resp.body
    rec = p.wait_log(lambda r: r["host"] == "nothing.test", "default")[0]
    _check_record_shape(rec)
    assert rec["action"] == "deny"
    assert rec["status"] == 403
    assert rec["end"] == "denied"
    assert rec["category"] in (None, "default")
    assert rec["upstream"] is None


def test_port_not_in_connect_ports(proxy, echo_server, fresh_echo):
    p1, p2 = echo_server.port, fresh_echo.port
    p = proxy({"connect_ports": [p1]}, hosts=["echo.test"])
    assert connect_status(p.port, "echo.test:%d" % p1) == 200
    with Tunnel(p.port, "echo.test:%d" % p2) as t:
        assert t.status == 403
        assert b"port" in t.resp.body.lower()
    rec = p.wait_log(lambda r: r["port"] == p2, "port_denied record")[0]
    _check_record_shape(rec)
    assert rec["end"] == "port_denied"
    assert rec["status"] == 403
    assert rec["action"] == "deny"
    assert fresh_echo.accepted == 0, "upstream contacted"


def test_connect_ports_range_string(proxy, echo_server, echo_server2):
    p1, p2 = echo_server.port, echo_server2.port
    p = proxy({"connect_ports": ["%d-%d" % (p2, p2)]}, hosts=["echo.test"])
    assert connect_status(p.port, "echo.test:%d" % p2) == 200
    assert connect_status(p.port, "echo.test:%d" % p1) == 403


def test_client_not_in_clients(proxy, echo_server, fresh_echo):
    p = proxy({"connect_ports": [echo_server.port, fresh_echo.port],
               "clients": ["127.0.0.1/32"]}, hosts=["echo.test"])
    target = "echo.test:%d" % echo_server.port
    assert connect_status(p.port, target, source="127.0.0.1") == 200
    target = "echo.test:%d" % fresh_echo.port
    with Tunnel(p.port, target, source="127.0.0.2") as t:
        assert t.status == 403
    rec = p.wait_log(lambda r: r["client"] == "127.0.0.2", "client_denied")[0]
    assert rec["end"] == "client_denied"
    assert rec["status"] == 403
    assert rec["action"] == "deny"
    assert fresh_echo.accepted == 0, \
        "proxy connected upstream for a client it must refuse"


# --- precedence and port restrictions, one proxy, one case per row ---------

# (target host, which echo port, expected status, category of the 403,
#  pattern of the rule that decides it)
PRECEDENCE_CASES = [
    ("a.prec.test", 1, 200, None, None),               # exact beats suffix
    ("A.Prec.TEST.", 1, 200, None, None),              # normalised
    ("prec.test", 1, 403, "suffix-deny", ".prec.test"),  # .x covers x
    ("b.prec.test", 1, 403, "suffix-deny", ".prec.test"),
    ("deep.a.prec.test", 1, 403, "suffix-deny", ".prec.test"),
    ("ok.prec.test", 1, 200, None, None),              # longer suffix wins
    ("x.ok.prec.test", 1, 200, None, None),
    ("only.test", 1, 200, None, None),                 # *.x: not x itself
    ("x.only.test", 1, 403, "subonly-deny", "*.only.test"),
    ("a.b.only.test", 1, 403, "subonly-deny", "*.only.test"),
    ("tie.test", 1, 403, "tie-first", "tie.test"),     # first category wins
    ("sametie.test", 1, 403, "tie-first", ".sametie.test"),
    ("ported.test", 1, 403, "ported", "ported.test:{p1}"),
    ("ported.test", 2, 200, None, None),
    ("multi.test", 1, 403, "ported", "multi.test:[{p1},65000]"),
    ("multi.test", 2, 200, None, None),
    ("portsuf.test", 1, 403, "ported", ".portsuf.test:{p1}"),
    ("x.portsuf.test", 1, 403, "ported", ".portsuf.test:{p1}"),
    ("x.portsuf.test", 2, 200, None, None),
    ("pfall.prec.test", 1, 200, None, None),   # port-restricted exact allow
    ("pfall.prec.test", 2, 403, "suffix-deny", ".prec.test"),  # falls back
    ("a.gs.test", 1, 200, None, None),         # suffix beats earlier glob
    ("a.gx.test", 1, 403, "glob-deny", "a.g*.test"),
    ("zz.vortex7.glob.test", 1, 403, "glob-deny", "*.vortex*.glob.test"),
    ("vortex7.glob.test", 1, 200, None, None),
]


def _precedence_config(p1, p2):
    return {
        "connect_ports": [p1, p2],
        "default": "allow",
        "categories": {
            "glob-deny": {"action": "deny",
                          "hosts": ["a.g*.test", "*.vortex*.glob.test"]},
            "suffix-deny": {"action": "deny", "hosts": [".prec.test"]},
            "exact-allow": {"action": "allow", "hosts": ["a.prec.test"]},
            "deeper-allow": {"action": "allow", "hosts": [".ok.prec.test"]},
            "subonly-deny": {"action": "deny", "hosts": ["*.only.test"]},
            "tie-first": {"action": "deny",
                          "hosts": ["tie.test", ".sametie.test"]},
            "tie-second": {"action": "allow",
                           "hosts": ["tie.test", ".sametie.test"]},
            "ported": {"action": "deny",
                       "hosts": ["ported.test:%d" % p1,
                                 "multi.test:[%d,65000]" % p1,
                                 ".portsuf.test:%d" % p1]},
            "ported-allow": {"action": "allow",
                             "hosts": ["pfall.prec.test:%d" % p1]},
            "suffix-allow-gs": {"action": "allow", "hosts": [".gs.test"]},
        },
    }


@pytest.fixture(scope="module")
def prec_proxy(module_proxy, echo_server, echo_server2):
    names = sorted({c[0].lower().rstrip(".") for c in PRECEDENCE_CASES})
    return module_proxy(_precedence_config(echo_server.port,
                                           echo_server2.port), hosts=names)


@pytest.mark.parametrize(
    "host,which,status,category,pattern", PRECEDENCE_CASES,
    ids=["%s-p%d" % (c[0], c[1]) for c in PRECEDENCE_CASES])
def test_precedence_live(prec_proxy, echo_server, echo_server2, host, which,
                         status, category, pattern):
    port = (echo_server if which == 1 else echo_server2).port
    p = prec_proxy
    with Tunnel(p.port, "%s:%d" % (host, port)) as t:
        assert t.status == status, t.resp
        if status == 200:
            t.echo(b"precedence " + host.encode())
            return
        assert t.resp.headers.get("x-hushgate-category") == category
    pat = pattern.format(p1=echo_server.port)
    line = node_line(p.config_path, "categories", category, "hosts", pat)
    norm = host.lower().rstrip(".")
    recs = p.wait_log(lambda r: r["host"] == norm and r["port"] == port,
                      "record for %s:%d" % (host, port))
    assert recs[-1]["category"] == category
    assert rule_matches(recs[-1]["rule"], p.config_path, line), (
        recs[-1]["rule"], line)


# --- IP literals -------------------------------------------------------------

@pytest.fixture
def echo_on_127_0_0_9():
    s = TCPServer("echo", host="127.0.0.9")
    yield s
    s.close()


def test_cidr_rule_on_ip_literal(proxy, echo_server, echo_on_127_0_0_9):
    p1, p9 = echo_server.port, echo_on_127_0_0_9.port
    p = proxy({"connect_ports": [p1, p9],
               "categories": {"lo-net": {"action": "deny",
                                         "hosts": ["127.0.0.0/30"]},
                              "one-ip": {"action": "audit",
                                         "hosts": ["127.0.0.9"]}}},
              hosts=["echo.test"])
    with Tunnel(p.port, "127.0.0.1:%d" % p1) as t:
        assert t.status == 403
        assert t.resp.headers.get("x-hushgate-category") == "lo-net"
    # A name resolving into the network is not an IP-literal target.
    assert connect_status(p.port, "echo.test:%d" % p1) == 200
    with Tunnel(p.port, "127.0.0.9:%d" % p9) as t:
        assert t.status == 200
        t.echo(b"to 127.0.0.9")
    rec = p.wait_log(lambda r: r["host"] == "127.0.0.9", "ip literal")[0]
    assert rec["action"] == "audit" and rec["category"] == "one-ip"
    assert rec["upstream"] == "127.0.0.9:%d" % p9
    rec = p.wait_log(lambda r: r["host"] == "127.0.0.1", "cidr deny")[0]
    assert rec["category"] == "lo-net" and rec["end"] == "denied"
    assert rule_matches(rec["rule"], p.config_path,
                        node_line(p.config_path, "categories", "lo-net",
                                  "hosts", "127.0.0.0/30"))


if has_ipv6_loopback():
    @pytest.fixture
    def echo_v6():
        s = TCPServer("echo", host="::1")
        yield s
        s.close()

    def test_ipv6_literal_target(proxy, echo_v6):
        p = proxy({"connect_ports": [echo_v6.port]})
        with Tunnel(p.port, "[::1]:%d" % echo_v6.port) as t:
            assert t.status == 200
            t.echo(b"over ipv6")
        rec = p.wait_log(lambda r: r["port"] == echo_v6.port, "v6")[0]
        assert rec["host"] in ("::1", "[::1]")
        assert rec["upstream"] == "[::1]:%d" % echo_v6.port
        assert rec["bytes_up"] == len(b"over ipv6")

    def test_ipv6_cidr_rule(proxy, echo_v6):
        p = proxy({"connect_ports": [echo_v6.port],
                   "categories": {"v6-block": {"action": "deny",
                                               "hosts": ["::1/128"]}}})
        before = echo_v6.accepted
        with Tunnel(p.port, "[::1]:%d" % echo_v6.port) as t:
            assert t.status == 403
            assert t.resp.headers.get("x-hushgate-category") == "v6-block"
        assert echo_v6.accepted == before


def test_denied_connection_is_closed(proxy):
    p = proxy({"default": "deny"})
    with Tunnel(p.port, "closed.test:443") as t:
        assert t.status == 403
        assert t.resp.headers.get("connection", "").lower() == "close"
        assert read_to_eof(t.sock) == b""


def test_decisions_to_stdout(proxy):
    p = proxy({"default": "deny", "log": {"decisions": "-"}})
    assert connect_status(p.port, "stdout.test:443") == 403
    recs = p.wait_log(lambda r: r["host"] == "stdout.test", "stdout record",
                      path=p.dir / "stdout")
    assert recs[0]["end"] == "denied"
    assert not p.log_path.exists()


def test_decisions_off(proxy, echo_server):
    p = proxy({"connect_ports": [echo_server.port], "default": "deny",
               "log": {"decisions": None}})
    assert connect_status(p.port, "off.test:%d" % echo_server.port) == 403
    p.terminate()
    assert not p.log_path.exists()
    assert (p.dir / "stdout").read_bytes() == b""


if has_ipv6_loopback():
    def test_listen_on_ipv4_and_ipv6(proxy, echo_server):
        p = proxy({"connect_ports": [echo_server.port],
                   "listen": ["127.0.0.1:0", "[::1]:0"]},
                  hosts=["echo.test"])
        m = p.wait_stderr(r"^hushgate: listening on \[::1\]:(\d+)$")
        port6 = int(m.group(1))
        assert port6 != 0
        s = socket.create_connection(("::1", port6), timeout=TIMEOUT)
        with s:
            s.sendall(b"CONNECT echo.test:%d HTTP/1.1\r\n\r\n"
                      % echo_server.port)
            head, rest = read_head(s)
            assert head.startswith(b"HTTP/1.1 200"), head
            s.sendall(b"v6 client")
            assert recv_exact(s, 9, rest) == b"v6 client"
        rec = p.wait_log(lambda r: r["client"] == "::1", "v6 client")[0]
        assert rec["status"] == 200


# IPv6 spellings of the host 127.0.0.3 (the table in rules/addrclass.c):
# IPv4-compatible, NAT64 (well-known prefix), SIIT, mapped. (6to4, Teredo
# and the NAT64 local-use prefix name a relay or a network: the guard
# judges them, see test_destinations.py.)
V4_SPELLINGS = ["[::127.0.0.3]", "[64:ff9b::127.0.0.3]",
                "[::ffff:0:7f00:3]", "[::ffff:127.0.0.3]"]


@pytest.mark.parametrize("target", V4_SPELLINGS)
def test_ipv4_rule_denies_its_ipv6_spellings(proxy, target):
    # The default is deny too, so that whatever the outcome nothing is
    # connected to: the rule is what must decide (its category says so).
    p = proxy({"default": "deny",
               "categories": {"lo3": {"action": "deny",
                                      "hosts": ["127.0.0.3/32"]}}})
    with Tunnel(p.port, target + ":443") as t:
        assert t.status == 403
        assert t.resp.headers.get("x-hushgate-category") == "lo3"
    rec = p.wait_log(lambda r: r["port"] == 443, "the denial")[0]
    assert rec["host"] == "127.0.0.3"
    assert rec["category"] == "lo3" and rec["end"] == "denied"
    assert rule_matches(rec["rule"], p.config_path,
                        node_line(p.config_path, "categories", "lo3",
                                  "hosts", "127.0.0.3/32"))

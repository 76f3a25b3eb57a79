"""Policy decisions observed live that need more than a case file: the
shipped profile's telemetry host denied (checked against the rule model),
the decision log on stdout or off, a listener on IPv4 and IPv6.  The
plain request -> decision -> log checks are in cases/policy.yaml and
cases/precedence.yaml."""

import datetime
import os
import socket

from helpers import (END_CODES, LOG_FIELDS, REPO, TIMEOUT, TS_RE, Tunnel,
                     connect_status, has_ipv6_loopback, read_head, recv_exact,
                     rule_matches)
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

"""hushgate explain: output format, agreement with the live proxy for every
host of the shipped rule sets, and a million targets from stdin."""


import pytest
import yaml

from helpers import (REPO, TIMEOUT, Tunnel, dump_yaml, node_line,
                     rule_matches, run_hushgate)
from rulemodel import Ruleset

SETS = REPO / "rules" / "sets"


def _parse(out):
    rows = []
    for line in out.splitlines():
        f = line.split("\t")
        assert len(f) == 4, "explain line has %d fields: %r" % (len(f), line)
        rows.append(f)
    return rows


FORMAT_CFG = {
    "connect_ports": [443, "8000-8100"],
    "default": "deny",
    "categories": {
        "fmt-deny": {"action": "deny", "hosts": ["deny.fmt.test"]},
        "fmt-allow": {"action": "allow", "hosts": [".allow.fmt.test"]},
        "fmt-audit": {"action": "audit", "hosts": ["*.audit.fmt.test"]},
        "fmt-v6": {"action": "deny", "hosts": ["::1/128"]},
        "fmt-v4": {"action": "allow", "hosts": ["192.0.2.0/24"]},
    },
}


@pytest.fixture
def fmt_cfg(tmp_path):
    return dump_yaml(dict(FORMAT_CFG, dns={"servers": [],
                                           "hosts_file": "/dev/null"}),
                     tmp_path / "fmt.yaml")


def _line(cfg, cat, pat):
    return node_line(cfg, "categories", cat, "hosts", pat)


def test_explain_format(hushgate, fmt_cfg):
    cp = run_hushgate(["explain", "-c", str(fmt_cfg), "deny.fmt.test",
                       "x.allow.fmt.test:8080", "a.audit.fmt.test",
                       "other.test", "deny.fmt.test:22", "[::1]:443",
                       "192.0.2.7:8000"])
    assert cp.returncode == 0, cp.stderr
    rows = _parse(cp.stdout)
    assert len(rows) == 7, cp.stdout
    c = str(fmt_cfg)
    exp = [
        ("deny.fmt.test:443", "deny", "fmt-deny",
         _line(c, "fmt-deny", "deny.fmt.test")),
        ("x.allow.fmt.test:8080", "allow", "fmt-allow",
         _line(c, "fmt-allow", ".allow.fmt.test")),
        ("a.audit.fmt.test:443", "audit", "fmt-audit",
         _line(c, "fmt-audit", "*.audit.fmt.test")),
        ("other.test:443", "deny", None, None),
        ("deny.fmt.test:22", "deny", "-", "connect_ports"),
        ("[::1]:443", "deny", "fmt-v6", _line(c, "fmt-v6", "::1/128")),
        ("192.0.2.7:8000", "allow", "fmt-v4",
         _line(c, "fmt-v4", "192.0.2.0/24")),
    ]
    for row, (target, action, cat, rule) in zip(rows, exp):
        assert row[0] == target, row
        assert row[1] == action, row
        if cat is None:                  # global default
            assert row[2] in ("-", "default") and row[3] == "-", row
        elif rule == "connect_ports":
            assert row[2:] == ["-", "connect_ports"], row
        else:
            assert row[2] == cat, row
            assert rule_matches(row[3], c, rule), (row, rule)


def test_explain_normalises_host(hushgate, fmt_cfg):
    cp = run_hushgate(["explain", "-c", str(fmt_cfg), "DENY.Fmt.Test."])
    assert cp.returncode == 0, cp.stderr
    rows = _parse(cp.stdout)
    assert rows[0][:3] == ["deny.fmt.test:443", "deny", "fmt-deny"], rows


def test_explain_invalid_host_exit_1(hushgate, fmt_cfg):
    cp = run_hushgate(["explain", "-c", str(fmt_cfg), "deny.fmt.test",
                       "bad..host", "other.test"])
    assert cp.returncode == 1
    rows = _parse(cp.stdout)
    assert len(rows) == 3, cp.stdout
    assert rows[0][1] == "deny"
    assert rows[1] == ["bad..host", "invalid", "-", "-"]
    assert rows[2][0] == "other.test:443"


def test_explain_stdin(hushgate, fmt_cfg):
    cp = run_hushgate(["explain", "-c", str(fmt_cfg)],
                      input=b"deny.fmt.test\nz.allow.fmt.test:8001\n")
    assert cp.returncode == 0, cp.stderr
    rows = _parse(cp.stdout)
    assert [r[:3] for r in rows] == [
        ["deny.fmt.test:443", "deny", "fmt-deny"],
        ["z.allow.fmt.test:8001", "allow", "fmt-allow"]]


# --- explain agrees with the proxy for every shipped host -------------------

def _profiles():
    out = []
    for p in sorted(SETS.glob("*.yaml")):
        with open(p) as f:
            doc = yaml.safe_load(f) or {}
        if "include" in doc:
            out.append(p)
    return out


def _shipped_rules():
    """Every rule of every shipped set file."""
    seen = {}
    for p in sorted(SETS.glob("*.yaml")):
        with open(p) as f:
            doc = yaml.safe_load(f) or {}
        if "categories" in doc and "include" not in doc:
            for r in Ruleset(p).rules():
                seen.setdefault(r.pattern, r)
    return list(seen.values())


def _sample_hosts():
    hosts = []
    for r in _shipped_rules():
        for h in r.sample_hosts():
            if h not in hosts:
                hosts.append(h)
    return hosts


def _ip_rules():
    return [r for r in _shipped_rules() if r.kind == "ip"]


def _explain_profile(cfg_path, targets):
    cp = run_hushgate(["explain", "-c", str(cfg_path)],
                      input=("\n".join(targets) + "\n").encode())
    assert cp.returncode == 0, cp.stderr
    rows = _parse(cp.stdout)
    assert len(rows) == len(targets), (len(rows), len(targets))
    return rows


@pytest.mark.parametrize("profile", _profiles() or [None],
                         ids=lambda p: p.name if p else "none")
def test_explain_agrees_with_proxy(proxy, echo_server, profile):
    assert profile is not None, "no profiles in rules/sets"
    hosts = _sample_hosts()
    assert len(hosts) > 50, "too few shipped hosts found: %d" % len(hosts)
    port = echo_server.port
    p = proxy({"include": [str(profile)], "connect_ports": [port],
               "default": "allow"}, hosts=hosts)
    targets = ["%s:%d" % (h, port) for h in hosts]
    rows = _explain_profile(p.config_path, targets)
    mismatches = []
    denied = 0
    for target, row in zip(targets, rows):
        assert row[0] == target, (row, target)
        assert row[1] in ("allow", "deny", "audit"), row
        with Tunnel(p.port, target) as t:
            status = t.status
            cat = t.resp.headers.get("x-hushgate-category")
        want = 403 if row[1] == "deny" else 200
        if status != want or (status == 403 and cat != row[2]):
            mismatches.append("%s: explain %s %s, proxy %d %s"
                              % (target, row[1], row[2], status, cat))
        denied += status == 403
    assert not mismatches, "\n".join(mismatches)
    if profile.name != "audit.yaml":
        assert denied > 0, "profile denies none of the shipped hosts"


@pytest.mark.parametrize("profile", _profiles() or [None],
                         ids=lambda p: p.name if p else "none")
def test_explain_matches_rule_files(tmp_path, hushgate, profile):
    """explain's category, rule file:line and action for every shipped host
    are those the rule files say (exact > longest suffix > glob; first
    category wins ties; actions override)."""
    assert profile is not None, "no profiles in rules/sets"
    cfg = dump_yaml({"include": [str(profile)], "connect_ports": [443],
                     "dns": {"servers": [], "hosts_file": "/dev/null"}},
                    tmp_path / "c.yaml")
    model = Ruleset(cfg)
    hosts = _sample_hosts()
    targets = ["%s:443" % h for h in hosts]
    targets += ["%s:443" % r.net.network_address if r.net.version == 4
                else "[%s]:443" % r.net.network_address for r in _ip_rules()]
    rows = _explain_profile(cfg, targets)
    wrong = []
    for target, row in zip(targets, rows):
        host = target.rsplit(":", 1)[0]
        action, cat, rule = model.match(host, 443)
        got = (row[1], row[2])
        want = (action, cat if cat else got[2])
        if got != want or (rule and not rule_matches(row[3], rule.path,
                                                     rule.line)):
            wrong.append("%s: explain %s, rule files say %s %s %s:%s" % (
                target, "\t".join(row[1:]), action, cat,
                rule.path if rule else "-", rule.line if rule else "-"))
    assert not wrong, "\n".join(wrong)


def test_explain_a_million_lines(hushgate, fmt_cfg, tmp_path):
    n = 1000000
    src = tmp_path / "targets.txt"
    with open(src, "w") as f:
        for i in range(n):
            if i % 4 == 0:
                f.write("deny.fmt.test\n")
            elif i % 4 == 1:
                f.write("h%d.allow.fmt.test:8%03d\n" % (i, i % 100))
            elif i % 4 == 2:
                f.write("h%d.example.test\n" % i)
            else:
                f.write("h%d.audit.fmt.test:443\n" % i)
    out = tmp_path / "out.txt"
    with open(src, "rb") as fin, open(out, "wb") as fout:
        cp = run_hushgate(["explain", "-c", str(fmt_cfg)], stdin=fin,
                          stdout=fout, timeout=TIMEOUT * 30)
    assert cp.returncode == 0, cp.stderr
    count = 0
    last = None
    actions = {}
    with open(out, "rb") as f:
        for raw in f:
            count += 1
            last = raw
            a = raw.split(b"\t")[1]
            actions[a] = actions.get(a, 0) + 1
    assert count == n
    assert last.decode().split("\t")[:3] == [
        "h999999.audit.fmt.test:443", "audit", "fmt-audit"]
    assert actions == {b"deny": n // 2, b"allow": n // 4, b"audit": n // 4}

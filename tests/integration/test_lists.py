# The blocklists people publish, as they are: every file of the shared
# reference data (HaGeZi, WindowsSpyBlocker; see ../shared/data/README.md)
# loads with the entry counts its README gives, and a few of their names
# are decided by the loaded rules as the format means them.

import re
from pathlib import Path

import pytest

from helpers import dump_yaml, run_hushgate

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

# file, format, rules expected (unique entries; rpz: name + *.name each;
# firewall extra: 965 entries, one of them twice)
CASES = [
    ("hagezi/hosts/native.winoffice.txt", "hosts", 750),
    ("hagezi/hosts/native.winoffice-compressed.txt", "hosts", 750),
    ("hagezi/hosts/native.apple.txt", "hosts", 112),
    ("hagezi/hosts/native.samsung.txt", "hosts", 273),
    ("hagezi/domains/native.winoffice.txt", "domains", 750),
    ("hagezi/wildcard/native.winoffice.txt", "wildcard", 389),
    ("hagezi/wildcard/native.winoffice-onlydomains.txt", "domains-suffix",
     389),
    ("hagezi/adblock/native.winoffice.txt", "adblock", 389),
    ("hagezi/dnsmasq/native.winoffice.txt", "dnsmasq", 389),
    ("hagezi/rpz/native.winoffice.txt", "rpz", 778),
    ("hagezi/history/2023-12-27/hosts/native.winoffice.txt", "hosts", 191),
    ("hagezi/history/2023-12-27/domains/native.winoffice.txt", "domains",
     191),
    ("hagezi/wildcard/pro-onlydomains.txt", "domains-suffix", 214895),
    ("windowsspyblocker/data/hosts/spy.txt", "hosts", 347),
    ("windowsspyblocker/data/hosts/update.txt", "hosts", 538),
    ("windowsspyblocker/data/hosts/extra.txt", "hosts", 399),
    ("windowsspyblocker/data/hosts/spy_v6.txt", "hosts", 347),
    ("windowsspyblocker/data/hosts/update_v6.txt", "hosts", 538),
    ("windowsspyblocker/data/hosts/extra_v6.txt", "hosts", 399),
    ("windowsspyblocker/data/openwrt/spy/dnsmasq.conf", "dnsmasq", 347),
    ("windowsspyblocker/data/openwrt/update/dnsmasq.conf", "dnsmasq", 538),
    ("windowsspyblocker/data/openwrt/extra/dnsmasq.conf", "dnsmasq", 399),
    ("windowsspyblocker/data/dnscrypt/spy.txt", "glob", 318),
    ("windowsspyblocker/data/dnscrypt/update.txt", "glob", 305),
    ("windowsspyblocker/data/dnscrypt/extra.txt", "glob", 356),
    ("windowsspyblocker/data/proxifier/spy/domains.txt", "glob", 318),
    ("windowsspyblocker/data/proxifier/update/domains.txt", "glob", 305),
    ("windowsspyblocker/data/proxifier/extra/domains.txt", "glob", 356),
    ("windowsspyblocker/data/firewall/spy.txt", "ips", 167),
    ("windowsspyblocker/data/firewall/update.txt", "ips", 374),
    ("windowsspyblocker/data/firewall/extra.txt", "ips", 964),
    ("windowsspyblocker/data/proxifier/spy/ips.txt", "ips", 167),
    ("windowsspyblocker/data/proxifier/update/ips.txt", "ips", 374),
    ("windowsspyblocker/data/proxifier/extra/ips.txt", "ips", 964),
]


def _config(tmp_path, path, fmt):
    cfg = tmp_path / "lists.yaml"
    dump_yaml({"dns": {"servers": [], "hosts_file": None},
               "log": {"decisions": None},
               "categories": {"list": {"action": "deny",
                                       "lists": [{"file": str(path),
                                                  "format": fmt}]}}}, cfg)
    return cfg


@pytest.mark.parametrize("rel,fmt,rules", CASES,
                         ids=[c[0].replace("/", "_") for c in CASES])
def test_shared_list_loads_with_expected_count(tmp_path, rel, fmt, rules):
    path = DATA / rel
    assert path.is_file(), "reference data missing: %s" % path
    cp = run_hushgate(["-t", "-c", str(_config(tmp_path, path, fmt))])
    assert cp.returncode == 0, cp.stderr
    assert "configuration OK" in cp.stdout
    m = re.search(r"^rules: (\d+) ", cp.stdout, re.M)
    assert m and int(m.group(1)) == rules, cp.stdout
    # Nothing in these files is skipped: no warning lines.
    assert "line skipped" not in cp.stdout, cp.stdout


@pytest.mark.parametrize("rel,fmt,host,action", [
    # adblock ||name^ covers the name and its subdomains
    ("hagezi/adblock/native.winoffice.txt", "adblock",
     "h4g3z1-native.winoffice.web.app", "deny"),
    ("hagezi/adblock/native.winoffice.txt", "adblock",
     "x.h4g3z1-native.winoffice.web.app", "deny"),
    ("hagezi/adblock/native.winoffice.txt", "adblock",
     "web.app", "allow"),
    # rpz: both the name and *.name
    ("hagezi/rpz/native.winoffice.txt", "rpz",
     "a.b.collector.azure.microsoft.cloud", "deny"),
    # hosts: exact names only
    ("hagezi/hosts/native.winoffice.txt", "hosts",
     "sub.h4g3z1-native.winoffice.web.app", "allow"),
    # WindowsSpyBlocker mid-label globs
    ("windowsspyblocker/data/dnscrypt/spy.txt", "glob",
     "v10.vortex-win.data.microsoft.com", "deny"),
    # firewall ranges become prefixes; IP-literal targets match them
    ("windowsspyblocker/data/firewall/update.txt", "ips",
     "65.55.138.77", "deny"),
    ("windowsspyblocker/data/firewall/update.txt", "ips",
     "65.55.139.1", "allow"),
])
def test_shared_list_decisions(tmp_path, rel, fmt, host, action):
    cfg = _config(tmp_path, DATA / rel, fmt)
    cp = run_hushgate(["explain", "-c", str(cfg), host])
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.split("\t")[1] == action, cp.stdout


def test_list_quirks_and_skipped_lines(tmp_path):
    # BOM, CRLF, comments of three kinds, blank lines, trailing spaces,
    # upper case, a trailing dot, a duplicate, an IDN name in UTF-8, localhost entries, several
    # names on one line, a final line without newline, and two lines that
    # are not hosts syntax (reported with file:line, not dropped silently).
    lst = tmp_path / "quirks.hosts"
    lst.write_bytes(
        b"\xef\xbb\xbf# header\r\n"
        b"! adblock-style comment\r\n"
        b"; rpz-style comment\r\n"
        b"\r\n"
        b"0.0.0.0 Tracker.Example.   \r\n"
        b"0.0.0.0 tracker.example\r\n"
        b"127.0.0.1 localhost localhost.localdomain\r\n"
        b":: a.example b.example c.example # trailing comment\r\n"
        b"not-an-address d.example\r\n"
        b"0.0.0.0 bad_char$.example\r\n"
        b"0.0.0.0 b\xc3\xbccher.example\r\n"
        b"0.0.0.0 last.example")
    cfg = _config(tmp_path, lst, "hosts")
    cp = run_hushgate(["-t", "-c", str(cfg)])
    assert cp.returncode == 0, cp.stderr
    m = re.search(r"^rules: (\d+) .*duplicates dropped (\d+)", cp.stdout,
                  re.M)
    assert m, cp.stdout
    assert (int(m.group(1)), int(m.group(2))) == (6, 1), cp.stdout
    assert re.search(r"quirks\.hosts:9: warning: line skipped", cp.stdout)
    assert re.search(r"quirks\.hosts:10: warning: line skipped", cp.stdout)
    cp = run_hushgate(["explain", "-c", str(cfg), "tracker.example",
                       "last.example", "localhost", "d.example",
                       "xn--bcher-kva.example"])
    actions = [l.split("\t")[1] for l in cp.stdout.splitlines()]
    # the IDN name in the list is its punycode form on the wire
    assert actions == ["deny", "deny", "allow", "allow", "deny"], cp.stdout


def test_shadowed_names_are_reported_by_check(tmp_path):
    # A name under a broader rule of the same action is reported with both
    # sources; a more specific rule of the opposite action is an exception
    # and is kept silently (and wins).
    cfg = tmp_path / "shadow.yaml"
    cfg.write_text(
        "dns: {servers: [], hosts_file: null}\n"
        "categories:\n"
        "  block:\n"
        "    action: deny\n"
        "    hosts: [.live.com, telemetry.live.com]\n"
        "  keep:\n"
        "    action: allow\n"
        "    hosts: [login.live.com]\n")
    cp = run_hushgate(["-t", "-c", str(cfg)])
    assert cp.returncode == 0, cp.stderr
    shadow = [l for l in cp.stdout.splitlines() if "already covered" in l]
    assert len(shadow) == 1, cp.stdout
    assert re.match(r".*shadow\.yaml:5: warning: telemetry\.live\.com is "
                    r"already covered by \.live\.com \(.*shadow\.yaml:5\)",
                    shadow[0]), shadow
    cp = run_hushgate(["explain", "-c", str(cfg), "login.live.com",
                       "x.live.com"])
    assert [l.split("\t")[1] for l in cp.stdout.splitlines()] == \
        ["allow", "deny"], cp.stdout


def test_adblock_exceptions_allow(tmp_path):
    lst = tmp_path / "ab.txt"
    lst.write_text("[Adblock Plus]\n! comment\n||tracker.example^\n"
                   "@@||ok.tracker.example^\n||ads.example^$third-party\n")
    cfg = _config(tmp_path, lst, "adblock")
    cp = run_hushgate(["-t", "-c", str(cfg)])
    assert cp.returncode == 0, cp.stderr
    # the line with options is reported, not dropped silently
    assert re.search(r"ab\.txt:5: warning: line skipped", cp.stdout)
    assert re.search(r"^  list-exceptions +allow +1 rules", cp.stdout,
                     re.M), cp.stdout
    cp = run_hushgate(["explain", "-c", str(cfg), "tracker.example",
                       "a.ok.tracker.example", "b.tracker.example"])
    got = [l.split("\t")[1:3] for l in cp.stdout.splitlines()]
    assert got == [["deny", "list"], ["allow", "list-exceptions"],
                   ["deny", "list"]], cp.stdout

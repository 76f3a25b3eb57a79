# The blocklists people publish, as they are: every file of the reference
# data (HaGeZi, WindowsSpyBlocker; see the README.md of that directory)
# loads with the entry counts its README gives, and a few of their names
# are decided by the loaded rules as the format means them.
#
# The lists are not part of the repository (their licences differ from
# ours): the directory comes from $HUSHGATE_REAL_LISTS (conftest.py), and
# scripts/test-real-lists DIR runs this suite.

import re

import pytest

from helpers import list_config, run_hushgate

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




@pytest.mark.parametrize("rel,fmt,rules", CASES,
                         ids=[c[0].replace("/", "_") for c in CASES])
def test_real_list_loads_with_expected_count(tmp_path, real_lists, rel, fmt,
                                             rules):
    path = real_lists / rel
    assert path.is_file(), "reference data missing: %s" % path
    cp = run_hushgate(["-t", "-c", str(list_config(tmp_path, path, fmt))])
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
def test_real_list_decisions(tmp_path, real_lists, rel, fmt, host, action):
    cfg = list_config(tmp_path, real_lists / rel, fmt)
    cp = run_hushgate(["explain", "-c", str(cfg), host])
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.split("\t")[1] == action, cp.stdout

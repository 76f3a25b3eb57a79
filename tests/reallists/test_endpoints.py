"""The shipped profiles against the catalogue of hosts a Windows 11 machine
contacts (ENDPOINTS.md beside the real lists, not part of the repository):
under lockdown (default: deny) every functional name is allowed and every
telemetry name denied; no shipped profile denies a functional name."""

import re
import sys
from pathlib import Path

import pytest

from helpers import REPO, dump_yaml, run_hushgate

SETS = REPO / "rules" / "sets"

# CNAME and CDN names: DNS resolves to them, but a client asks the proxy
# for the first name of the chain, so the profiles leave them out (the
# catalogue's own introduction names these suffixes; delivery.microsoft.com
# and cdn.cloudflare.net hold the CNAMEs of the trust-list and Box names).
CNAME_SUFFIXES = (
    "akamaiedge.net", "edgekey.net", "edgesuite.net", "akamai.net",
    "trafficmanager.net", "cloudapp.azure.com", "akadns.net",
    "s-msedge.net", "t-msedge.net", "azurefd.net", "delivery.microsoft.com",
    "cdn.cloudflare.net",
)

NAME = re.compile(r"`([a-z0-9][a-z0-9.-]*\.[a-z]{2,})`")


def _is_cname(name):
    return any(name == s or name.endswith("." + s) for s in CNAME_SUFFIXES)


def catalogue(path):
    """{section: {bullet title: [names]}} of ENDPOINTS.md, CNAMEs left out
    (also those given in parentheses after "CNAME")."""
    out = {}
    section = bullet = None
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            out[section] = {}
            bullet = None
            continue
        if section is None:
            continue
        m = re.match(r"- \*\*(.+?)\*\*", line)
        if m:
            bullet = m.group(1)
            out[section][bullet] = []
        if bullet is None:
            continue
        # Names inside "(CNAME...: ...)" are chain targets.
        text = re.sub(r"\(CNAMEs?[^)]*\)", "", line)
        for n in NAME.findall(text):
            if not _is_cname(n):
                out[section][bullet].append(n)
    return out


@pytest.fixture(scope="module")
def endpoints(real_lists):
    path = real_lists.parent / "ENDPOINTS.md"
    assert path.is_file(), "the endpoint catalogue is missing: %s" % path
    cat = catalogue(path)
    tele = [k for k in cat if k.lower().startswith("telemetry")]
    func = [k for k in cat if k.lower().startswith("functional")]
    assert len(tele) == 1 and len(func) == 1, sorted(cat)
    t = [n for names in cat[tele[0]].values() for n in names]
    f = [n for names in cat[func[0]].values() for n in names]
    # The catalogue as written on 2026-11: 5 telemetry, 20+ functional.
    assert len(t) >= 5 and len(f) >= 20, (t, f)
    return t, f


def explain(tmp_path, profile, names):
    cfg = dump_yaml({"include": [str(SETS / profile)],
                     "connect_ports": [443],
                     "dns": {"servers": [], "hosts_file": "/dev/null"}},
                    tmp_path / "c.yaml")
    cp = run_hushgate(["explain", "-c", str(cfg)],
                      input=("\n".join(names) + "\n").encode())
    assert cp.returncode == 0, cp.stderr
    rows = [l.split("\t") for l in cp.stdout.splitlines()]
    assert len(rows) == len(names)
    return {n: r for n, r in zip(names, rows)}


def test_lockdown_allows_every_functional_name(tmp_path, endpoints):
    _, func = endpoints
    got = explain(tmp_path, "lockdown.yaml", func)
    wrong = ["%s: %s" % (n, "\t".join(r[1:])) for n, r in got.items()
             if r[1] != "allow"]
    assert not wrong, "\n".join(wrong)


def test_lockdown_denies_every_telemetry_name(tmp_path, endpoints):
    tele, _ = endpoints
    got = explain(tmp_path, "lockdown.yaml", tele)
    wrong = ["%s: %s" % (n, "\t".join(r[1:])) for n, r in got.items()
             if r[1] != "deny" or r[2] == "-"]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("profile", ["balanced.yaml", "audit.yaml",
                                     "lockdown.yaml"])
def test_no_profile_denies_a_functional_name(tmp_path, endpoints, profile):
    _, func = endpoints
    got = explain(tmp_path, profile, func)
    wrong = ["%s: %s" % (n, "\t".join(r[1:])) for n, r in got.items()
             if r[1] == "deny"]
    assert not wrong, "\n".join(wrong)


# What strict denies of the functional names on purpose: the catalogue
# calls blocking them "a user choice", and strict makes it.
STRICT_CHOICES = {"office-config", "xbox-services",
                  "windows-delivery-optimization-peers"}


def test_strict_denies_only_its_choices(tmp_path, endpoints):
    _, func = endpoints
    got = explain(tmp_path, "strict.yaml", func)
    denied = {n: r[2] for n, r in got.items() if r[1] == "deny"}
    wrong = ["%s: %s" % (n, c) for n, c in denied.items()
             if c not in STRICT_CHOICES]
    assert not wrong, "\n".join(wrong)
    # ... and it does make them (else the list above is stale)
    assert set(denied.values()) == STRICT_CHOICES, denied

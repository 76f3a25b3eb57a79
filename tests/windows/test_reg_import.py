"""The .reg files `hushgate.exe pac --emit-windows` writes for Group Policy
or a hand import: each imports with `reg import` under Wine and reads
back with `reg query`; its -undo.reg removes the value again."""

import re

import helpers

URL = "http://proxy.corp.test:3128/proxy.pac"
INET = "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings"
POL = ("HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\CurrentVersion\\"
       "Internet Settings")
EDGE = "HKLM\\SOFTWARE\\Policies\\Microsoft\\Edge"


def _key_exists(wine, key):
    return wine.run("reg", "query", key).returncode == 0


def test_emitted_reg_files_import_and_undo(wine, hushgate_exe, tmp_path):
    cfg = helpers.dump_yaml({"dns": {"servers": [],
                                     "hosts_file": "/dev/null"}},
                            tmp_path / "c.yaml")
    d = tmp_path / "win"
    cp = wine.run(hushgate_exe, "pac", "-c", cfg, "--emit-windows", d,
                  "--pac-url", URL, "--proxy", "127.0.0.1:3128")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    cases = (("hushgate-user", INET, "AutoConfigURL", "REG_SZ",
              re.escape(URL)),
             ("hushgate-machine", POL, "ProxySettingsPerUser", "REG_DWORD",
              "0x0"),
             ("hushgate-edge", EDGE, "ProxySettings", "REG_SZ",
              r'\{"ProxyMode":\s*"pac_script".*'))
    existed = {key: _key_exists(wine, key) for _, key, _, _, _ in cases}
    before = {key: wine.run("reg", "query", key, "/v", value).returncode
              for _, key, value, _, _ in cases}
    assert all(rc != 0 for rc in before.values()), \
        "the prefix already has the values this test sets: %r" % before
    try:
        for name, key, value, typ, want in cases:
            cp = wine.run("reg", "import", wine.winpath(d / (name + ".reg")))
            assert cp.returncode == 0, (name, cp.stdout, cp.stderr)
            q = wine.run("reg", "query", key, "/v", value)
            assert q.returncode == 0, (name, q.stdout, q.stderr)
            assert re.search(r"^\s*%s\s+%s\s+%s\s*$" % (value, typ, want),
                             q.stdout, re.M), (name, q.stdout)
        for name, key, value, _, _ in cases:
            cp = wine.run("reg", "import",
                          wine.winpath(d / (name + "-undo.reg")))
            assert cp.returncode == 0, (name, cp.stdout, cp.stderr)
            assert wine.run("reg", "query", key, "/v",
                            value).returncode != 0, name
    finally:
        for _, key, value, _, _ in cases:
            wine.run("reg", "delete", key, "/v", value, "/f")
            if not existed[key]:
                wine.run("reg", "delete", key, "/f")

"""hushgate.exe winhttp set|show|reset under Wine: the WinHTTP default
proxy (both registry views), WinINet (user and machine), the telemetry
policy, the .reg backup and the exact undo; and a WinHTTP client of ours
(tests/windows/winhttp_client.c) going through a running hushgate.

Every test leaves the session's Wine registry as it found it: the
`pristine` check after each test compares `reg export` of every touched
tree with the state before the module ran.

What Wine cannot show, and each test that is concerned says so:
* Wine has no 32-bit WinHTTP in a 64-bit-only prefix; the 32-bit view is
  checked with `reg query /reg:32`, not by a 32-bit client.
* Wine's WinHttpGetDefaultProxyConfiguration reads only the proxy of
  WinHttpSettings, not an autoconfig URL: for `set --pac` the bytes are
  checked, not that WinHTTP services on Windows 11 fetch the PAC file.
* Wine's WinINet does not read DefaultConnectionSettings the way Windows
  does; the WinINet values are checked as registry contents.
"""

import re
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import wine as winemod

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import helpers  # noqa: E402
from helpers import free_port  # noqa: E402
from rulemodel import Ruleset  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BALANCED = REPO / "rules" / "sets" / "balanced.yaml"
WATSON = "watson.events.data.microsoft.com"

CONN = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings" \
    r"\Connections"
INET = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings"
POLI = r"SOFTWARE\Policies\Microsoft\Windows\CurrentVersion" \
    r"\Internet Settings"
DATA = r"SOFTWARE\Policies\Microsoft\Windows\DataCollection"
UINET = r"Software\Microsoft\Windows\CurrentVersion\Internet Settings"
UCONN = UINET + r"\Connections"

# Every value `set` may write: (root, path, value, views).
BOTH = (64, 32)
SLOTS = [
    ("HKLM", CONN, "WinHttpSettings", BOTH),
    ("HKLM", CONN, "DefaultConnectionSettings", BOTH),
    ("HKLM", INET, "ProxyEnable", BOTH),
    ("HKLM", INET, "ProxyServer", BOTH),
    ("HKLM", INET, "ProxyOverride", BOTH),
    ("HKLM", INET, "AutoConfigURL", BOTH),
    ("HKLM", POLI, "ProxySettingsPerUser", BOTH),
    ("HKLM", DATA, "TelemetryProxyServer", BOTH),
    ("HKLM", DATA, "DisableEnterpriseAuthProxy", BOTH),
    ("HKCU", UINET, "ProxyEnable", (64,)),
    ("HKCU", UINET, "ProxyServer", (64,)),
    ("HKCU", UINET, "ProxyOverride", (64,)),
    ("HKCU", UINET, "AutoConfigURL", (64,)),
    ("HKCU", UCONN, "DefaultConnectionSettings", (64,)),
]

# The trees compared by `reg export` before and after.
TREES = [
    ("HKLM", INET, 64), ("HKLM", INET, 32),
    ("HKLM", r"SOFTWARE\Policies", 64), ("HKLM", r"SOFTWARE\Policies", 32),
    ("HKCU", UINET, 64),
]


def _key(root, path):
    return "%s\\%s" % (root, path)


def snapshot(wine, d):
    """reg export of every tree: {(root, path, view): bytes or None}."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, (root, path, view) in enumerate(TREES):
        out[(root, path, view)] = wine.reg_export(
            _key(root, path), d / ("t%d.reg" % i), view=view)
    return out


def diff(a, b):
    return [k for k in a if a[k] != b[k]]


def hg(wine, exe, *args):
    return wine.run(exe, "winhttp", *args)


def client(wine, win_build, *args, timeout=winemod.RUN_TIMEOUT):
    exe = win_build / "tests" / "windows" / "winhttp_client.exe"
    assert exe.is_file(), "%s not built" % exe
    return wine.run(exe, *args, timeout=timeout)


def kv(text):
    return dict(line.split("=", 1) for line in text.splitlines()
                if "=" in line)


def reg_value(wine, root, path, name, view):
    """(type, data text) of a value as `reg query` prints it, or None."""
    cp = wine.reg_query(_key(root, path), name, view=view)
    if cp.returncode != 0:
        return None
    for line in cp.stdout.splitlines():
        parts = line.strip().split(None, 2)
        if len(parts) >= 2 and parts[0] == name:
            return (parts[1], parts[2] if len(parts) > 2 else "")
    return None


def key_prefixes():
    """(root, path, view) of every key set may create, deepest first."""
    seen = set()
    for root, path, _, views in SLOTS:
        comps = path.split("\\")
        for n in range(2, len(comps) + 1):
            for v in views:
                seen.add((root, "\\".join(comps[:n]), v))
    return sorted(seen, key=lambda k: -k[1].count("\\"))


def reg_text(entries):
    """A .reg file (UTF-16LE with BOM, CRLF) from
    [(key as regedit names it, [(name, data text)])]."""
    lines = ["Windows Registry Editor Version 5.00", ""]
    for key, values in entries:
        lines.append("[%s]" % key)
        for name, data in values:
            lines.append('"%s"=%s' % (name, data))
        lines.append("")
    return b"\xff\xfe" + ("\r\n".join(lines) + "\r\n").encode("utf-16-le")


def hexdata(kind, data):
    return "hex(%x):%s" % (kind, ",".join("%02x" % b for b in data))


def utf16z(s):
    return (s + "\0").encode("utf-16-le")


LM = "HKEY_LOCAL_MACHINE\\"
LM32 = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Wow6432Node\\"
CU = "HKEY_CURRENT_USER\\"


def wow(path):
    return LM32 + path[len("SOFTWARE\\"):]


# Values of unusual types and sizes, as a machine may have them.
ODD = [
    (LM + CONN, [("WinHttpSettings", hexdata(3, b"\x01\x02\x03")),
                 ("DefaultConnectionSettings", hexdata(0x4d2, b"\xff\x00"))]),
    (wow(CONN), [("WinHttpSettings", hexdata(
        3, struct.pack("<5I", 0x18, 0, 1, 0, 0)))]),
    (LM + INET, [("ProxyEnable", '"yes"'),
                 ("ProxyServer", hexdata(2, utf16z("%HG_NONE%:1"))),
                 ("ProxyOverride", "hex(0):"),
                 ("AutoConfigURL", hexdata(7, utf16z("a") + utf16z("")))]),
    (wow(INET), [("ProxyEnable", "dword:00000000")]),
    (LM + POLI, [("ProxySettingsPerUser", "hex:")]),
    (LM + DATA, [("TelemetryProxyServer", "dword:00000005"),
                 ("DisableEnterpriseAuthProxy",
                  hexdata(0xb, b"\x01" + b"\x00" * 7))]),
    (CU + UINET, [("ProxyEnable", hexdata(4, b"\x01\x02\x03")),
                  ("ProxyServer", '"old.example:1"'),
                  ("AutoConfigURL", '"http://old.example/x.pac"')]),
    (CU + UCONN, [("DefaultConnectionSettings", hexdata(
        3, struct.pack("<6I", 0x46, 5, 1, 0, 0, 0)))]),
]


@pytest.fixture(scope="module")
def pristine(wine, tmp_path_factory):
    """The registry before this module: exports and the keys that
    existed."""
    d = tmp_path_factory.mktemp("pristine")
    snap = snapshot(wine, d)
    exists = {k: wine.reg_query(_key(k[0], k[1]), view=k[2]).returncode == 0
              for k in key_prefixes()}
    return snap, exists


@pytest.fixture(scope="module", autouse=True)
def persistent_wineserver(wine):
    """One wineserver for the module's hundreds of reg and exe runs (each
    would otherwise start and stop a server: seconds per command); the
    session's wine.shutdown() ends it."""
    subprocess.run(["wineserver", "-p"], env=wine.env, check=False,
                   timeout=winemod.RUN_TIMEOUT)
    # The first program starts the prefix's services, which then live as
    # long as the server: they must not hold a later run's output pipes.
    subprocess.run([wine.wine, "reg", "query", "HKCU\\Software"],
                   env=wine.env, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=winemod.RUN_TIMEOUT, check=False)


def restore_pristine(wine, exists):
    """Delete every value set may write and the keys that did not exist
    before the module."""
    for root, path, name, views in SLOTS:
        for v in views:
            wine.run("reg", "delete", _key(root, path), "/v", name, "/f",
                     "/reg:%d" % v)
    for k in key_prefixes():
        if not exists[k]:
            wine.run("reg", "delete", _key(k[0], k[1]), "/f",
                     "/reg:%d" % k[2])


@pytest.fixture(autouse=True)
def clean_registry(wine, pristine, tmp_path):
    """After each test: insist that the trees equal the pristine ones (a
    leak fails the test that caused it), and clean up if not."""
    yield
    snap, exists = pristine
    after = snapshot(wine, tmp_path / "teardown")
    if not diff(snap, after):
        return
    restore_pristine(wine, exists)
    final = snapshot(wine, tmp_path / "teardown2")
    assert not diff(snap, final), "registry not back to pristine: %s" % (
        diff(snap, final),)
    pytest.fail("the test left registry changes behind: %s"
                % diff(snap, after))


def put_odd_values(wine, tmp_path):
    f = tmp_path / "odd.reg"
    f.write_bytes(reg_text(ODD))
    wine.run("reg", "import", wine.winpath(f), check=True)


# ---------------------------------------------------------------------------


def test_set_proxy_is_winhttp_default_proxy_in_both_views(
        wine, hushgate_exe, win_build, tmp_path):
    """set --proxy: WinHttpGetDefaultProxyConfiguration (64-bit client)
    returns our address; both registry views hold the blob (the 32-bit
    one checked with reg query /reg:32: no 32-bit client under Wine's
    64-bit-only prefix); reset goes back to direct."""
    port = free_port()
    bk = wine.winpath(tmp_path / "backup.reg")
    before = kv(client(wine, win_build, "defaultproxy").stdout)
    assert before["access"] == "no_proxy", before
    cp = hg(wine, hushgate_exe, "set", "--proxy", "127.0.0.1:%d" % port,
            "--bypass", "<local>", "--backup", bk)
    assert cp.returncode == 0, cp.stderr
    got = kv(client(wine, win_build, "defaultproxy").stdout)
    assert got == {"access": "named_proxy", "proxy": "127.0.0.1:%d" % port,
                   "bypass": "<local>"}, got
    addr = ("127.0.0.1:%d" % port).encode()
    blob = struct.pack("<4I", 0x18, 0, 3, len(addr)) + addr + \
        struct.pack("<I", 7) + b"<local>"
    for view in (64, 32):
        v = reg_value(wine, "HKLM", CONN, "WinHttpSettings", view)
        assert v == ("REG_BINARY", blob.hex().upper()), (view, v)
    cp = hg(wine, hushgate_exe, "reset", "--backup", bk)
    assert cp.returncode == 0, cp.stderr
    after = kv(client(wine, win_build, "defaultproxy").stdout)
    assert after["access"] == "no_proxy", after
    for view in (64, 32):
        assert reg_value(wine, "HKLM", CONN, "WinHttpSettings", view) \
            is None


@pytest.mark.parametrize("opts", [
    [],
    ["--wininet", "user"],
    ["--wininet", "machine"],
    ["--telemetry-policy"],
    ["--wininet", "machine", "--telemetry-policy"],
], ids=["winhttp", "wininet-user", "wininet-machine", "telemetry-policy",
        "all-machine"])
def test_reset_restores_absent_values_exactly(wine, hushgate_exe, tmp_path,
                                              opts):
    """Values that did not exist: set writes them, reset deletes them and
    the keys set created; reg export before and after are the same
    bytes."""
    bk = tmp_path / "backup.reg"
    before = snapshot(wine, tmp_path / "before")
    cp = hg(wine, hushgate_exe, "set", "--proxy", "127.0.0.1:3128",
            "--bypass", "<local>;*.lan", "--backup", wine.winpath(bk), *opts)
    assert cp.returncode == 0, cp.stderr
    mid = snapshot(wine, tmp_path / "mid")
    assert diff(before, mid), "set changed nothing"
    text = bk.read_bytes()
    assert text.startswith(b"\xff\xfe")
    assert '"WinHttpSettings"=-' in text[2:].decode("utf-16-le")
    cp = hg(wine, hushgate_exe, "reset", "--backup", wine.winpath(bk))
    assert cp.returncode == 0, cp.stderr
    after = snapshot(wine, tmp_path / "after")
    assert not diff(before, after), diff(before, after)
    assert not bk.exists()
    assert (tmp_path / "backup.reg.restored").read_bytes() == text


def test_reset_restores_odd_existing_values_byte_for_byte(
        wine, hushgate_exe, tmp_path, pristine):
    """Values that existed with odd types and sizes (REG_NONE, a 3-byte
    REG_DWORD, REG_QWORD, type 0x4d2, empty binary, REG_EXPAND_SZ,
    REG_MULTI_SZ) in both views: two sets over every store, then reset:
    reg export is the same bytes as before."""
    put_odd_values(wine, tmp_path)
    try:
        before = snapshot(wine, tmp_path / "before")
        bk = wine.winpath(tmp_path / "backup.reg")
        for opts in (["--wininet", "machine", "--telemetry-policy"],
                     ["--wininet", "user"]):
            cp = hg(wine, hushgate_exe, "set", "--proxy", "127.0.0.1:3128",
                    "--backup", bk, *opts)
            assert cp.returncode == 0, cp.stderr
        assert reg_value(wine, "HKLM", INET, "ProxyEnable", 64) == (
            "REG_DWORD", "0x1")
        assert reg_value(wine, "HKCU", UINET, "ProxyServer", 64) == (
            "REG_SZ", "127.0.0.1:3128")
        # The old PAC URL would win over the proxy: emptied, not deleted.
        assert reg_value(wine, "HKCU", UINET, "AutoConfigURL", 64) == (
            "REG_SZ", "")
        cp = hg(wine, hushgate_exe, "reset", "--backup", bk)
        assert cp.returncode == 0, cp.stderr
        after = snapshot(wine, tmp_path / "after")
        assert not diff(before, after), diff(before, after)
    finally:
        restore_pristine(wine, pristine[1])


def test_second_set_keeps_first_backup(wine, hushgate_exe, tmp_path):
    """A second set (other address, another store) leaves the backup
    alone; reset still returns to the state before the first set."""
    bk = tmp_path / "backup.reg"
    before = snapshot(wine, tmp_path / "before")
    cp = hg(wine, hushgate_exe, "set", "--proxy", "127.0.0.1:3128",
            "--backup", wine.winpath(bk))
    assert cp.returncode == 0, cp.stderr
    first = bk.read_bytes()
    cp = hg(wine, hushgate_exe, "set", "--proxy", "127.0.0.1:3129",
            "--wininet", "user", "--telemetry-policy", "--backup",
            wine.winpath(bk))
    assert cp.returncode == 0, cp.stderr
    assert "kept" in cp.stdout
    assert bk.read_bytes() == first
    assert reg_value(wine, "HKCU", UINET, "ProxyServer", 64) == (
        "REG_SZ", "127.0.0.1:3129")
    cp = hg(wine, hushgate_exe, "reset", "--backup", wine.winpath(bk))
    assert cp.returncode == 0, cp.stderr
    assert not diff(before, snapshot(wine, tmp_path / "after"))


def test_backup_imports_with_reg_import(wine, hushgate_exe, tmp_path,
                                       pristine):
    """The backup alone undoes the values: `reg import backup.reg`, then
    reg query of every key shows the original values (odd types
    included).  Keys that set created stay, empty: only reset removes
    them."""
    put_odd_values(wine, tmp_path)
    try:
        keys = sorted({(r, p, v) for r, p, _, views in SLOTS for v in views})
        q0 = {k: wine.reg_query(_key(k[0], k[1]), view=k[2]).stdout
              for k in keys}
        bk = tmp_path / "backup.reg"
        cp = hg(wine, hushgate_exe, "set", "--proxy", "127.0.0.1:3128",
                "--wininet", "machine", "--telemetry-policy", "--backup",
                wine.winpath(bk))
        assert cp.returncode == 0, cp.stderr
        cp = hg(wine, hushgate_exe, "set", "--proxy", "127.0.0.1:3128",
                "--wininet", "user", "--backup", wine.winpath(bk))
        assert cp.returncode == 0, cp.stderr
        q1 = {k: wine.reg_query(_key(k[0], k[1]), view=k[2]).stdout
              for k in keys}
        assert q1 != q0
        wine.run("reg", "import", wine.winpath(bk), check=True)
        q2 = {k: wine.reg_query(_key(k[0], k[1]), view=k[2]).stdout
              for k in keys}
        wrong = [k for k in keys if q0[k] and q2[k] != q0[k]]
        assert not wrong, [(k, q0[k], q2[k]) for k in wrong]
        # Keys absent before hold no values now.
        for k in keys:
            if not q0[k]:
                assert "REG_" not in q2[k], (k, q2[k])
        # reset still works on top (and removes the empty keys).
        cp = hg(wine, hushgate_exe, "reset", "--backup", wine.winpath(bk))
        assert cp.returncode == 0, cp.stderr
    finally:
        restore_pristine(wine, pristine[1])


def test_show_prints_what_was_set(wine, hushgate_exe, tmp_path):
    bk = tmp_path / "backup.reg"
    cp = hg(wine, hushgate_exe, "show", "--backup", wine.winpath(bk))
    assert cp.returncode == 0, cp.stderr
    assert "backup: none at" in cp.stdout
    cp = hg(wine, hushgate_exe, "set", "--proxy", "127.0.0.1:3130",
            "--bypass", "<local>", "--wininet", "user", "--telemetry-policy",
            "--backup", wine.winpath(bk))
    assert cp.returncode == 0, cp.stderr
    try:
        cp = hg(wine, hushgate_exe, "show", "--backup", wine.winpath(bk))
        assert cp.returncode == 0, cp.stderr
        out = cp.stdout
        for view in ("64-bit view", "32-bit view"):
            assert re.search(r"WinHttpSettings +HKLM %s: proxy "
                             r"127\.0\.0\.1:3130 bypass \"<local>\"" % view,
                             out), out
            assert re.search(r"TelemetryProxyServer +HKLM %s: "
                             r"\"127\.0\.0\.1:3130\"" % view, out), out
            assert re.search(r"DisableEnterpriseAuthProxy +HKLM %s: 1 "
                             r"\(REG_DWORD\)" % view, out), out
        assert re.search(r"ProxyServer +HKCU: \"127\.0\.0\.1:3130\"", out)
        assert re.search(r"DefaultConnectionSettings +HKCU: proxy "
                         r"127\.0\.0\.1:3130 bypass \"<local>\"", out), out
        assert "backup: %s (reset restores it)" % wine.winpath(bk) in out
    finally:
        cp = hg(wine, hushgate_exe, "reset", "--backup", wine.winpath(bk))
        assert cp.returncode == 0, cp.stderr


def test_set_pac_writes_autoconfig_url(wine, hushgate_exe, win_build,
                                       tmp_path):
    """set --pac: WinHttpSettings with the autoconfig flag and URL (both
    views), WinINet AutoConfigURL and DefaultConnectionSettings flag 4.
    Wine's WinHttpGetDefaultProxyConfiguration ignores the autoconfig URL
    (it reports no proxy, checked here); whether Windows 11's WinHTTP
    services use it needs a real machine."""
    url = "http://127.0.0.1:3128/proxy.pac"
    bk = wine.winpath(tmp_path / "backup.reg")
    cp = hg(wine, hushgate_exe, "set", "--pac", url, "--wininet", "user",
            "--telemetry-policy", "--backup", bk)
    assert cp.returncode == 0, cp.stderr
    try:
        u = url.encode()
        blob = struct.pack("<6I", 0x18, 0, 5, 0, 0, len(u)) + u
        for view in (64, 32):
            assert reg_value(wine, "HKLM", CONN, "WinHttpSettings",
                             view) == ("REG_BINARY", blob.hex().upper())
            assert reg_value(wine, "HKLM", DATA, "TelemetryProxyServer",
                             view) == ("REG_SZ", "127.0.0.1:3128")
        assert reg_value(wine, "HKCU", UINET, "AutoConfigURL", 64) == (
            "REG_SZ", url)
        assert reg_value(wine, "HKCU", UINET, "ProxyEnable", 64) == (
            "REG_DWORD", "0x0")
        v = reg_value(wine, "HKCU", UCONN, "DefaultConnectionSettings", 64)
        b = bytes.fromhex(v[1])
        assert struct.unpack("<3I", b[:12])[0::2] == (0x46, 5)
        assert u in b
        got = kv(client(wine, win_build, "defaultproxy").stdout)
        assert got["access"] == "no_proxy", got
    finally:
        cp = hg(wine, hushgate_exe, "reset", "--backup", bk)
        assert cp.returncode == 0, cp.stderr


def test_reset_refuses_a_foreign_backup(wine, hushgate_exe, tmp_path):
    """The backup parser is strict: a key hushgate does not write (here
    Run, which would start programs) is refused with line:col, nothing is
    changed, the file is kept."""
    bk = tmp_path / "backup.reg"
    bk.write_bytes(reg_text([
        (LM + r"SOFTWARE\Microsoft\Windows\CurrentVersion\Run",
         [("x", '"calc.exe"')])]))
    before = snapshot(wine, tmp_path / "before")
    cp = hg(wine, hushgate_exe, "reset", "--backup", wine.winpath(bk))
    assert cp.returncode == 1
    assert re.search(r"backup\.reg:3:1: a key hushgate does not write",
                     cp.stderr), cp.stderr
    assert bk.exists()
    assert not diff(before, snapshot(wine, tmp_path / "after"))
    assert wine.reg_query(LM.replace("HKEY_LOCAL_MACHINE", "HKLM") +
                          r"SOFTWARE\Microsoft\Windows\CurrentVersion\Run",
                          "x").returncode != 0


def test_usage_and_errors(wine, hushgate_exe, tmp_path):
    bk = wine.winpath(tmp_path / "none.reg")
    for args in ([], ["frob"], ["set"], ["set", "--proxy", "nohost"],
                 ["set", "--proxy", "h:1", "--pac", "http://h:1/p"],
                 ["set", "--pac", "file:///x"],
                 ["set", "--proxy", "h:1", "--wininet", "both"],
                 ["show", "--proxy", "h:1"]):
        cp = hg(wine, hushgate_exe, *args)
        assert cp.returncode == 2, (args, cp.stdout, cp.stderr)
        assert "usage: hushgate winhttp" in cp.stderr, args
    cp = hg(wine, hushgate_exe, "reset", "--backup", bk)
    assert cp.returncode == 1
    assert "no backup at" in cp.stderr and cp.stderr.count("\n") == 1


def test_default_backup_path(wine, hushgate_exe, tmp_path):
    """Without --backup the file is %ProgramData%\\hushgate\\
    winhttp-backup.reg (the directory made); reset renames it to
    .restored."""
    d = wine.prefix / "drive_c" / "ProgramData" / "hushgate"
    for f in ("winhttp-backup.reg", "winhttp-backup.reg.restored"):
        if (d / f).exists():
            (d / f).unlink()
    cp = hg(wine, hushgate_exe, "set", "--proxy", "127.0.0.1:3128")
    assert cp.returncode == 0, cp.stderr
    assert (d / "winhttp-backup.reg").is_file()
    assert "C:\\ProgramData\\hushgate\\winhttp-backup.reg" in cp.stdout
    cp = hg(wine, hushgate_exe, "reset")
    assert cp.returncode == 0, cp.stderr
    assert not (d / "winhttp-backup.reg").exists()
    assert (d / "winhttp-backup.reg.restored").is_file()


# ---------------------------------------------------------------------------
# Through the proxy: hushgate.exe under Wine (the wine_proxy fixture), the
# WinHTTP client under Wine, names from the test's hosts file only.


@pytest.fixture
def web():
    s = helpers.HTTPServer()
    yield s
    s.close()


@pytest.fixture
def wired(wine, hushgate_exe, tmp_path):
    """Calls set --proxy for a port; reset at the end."""
    bk = wine.winpath(tmp_path / "wired-backup.reg")
    state = {}

    def wire(port):
        cp = hg(wine, hushgate_exe, "set", "--proxy", "127.0.0.1:%d" % port,
                "--bypass", "<local>", "--backup", bk)
        assert cp.returncode == 0, cp.stderr
        state["set"] = True
    yield wire
    if state:
        cp = hg(wine, hushgate_exe, "reset", "--backup", bk)
        assert cp.returncode == 0, cp.stderr


def test_winhttp_telemetry_request_is_denied(wine, win_build, wine_proxy,
                                             wired):
    """A WinHTTP request with WINHTTP_ACCESS_TYPE_DEFAULT_PROXY to a
    shipped telemetry host over https reaches hushgate as a CONNECT,
    which denies it: the request fails, the decision log has the host
    denied with its category."""
    action, category, rule = Ruleset(BALANCED).match(WATSON, 443)
    assert action == "deny" and category, (action, category)
    p = wine_proxy({"include": [str(BALANCED)], "connect_ports": [443]},
              hosts=[WATSON])
    wired(p.port)
    cp = client(wine, win_build, "get", "https://%s/" % WATSON)
    assert cp.returncode == 1, cp.stdout
    assert re.match(r"error=\d+$", cp.stdout.strip()), cp.stdout
    rec = p.wait_log(lambda r: r.get("host") == WATSON, "watson")[0]
    assert (rec["method"], rec["port"], rec["action"], rec["category"],
            rec["status"], rec["end"]) == ("CONNECT", 443, "deny", category,
                                           403, "denied"), rec


def test_winhttp_plain_http_is_relayed(wine, win_build, wine_proxy, wired,
                                      web):
    """A plain-http WinHTTP request to an allowed test name goes through
    hushgate to a local server: 200 and its body."""
    p = wine_proxy({"include": [str(BALANCED)], "http_ports": [web.port]},
              hosts=["allowed.test"])
    wired(p.port)
    cp = client(wine, win_build, "get",
                "http://allowed.test:%d/hello" % web.port)
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    head, _, body = cp.stdout.partition("\n\n")
    assert head == "status=200", cp.stdout
    assert body == "hello allowed.test:%d /hello\n" % web.port
    rec = p.wait_log(lambda r: r.get("host") == "allowed.test", "allowed")[0]
    assert (rec["method"], rec["action"], rec["status"]) == (
        "GET", "allow", 200), rec


def test_winhttp_pac_policy_mode(wine, win_build, wine_proxy):
    """WinHttpGetProxyForUrl with our PAC URL (pac.mode: policy): our
    proxy for a denied host, DIRECT for an allowed one."""
    p = wine_proxy({"include": [str(BALANCED)], "pac": {"mode": "policy"}})
    pac = "http://127.0.0.1:%d/proxy.pac" % p.port
    cp = client(wine, win_build, "pac", pac, "https://%s/" % WATSON)
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    assert kv(cp.stdout)["proxy"] == "127.0.0.1:%d" % p.port, cp.stdout
    cp = client(wine, win_build, "pac", pac, "https://allowed.test/")
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    assert kv(cp.stdout)["proxy"] == "DIRECT", cp.stdout

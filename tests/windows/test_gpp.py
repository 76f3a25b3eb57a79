"""The Group Policy Preferences items of `hushgate.exe pac --emit-windows`
(gpp/*/Registry.xml) against a Windows registry and WinHTTP (Wine's):

* the WinHttpSettings bytes of the items are the bytes `hushgate.exe
  winhttp set --proxy` writes (`reg export`, both registry views), and
  the undo items' bytes are what Wine's own winhttp.dll writes for "no
  proxy" (WinHttpSetDefaultProxyConfiguration, the call behind netsh);
* the items applied as the Group Policy client applies them (`reg add`
  and `reg delete` of each item's hive, key, value, type and data) make
  WinHttpGetDefaultProxyConfiguration return the proxy, set the
  telemetry policies, and the undo items take it all back.

What Wine cannot show, and the tests say so where it matters:
* Wine's netsh.exe is a stub (it has no winhttp context), so the
  reference for "what netsh winhttp set proxy writes" is hushgate's own
  writer and Wine's winhttp.dll; Wine's WinHttpSetDefaultProxyConfiguration
  writes the flags DWORD as 2 (proxy) where netsh and hushgate write 3
  (direct and proxy), and reads both the same.
* There is no Group Policy client or GPMC under Wine: the items are
  applied with reg.exe, value by value.

Every test leaves the registry as it found it (test_wiring.py's
`pristine` check runs after each one here too).
"""

import re
import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import helpers  # noqa: E402
from helpers import free_port  # noqa: E402
# The registry helpers and the per-test pristine check of test_wiring.py
# (fixtures imported here apply to this module too).
from test_wiring import (CONN, DATA, UINET, client,  # noqa: E402,F401
                         clean_registry, hg, kv, persistent_wineserver,
                         pristine, reg_value)

URL = "http://proxy.corp.test:3128/proxy.pac"
LM = "HKEY_LOCAL_MACHINE"
CONN32 = r"SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion" \
    r"\Internet Settings\Connections"
DIRECT = struct.pack("<5I", 0x18, 0, 1, 0, 0)


def emit(wine, hushgate_exe, tmp_path, proxy):
    """hushgate.exe pac --emit-windows (the Windows build of the
    generator) into tmp_path/win."""
    cfg = helpers.dump_yaml({"dns": {"servers": [],
                                     "hosts_file": "/dev/null"}},
                            tmp_path / "c.yaml")
    d = tmp_path / "win"
    cp = wine.run(hushgate_exe, "pac", "-c", cfg, "--emit-windows", d,
                  "--pac-url", URL, "--proxy", proxy)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return d


def items(d, side):
    """[{action, hive, key, name, type, value}] of gpp/SIDE/Registry.xml."""
    root = ET.parse(d / "gpp" / side / "Registry.xml").getroot()
    assert root.get("clsid") == "{A3CCFC41-DFDB-43a5-8D26-0FE8B954DA51}"
    out = []
    for reg in root.findall("Registry"):
        assert reg.get("clsid") == "{9CD4B2F4-923D-47f5-A062-E897DD1DAD50}"
        pr = reg.find("Properties")
        out.append({k: pr.get(k) for k in ("action", "hive", "key", "name",
                                           "type", "value")})
    return out


def item(its, key, name):
    found = [i for i in its if i["key"] == key and i["name"] == name]
    assert len(found) == 1, (key, name, its)
    return found[0]


def exported(wine, tmp_path, key, view, name):
    """The bytes of a REG_BINARY value as `reg export` writes it (regedit's
    hex: lines, wrapped with a backslash), or None when it is absent."""
    data = wine.reg_export(key, tmp_path / ("export%d.reg" % view),
                           view=view)
    assert data is not None and data.startswith(b"\xff\xfe"), key
    text = re.sub(r"\\\r\n +", "", data[2:].decode("utf-16-le"))
    m = re.search(r'^"%s"=hex:([0-9a-f,]*)\r$' % re.escape(name), text,
                  re.M)
    if m is None:
        assert ('"%s"=' % name) not in text, text
        return None
    return bytes.fromhex(m.group(1).replace(",", ""))


def root_key(it):
    assert it["hive"] in (LM, "HKEY_CURRENT_USER"), it
    return ("HKLM" if it["hive"] == LM else "HKCU") + "\\" + it["key"]


def apply(wine, its):
    """Apply items as the Group Policy client does: Update sets the value
    (creating the key), Delete removes it.  The keys are literal
    (WOW6432Node included), so the 64-bit view is named."""
    for it in its:
        k = root_key(it)
        if it["action"] == "D":
            cp = wine.run("reg", "delete", k, "/v", it["name"], "/f",
                          "/reg:64")
            assert cp.returncode == 0, (it, cp.stdout, cp.stderr)
            continue
        assert it["action"] == "U", it
        data = it["value"]
        if it["type"] == "REG_DWORD":
            data = "0x" + data
        cp = wine.run("reg", "add", k, "/v", it["name"], "/t", it["type"],
                      "/d", data, "/f", "/reg:64")
        assert cp.returncode == 0, (it, cp.stdout, cp.stderr)


@pytest.fixture
def undo_items(wine):
    """Call with the items a test is about to apply: at the end their
    values are deleted, and the keys that did not exist before removed
    (deepest first), so that the registry is as before."""
    seen = []

    def note(its):
        for it in its:
            comps = root_key(it).split("\\")
            prefixes = ["\\".join(comps[:n])
                        for n in range(2, len(comps) + 1)]
            seen.append((root_key(it), it["name"], [
                (p, wine.run("reg", "query", p, "/reg:64").returncode == 0)
                for p in prefixes]))
    yield note
    for k, name, prefixes in seen:
        wine.run("reg", "delete", k, "/v", name, "/f", "/reg:64")
    for k, name, prefixes in seen:
        for p, existed in reversed(prefixes):
            if not existed:
                wine.run("reg", "delete", p, "/f", "/reg:64")


def test_gpp_bytes_are_what_hushgate_winhttp_set_writes(
        wine, hushgate_exe, tmp_path):
    """The WinHttpSettings items (64- and 32-bit view) hold the bytes that
    `hushgate.exe winhttp set --proxy P --bypass <local>` writes, as `reg
    export` shows them: one generator for both (wire/connblob.c)."""
    proxy = "127.0.0.1:%d" % free_port()
    d = emit(wine, hushgate_exe, tmp_path, proxy)
    m = items(d, "Machine")
    bk = wine.winpath(tmp_path / "backup.reg")
    cp = hg(wine, hushgate_exe, "set", "--proxy", proxy, "--bypass",
            "<local>", "--backup", bk)
    assert cp.returncode == 0, cp.stderr
    try:
        for key, view in ((CONN, 64), (CONN32, 32)):
            got = exported(wine, tmp_path, "HKLM\\" + CONN, view,
                           "WinHttpSettings")
            want = item(m, key, "WinHttpSettings")["value"]
            assert got is not None and got.hex().upper() == want, (
                view, got, want)
        # What netsh winhttp set proxy writes, spelled out.
        p = proxy.encode()
        assert bytes.fromhex(item(m, CONN, "WinHttpSettings")["value"]) == \
            struct.pack("<4I", 0x18, 0, 3, len(p)) + p + \
            struct.pack("<I", 7) + b"<local>"
    finally:
        cp = hg(wine, hushgate_exe, "reset", "--backup", bk)
        assert cp.returncode == 0, cp.stderr


def test_gpp_bytes_against_wine_winhttp(wine, hushgate_exe, win_build,
                                        tmp_path, undo_items):
    """Wine's winhttp.dll (WinHttpSetDefaultProxyConfiguration, the call
    that netsh makes on Windows) as the reference: "no proxy" is exactly
    the undo items' 20 bytes, what netsh winhttp reset proxy writes; a
    named proxy is the set items' bytes but for the flags DWORD, which
    Wine writes as 2 (proxy) where netsh and hushgate write 3 (direct and
    proxy); Wine's reader takes both for the same proxy."""
    proxy = "127.0.0.1:%d" % free_port()
    d = emit(wine, hushgate_exe, tmp_path, proxy)
    m, u = items(d, "Machine"), items(d, "Machine-undo")
    undo_items([item(m, CONN, "WinHttpSettings")])
    cp = client(wine, win_build, "setdirect")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    wine_direct = exported(wine, tmp_path, "HKLM\\" + CONN, 64,
                           "WinHttpSettings")
    assert wine_direct == DIRECT
    assert item(u, CONN, "WinHttpSettings")["value"] == \
        wine_direct.hex().upper()
    assert item(u, CONN32, "WinHttpSettings")["value"] == \
        wine_direct.hex().upper()

    cp = client(wine, win_build, "setproxy", proxy, "<local>")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    wine_set = exported(wine, tmp_path, "HKLM\\" + CONN, 64,
                        "WinHttpSettings")
    ours = bytes.fromhex(item(m, CONN, "WinHttpSettings")["value"])
    assert struct.unpack("<I", wine_set[8:12])[0] == 2
    assert struct.unpack("<I", ours[8:12])[0] == 3
    assert wine_set[:8] + wine_set[12:] == ours[:8] + ours[12:]
    # Wine reads its own value and ours alike.
    want = {"access": "named_proxy", "proxy": proxy, "bypass": "<local>"}
    assert kv(client(wine, win_build, "defaultproxy").stdout) == want
    apply(wine, [item(m, CONN, "WinHttpSettings")])
    assert kv(client(wine, win_build, "defaultproxy").stdout) == want


def test_gpp_items_applied_set_the_proxy_and_undo_takes_it_back(
        wine, hushgate_exe, win_build, tmp_path, undo_items):
    """Every item of gpp/Machine and gpp/User applied with reg.exe: the
    WinHTTP default proxy is the proxy (WinHttpGetDefaultProxyConfiguration,
    as services read it), both views hold the bytes, the telemetry
    policies and the other values are there.  Then gpp/Machine-undo and
    gpp/User-undo: WinHTTP is direct again, with the bytes netsh winhttp
    reset proxy writes, and the other values are gone."""
    proxy = "127.0.0.1:%d" % free_port()
    d = emit(wine, hushgate_exe, tmp_path, proxy)
    m, u = items(d, "Machine"), items(d, "Machine-undo")
    usr, usr_undo = items(d, "User"), items(d, "User-undo")
    assert kv(client(wine, win_build, "defaultproxy").stdout)["access"] == \
        "no_proxy"
    undo_items(m + usr)
    apply(wine, m + usr)

    got = kv(client(wine, win_build, "defaultproxy").stdout)
    assert got == {"access": "named_proxy", "proxy": proxy,
                   "bypass": "<local>"}, got
    hexval = item(m, CONN, "WinHttpSettings")["value"]
    for view in (64, 32):
        assert reg_value(wine, "HKLM", CONN, "WinHttpSettings", view) == (
            "REG_BINARY", hexval), view
    assert reg_value(wine, "HKLM", DATA, "TelemetryProxyServer", 64) == (
        "REG_SZ", proxy)
    assert reg_value(wine, "HKLM", DATA, "DisableEnterpriseAuthProxy",
                     64) == ("REG_DWORD", "0x1")
    assert reg_value(wine, "HKCU", UINET, "AutoConfigURL", 64) == (
        "REG_SZ", URL)
    edge = wine.reg_query(r"HKLM\SOFTWARE\Policies\Microsoft\Edge",
                          "ProxySettings")
    assert '"ProxyPacUrl":"%s"' % URL in edge.stdout, edge.stdout

    apply(wine, u + usr_undo)
    got = kv(client(wine, win_build, "defaultproxy").stdout)
    assert got["access"] == "no_proxy", got
    for view in (64, 32):
        assert reg_value(wine, "HKLM", CONN, "WinHttpSettings", view) == (
            "REG_BINARY", DIRECT.hex().upper()), view
    for it in u + usr_undo:
        if it["action"] == "D":
            assert wine.reg_query(root_key(it), it["name"]).returncode != 0, it

"""The Windows package: scripts/build-windows writes
hushgate-VERSION-win64.zip; its file list, the program's imports, and the
shipped configuration and rule sets loading under Wine from the unpacked
folder.

The zip is $HUSHGATE_WIN_ZIP when set (so that a run that has just built
it does not build it twice), else scripts/build-windows builds one into a
temporary directory (the dependencies come from their cache).
"""

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = float(os.environ.get("HUSHGATE_WIN_BUILD_TIMEOUT", "3600"))

# DLLs that every 64-bit Windows has; the package ships no DLL of its own.
SYSTEM_DLLS = {
    "kernel32.dll", "advapi32.dll", "user32.dll", "shell32.dll",
    "ole32.dll", "oleaut32.dll", "ws2_32.dll", "mswsock.dll",
    "iphlpapi.dll", "dnsapi.dll", "bcrypt.dll", "crypt32.dll",
    "secur32.dll", "userenv.dll", "winhttp.dll", "wininet.dll",
    "shlwapi.dll", "ntdll.dll", "msvcrt.dll", "ucrtbase.dll",
}


def version():
    text = (REPO / "configure.ac").read_text()
    m = re.search(r"^AC_INIT\(\[hushgate\], *\[([^]]+)\]", text, re.M)
    assert m, "no AC_INIT version in configure.ac"
    return m.group(1)


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """(zip path, unpacked top folder)."""
    given = os.environ.get("HUSHGATE_WIN_ZIP")
    if given:
        zpath = Path(given)
        assert zpath.is_file(), "HUSHGATE_WIN_ZIP=%s: no such file" % given
    else:
        out = tmp_path_factory.mktemp("dist")
        cp = subprocess.run([str(REPO / "scripts" / "build-windows"),
                             str(out)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            timeout=BUILD_TIMEOUT)
        assert cp.returncode == 0, "scripts/build-windows failed:\n" + \
            cp.stderr[-4000:]
        zpath = Path(cp.stdout.strip().splitlines()[-1])
        assert zpath.parent == out
    unpacked = tmp_path_factory.mktemp("unzipped")
    with zipfile.ZipFile(zpath) as z:
        z.extractall(unpacked)
    return zpath, unpacked / ("hushgate-%s-win64" % version())


def test_zip_name_and_files(package):
    """The zip is named after the version and holds one folder with the
    program, the configuration, every rule set, the scripts, the README
    and the licences of what is linked in; nothing else but examples."""
    zpath, top = package
    assert zpath.name == "hushgate-%s-win64.zip" % version()
    with zipfile.ZipFile(zpath) as z:
        names = [n for n in z.namelist() if not n.endswith("/")]
        assert z.testzip() is None
    prefix = "hushgate-%s-win64/" % version()
    assert all(n.startswith(prefix) for n in names), names
    rel = {n[len(prefix):] for n in names}
    sets = {"sets/" + p.name for p in (REPO / "rules" / "sets").glob("*.yaml")}
    assert "sets/balanced.yaml" in sets
    expected = {
        "hushgate.exe", "hushgate.yaml", "README.txt",
        "Install-Hushgate.ps1", "Uninstall-Hushgate.ps1",
        "licenses/libyaml-LICENSE.txt", "licenses/libevent-LICENSE.txt",
        "licenses/mbedtls-LICENSE.txt",
        "licenses/libidn2-COPYING.LESSERv3.txt",
        "licenses/libidn2-COPYING.txt", "licenses/libidn2-COPYINGv2.txt",
        "licenses/libidn2-COPYING.unicode.txt",
    } | sets
    missing = expected - rel
    assert not missing, missing
    others = {n for n in rel - expected
              if not n.startswith(("licenses/", "examples/"))}
    assert not others, "unexpected files in the zip: %s" % sorted(others)
    # The shipped configuration is hushgate-windows.yaml, the README the
    # Windows one, the sets the repository's.
    assert (top / "hushgate.yaml").read_bytes() == \
        (REPO / "hushgate-windows.yaml").read_bytes()
    assert (top / "README.txt").read_bytes() == \
        (REPO / "scripts" / "windows" / "README.md").read_bytes()
    for s in sets:
        assert (top / s).read_bytes() == \
            (REPO / "rules" / s).read_bytes(), s


def test_exe_is_static_and_stripped(package):
    """hushgate.exe is a 64-bit PE that imports only DLLs of Windows
    itself (no libwinpthread, libgcc or libevent DLL to ship) and carries
    no symbols or debug sections."""
    _, top = package
    objdump = shutil.which("x86_64-w64-mingw32-objdump")
    if objdump is None:
        pytest.fail("x86_64-w64-mingw32-objdump is missing (Debian: "
                    "binutils-mingw-w64-x86-64)")
    out = subprocess.run([objdump, "-p", str(top / "hushgate.exe")],
                         stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    assert "file format pei-x86-64" in out
    dlls = {m.lower() for m in re.findall(r"DLL Name: (\S+)", out)}
    assert dlls, out
    odd = {d for d in dlls
           if d not in SYSTEM_DLLS and not d.startswith("api-ms-win-")}
    assert not odd, "imports DLLs that Windows does not have: %s" % odd
    # The README lists each of them, and what it is for.
    readme = (top / "README.txt").read_text().lower()
    unlisted = {d for d in dlls if "`%s`" % d not in readme}
    assert not unlisted, "README.txt does not list %s" % sorted(unlisted)
    hdrs = subprocess.run([objdump, "-h", str(top / "hushgate.exe")],
                          stdout=subprocess.PIPE, text=True,
                          check=True).stdout
    assert ".debug" not in hdrs
    syms = subprocess.run([objdump, "-t", str(top / "hushgate.exe")],
                          stdout=subprocess.PIPE, text=True,
                          check=True).stdout
    assert "no symbols" in syms, syms[:2000]


def _wine_in(wine, cwd, *args):
    """Run a program under Wine with cwd as its current folder."""
    return subprocess.run([wine.wine] + [str(a) for a in args],
                          env=wine.env, cwd=str(cwd),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, errors="replace", timeout=300)


def test_shipped_config_checks_out(wine, package):
    """`hushgate.exe -t -c hushgate.yaml` in the unpacked folder: the
    shipped configuration and rule sets load ("configuration OK", the
    balanced profile's categories).  Also with the full Windows path
    (backslashes), as Install-Hushgate.ps1 runs it from another folder."""
    _, top = package
    cp = _wine_in(wine, top, "hushgate.exe", "-t", "-c", "hushgate.yaml")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "configuration OK" in cp.stdout
    assert "windows-diagnostics" in cp.stdout
    assert re.search(r"windows-diagnostics\s+deny", cp.stdout), cp.stdout
    cp = _wine_in(wine, REPO, top / "hushgate.exe", "-t", "-c",
                  wine.winpath(top / "hushgate.yaml"))
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "configuration OK" in cp.stdout


def test_version_matches(wine, package):
    """`hushgate.exe --version` prints the version the zip is named
    after (configure.ac's AC_INIT)."""
    _, top = package
    cp = _wine_in(wine, top, "hushgate.exe", "--version")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.splitlines()[0].strip() == "hushgate %s" % version()
    assert "Licence: ISC" in cp.stdout, cp.stdout


def test_scripts_are_ascii(package):
    """The PowerShell scripts are plain ASCII: Windows PowerShell 5.1
    reads a file without a byte order mark in the ANSI code page, so any
    other byte would change meaning."""
    _, top = package
    for name in ("Install-Hushgate.ps1", "Uninstall-Hushgate.ps1"):
        data = (top / name).read_bytes()
        assert all(b < 0x80 for b in data), name


def test_installed_layout_runs_as_service(wine, package):
    """The steps of Install-Hushgate.ps1 that do not need PowerShell,
    under Wine: hushgate.exe in %ProgramFiles%\\hushgate, the shipped
    hushgate.yaml and sets\\ in %ProgramData%\\hushgate (only its port
    changed, to one chosen at run time), `hushgate.exe -t -c` that file,
    `service install` with no -c (the default configuration path),
    `service start`: the proxy denies a telemetry host with 403, writes
    %ProgramData%\\hushgate\\decisions.log and serves /proxy.pac; then
    `service stop` and `service uninstall`."""
    from helpers import Tunnel, raw_request, wait_until
    from test_service import (DENIED_HOST, SVC_TIMEOUT, Keeper, free_port,
                              port_open)

    _, top = package
    drive = wine.prefix / "drive_c"
    progdir = drive / "Program Files" / "hushgate"
    datadir = drive / "ProgramData" / "hushgate"
    added = []
    progdir.mkdir(parents=True, exist_ok=True)
    datadir.mkdir(parents=True, exist_ok=True)
    assert not (datadir / "hushgate.yaml").exists()
    port = free_port()
    shutil.copy(top / "hushgate.exe", progdir / "hushgate.exe")
    shutil.copytree(top / "sets", datadir / "sets")
    text = (top / "hushgate.yaml").read_text()
    assert '"127.0.0.1:3128"' in text
    (datadir / "hushgate.yaml").write_text(
        text.replace('"127.0.0.1:3128"', '"127.0.0.1:%d"' % port))
    added += [datadir / "hushgate.yaml", datadir / "sets",
              datadir / "decisions.log", datadir / "lists"]
    exe = r"C:\Program Files\hushgate\hushgate.exe"
    config = r"C:\ProgramData\hushgate\hushgate.yaml"
    keeper = Keeper(wine)
    try:
        cp = wine.run(exe, "-t", "-c", config)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert "configuration OK" in cp.stdout
        cp = wine.run(exe, "service", "install")
        assert cp.returncode == 0, cp.stdout + cp.stderr
        key = wine.reg_query(r"HKLM\SYSTEM\CurrentControlSet\Services"
                             r"\hushgate", "ImagePath")
        assert ('"%s" service run -c "%s"' % (exe, config)).lower() in \
            key.stdout.lower(), key.stdout
        cp = wine.run(exe, "service", "start", timeout=SVC_TIMEOUT)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        with Tunnel(port, "%s:443" % DENIED_HOST) as t:
            assert t.status == 403
        resp = raw_request(port, b"GET /proxy.pac HTTP/1.1\r\nHost: x\r\n"
                           b"\r\n")
        assert resp.status == 200
        assert b"FindProxyForURL" in resp.body
        wait_until(lambda: (datadir / "decisions.log").exists() and
                   DENIED_HOST in (datadir / "decisions.log").read_text(),
                   "the denial in %ProgramData%\\hushgate\\decisions.log",
                   timeout=SVC_TIMEOUT)
        cp = wine.run(exe, "service", "stop", timeout=SVC_TIMEOUT)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert not port_open(port)
    finally:
        wine.run(exe, "service", "uninstall", timeout=SVC_TIMEOUT)
        keeper.stop()
        for p in added:
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        shutil.rmtree(progdir)

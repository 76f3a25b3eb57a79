# Tests of the Windows build (hushgate.exe, cross-compiled with mingw-w64)
# run under Wine: the real program, real clients (curl, Python, a WinHTTP
# client of ours), real sockets on 127.0.0.1 with ports chosen at run time.
#
# Debian packages: wine wine64 (and what tests/integration needs).
# Run from the repository root after `scripts/build windows`:
#   /usr/bin/python3 -m pytest tests/windows -q
# The build directory is $HUSHGATE_WIN_BUILD, else build/windows.

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

import wine as winemod  # noqa: E402


@pytest.fixture(scope="session")
def win_build():
    d = winemod.win_build()
    exe = d / "hushgate.exe"
    if not exe.is_file():
        pytest.fail("hushgate.exe not found in %s (run scripts/build "
                    "windows, or set HUSHGATE_WIN_BUILD)" % d)
    return d


@pytest.fixture(scope="session")
def hushgate_exe(win_build):
    return win_build / "hushgate.exe"


@pytest.fixture(scope="session")
def wine(tmp_path_factory):
    """A fresh Wine prefix for the session; fails (never skips) when Wine
    is missing."""
    if winemod.wine_binary() is None:
        pytest.fail("wine is not installed (Debian: apt-get install wine "
                    "wine64)")
    w = winemod.Wine(tmp_path_factory.mktemp("wineprefix"))
    w.boot()
    yield w
    w.shutdown()

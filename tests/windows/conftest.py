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


# The integration suite's fixtures (test CA, TLS contexts), shared rather
# than copied: its conftest is loaded under a name of its own.
def _integration_conftest():
    import importlib.util
    path = Path(__file__).resolve().parents[1] / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location("integration_conftest",
                                                  path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_ic = _integration_conftest()
test_ca = _ic.test_ca
server_tls_ctx = _ic.server_tls_ctx
client_tls_ctx = _ic.client_tls_ctx


@pytest.fixture
def wine_proxy(tmp_path, wine, hushgate_exe):
    """Start hushgate.exe under Wine: wine_proxy(config, hosts) -> a
    helpers.Proxy-like object (port, log_lines(), wait_log(), stop())."""
    cls = winemod.wine_proxy_class()
    cls.wine = wine
    cls.exe = hushgate_exe
    started = []

    def make(config=None, hosts=()):
        p = cls(tmp_path / ("proxy%d" % len(started)), config or {}, hosts,
                start=False)
        started.append(p)
        p.start()
        return p

    yield make
    problems = []
    for p in started:
        problems += p.finish()
    assert not problems, "\n".join(problems)

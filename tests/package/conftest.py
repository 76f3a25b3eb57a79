# The paths a newcomer takes, run once per test run (not per build
# flavour): the README's first command on a machine without the test-only
# dependencies, the release tarball, the installed layout.  They build
# hushgate themselves, in scratch trees, from the files in this checkout.
#
# Run from the repository root:
#   /usr/bin/python3 -m pytest tests/package -q

import os
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

import helpers  # noqa: E402
from helpers import TCPServer  # noqa: E402

REPO = helpers.REPO

# The packages scripts/deps build installs whose pkg-config files
# configure reads: everything else (cmocka above all) is hidden.
BUILD_PC = ("libevent", "libevent_pthreads", "yaml-0.1", "libidn2", "yajl",
            "libisal", "libpsl")


def source_files():
    """The files of this checkout that a clone has (git ls-files), or
    every file outside build products when there is no git metadata."""
    if (REPO / ".git").exists():
        out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"],
                             stdout=subprocess.PIPE, check=True).stdout
        return [p for p in out.decode().split("\0") if p]
    skip = {"build", ".git", "__pycache__", "hushgate"}
    files = []
    for root, dirs, names in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in skip]
        for n in names:
            files.append(os.path.relpath(os.path.join(root, n), REPO))
    return files


@pytest.fixture
def scratch_clone(tmp_path):
    """A copy of the checkout's files in a scratch folder, as a clone
    would have them (modes kept), without any build tree."""
    dst = tmp_path / "hushgate"
    for rel in source_files():
        src = REPO / rel
        if not src.exists() and not src.is_symlink():
            continue		# deleted in the work tree, not yet committed
        out = dst / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, out, follow_symlinks=False)
    return dst


@pytest.fixture
def build_only_pkgconfig(tmp_path):
    """A PKG_CONFIG_LIBDIR with only the build dependencies' .pc files:
    configure sees the machine as scripts/deps build leaves it."""
    d = tmp_path / "pkgconfig"
    d.mkdir()
    for name in BUILD_PC:
        cp = subprocess.run(["pkg-config", "--variable=pcfiledir", name],
                            stdout=subprocess.PIPE, text=True)
        assert cp.returncode == 0, "pkg-config cannot find %s" % name
        (d / (name + ".pc")).symlink_to(
            Path(cp.stdout.strip()) / (name + ".pc"))
    env = dict(os.environ, PKG_CONFIG_LIBDIR=str(d))
    # The point of the folder: cmocka is not there.
    cp = subprocess.run(["pkg-config", "--exists", "cmocka"], env=env)
    assert cp.returncode != 0, "cmocka still visible to configure"
    return d


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory):
    """A throwaway CA and a server certificate for *.test and 127.0.0.1."""
    return helpers.make_test_ca(tmp_path_factory.mktemp("ca"),
                                ("origin.test",))


@pytest.fixture(scope="session")
def tls_origin(test_ca):
    """A TLS echo server on 127.0.0.1 (certificate for origin.test)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(test_ca["cert"], test_ca["key"])
    srv = TCPServer("echo", tls_ctx=ctx)
    yield srv
    srv.close()

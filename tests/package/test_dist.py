"""The release tarball: `make dist` gives hushgate-VERSION.tar.gz holding
the sources and no build products; unpacked, it configures, builds and
installs with only the runtime build dependencies visible to pkg-config
(libevent, libevent_pthreads, libyaml, libidn2, yajl, libisal, libpsl:
cmocka hidden); what it installs
passes `hushgate -t` (the default configuration and every example) and
uninstall removes it all; `make distcheck` passes.

Nothing is built in the tree of the binary under test: a scratch build
directory is configured from the same sources (those of the build
directory $HUSHGATE_BIN lives in)."""

import os
import re
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from helpers import hushgate_bin

RUNTIME_PC = ("libevent", "libevent_pthreads", "yaml-0.1", "libidn2", "yajl",
              "libisal", "libpsl")
# Made by autoreconf, in the tarball but not in the repository.
GENERATED = {"configure", "Makefile.in", "aclocal.m4", "config.h.in"}
# In the repository, deliberately not in the tarball.
NOT_SHIPPED_RE = re.compile(r"^\.ci/|(^|/)\.gitignore$")
PRODUCT_RE = re.compile(r"(^|/)(__pycache__|\.pytest_cache|\.deps|build)/"
                        r"|\.(o|a|pyc|pyo|log|trs)$"
                        r"|(^|/)(\.dirstamp|Makefile|config\.status|config\.h"
                        r"|stamp-h1)$")

# Building everything from scratch on a loaded machine: minutes, not hours.
SLOW = 1800


def _env(**extra):
    env = dict(os.environ, LC_ALL="C")
    env.pop("MAKEFLAGS", None)
    env.pop("MFLAGS", None)
    env.update(extra)
    return env


def _run(cmd, cwd, env=None, timeout=SLOW):
    cp = subprocess.run(cmd, cwd=str(cwd), env=env or _env(),
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        universal_newlines=True, timeout=timeout,
                        shell=isinstance(cmd, str))
    return cp


def _must(cmd, cwd, env=None, timeout=SLOW):
    cp = _run(cmd, cwd, env, timeout)
    assert cp.returncode == 0, "%s (in %s) exited %d:\n%s" % (
        cmd, cwd, cp.returncode, cp.stdout[-6000:])
    return cp.stdout


def _source_dir():
    """The sources the binary under test was built from."""
    build = Path(hushgate_bin()).resolve().parent
    mk = build / "Makefile"
    assert mk.is_file(), ("%s has no Makefile: the binary under test was "
                          "not built with configure and make" % build)
    m = re.search(r"^abs_top_srcdir = (.+)$", mk.read_text(), re.M)
    assert m, "no abs_top_srcdir in %s" % mk
    src = Path(m.group(1).strip())
    assert (src / "configure").is_file(), "%s has no configure" % src
    return src


def _version(src):
    m = re.search(r"AC_INIT\(\[hushgate\], \[([^]]+)\]",
                  (src / "configure.ac").read_text())
    assert m, "no version in configure.ac"
    return m.group(1)


@pytest.fixture(scope="module")
def src():
    return _source_dir()


@pytest.fixture(scope="module")
def configured(src, tmp_path_factory):
    """A scratch build directory configured from the sources."""
    b = tmp_path_factory.mktemp("build")
    _must([str(src / "configure"), "-q"], b)
    return b


@pytest.fixture(scope="module")
def tarball(src, configured, tmp_path_factory):
    _must(["make", "dist"], configured)
    name = "hushgate-%s.tar.gz" % _version(src)
    made = configured / name
    assert made.is_file(), "make dist made no %s: %s" % (
        name, sorted(p.name for p in configured.iterdir()))
    d = tmp_path_factory.mktemp("tarball")
    shutil.copy(str(made), str(d / name))
    return d / name


def _members(path, top):
    with tarfile.open(str(path)) as tf:
        ms = tf.getmembers()
    bad = [m.name for m in ms if m.name != top
           and not m.name.startswith(top + "/")]
    assert not bad, "outside %s/: %s" % (top, bad[:10])
    return {m.name[len(top) + 1:]: m for m in ms
            if m.isfile() and m.name.startswith(top + "/")}


def _git_files(src, *args):
    cp = subprocess.run(["git", "-C", str(src), "ls-files", "-z"] +
                        list(args), stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE)
    assert cp.returncode == 0, cp.stderr
    return {f for f in cp.stdout.decode().split("\0") if f}


def test_tarball_holds_the_sources(src, tarball):
    ver = _version(src)
    assert tarball.name == "hushgate-%s.tar.gz" % ver
    files = _members(tarball, "hushgate-%s" % ver)
    products = sorted(f for f in files if PRODUCT_RE.search(f))
    assert not products, "build products in the tarball: %s" % products
    for f in ("LICENSE", "README.md", "configure", "Makefile.in",
              "hushgate.yaml", "hushgate-gateway.yaml",
              "rules/sets/balanced.yaml", "rules/yamldoc.h",
              "proxy/hushgate.8", "rules/hushgate.yaml.5"):
        assert f in files, "%s is not in the tarball" % f
    for f in ("configure", "scripts/build", "scripts/test", "tests/fuzz/run"):
        assert files[f].mode & stat.S_IXUSR, "%s lost its x bit" % f
    if not (src / ".git").exists():
        return  # sources from a tarball: nothing to compare with
    tracked = _git_files(src)
    missing = sorted(f for f in tracked
                     if f not in files and not NOT_SHIPPED_RE.search(f))
    assert not missing, ("in the repository but not in the tarball (list "
                         "them in Makefile.am): %s" % missing)
    known = tracked | _git_files(src, "--others", "--exclude-standard")
    stray = sorted(f for f in files if f not in known
                   and f not in GENERATED and not f.startswith("build-aux/"))
    assert not stray, "in the tarball but not sources: %s" % stray


def _runtime_pkgconfig(d):
    """A pkg-config directory holding only the runtime build
    dependencies' .pc files."""
    pkgconf = shutil.which("pkg-config")
    assert pkgconf, "pkg-config is not installed"
    d.mkdir()
    for name in RUNTIME_PC:
        cp = subprocess.run([pkgconf, "--variable=pcfiledir", name],
                            stdout=subprocess.PIPE, universal_newlines=True)
        assert cp.returncode == 0, "no %s.pc" % name
        pc = Path(cp.stdout.strip()) / ("%s.pc" % name)
        assert pc.is_file(), pc
        (d / pc.name).symlink_to(pc)
    env = _env(PKG_CONFIG_LIBDIR=str(d))
    env.pop("PKG_CONFIG_PATH", None)
    for name in RUNTIME_PC:
        assert subprocess.run([pkgconf, "--exists", name],
                              env=env).returncode == 0, name
    assert subprocess.run([pkgconf, "--exists", "cmocka"],
                          env=env).returncode != 0, "cmocka is visible"
    return env


def _check_ok(hg, cfg, cwd):
    cp = subprocess.run([str(hg), "-t", "-c", str(cfg)], cwd=str(cwd),
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        universal_newlines=True, timeout=120)
    assert cp.returncode == 0 and "configuration OK" in cp.stdout, \
        "-t -c %s exited %d:\n%s%s" % (cfg, cp.returncode, cp.stdout[-3000:],
                                       cp.stderr[-3000:])


def test_tarball_builds_installs_and_checks(src, tarball, tmp_path):
    ver = _version(src)
    _must(["tar", "xzf", str(tarball)], tmp_path)
    top = tmp_path / ("hushgate-%s" % ver)
    inst = tmp_path / "inst"
    env = _runtime_pkgconfig(tmp_path / "pc")
    out = _must("./configure && make && make install prefix=%s" % inst,
                top, env)
    assert re.search(r"checking for cmocka .*\.\.\. no", out), \
        "configure saw cmocka"
    hg = inst / "bin" / "hushgate"
    assert os.access(str(hg), os.X_OK), "no bin/hushgate installed"
    cp = subprocess.run([str(hg), "--version"], stdout=subprocess.PIPE,
                        universal_newlines=True)
    lines = cp.stdout.splitlines()
    assert cp.returncode == 0 and lines[0] == "hushgate %s" % ver, cp.stdout
    assert "Licence: ISC (see LICENSE)" in lines[1:], cp.stdout
    doc = inst / "share" / "doc" / "hushgate"
    assert (doc / "LICENSE").read_text() == (src / "LICENSE").read_text()
    assert "ISC" in (top / "README.md").read_text().split("## Licence")[-1]
    _check_ok(hg, Path("etc/hushgate/hushgate.yaml"), inst)
    examples = sorted((doc / "examples").glob("*.yaml"))
    assert "hushgate-gateway.yaml" in [p.name for p in examples], examples
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for cfg in examples:
        _check_ok(hg, cfg, elsewhere)
    # Uninstall leaves no file behind (what distcheck checks too).
    _must("make uninstall prefix=%s" % inst, top, env)
    left = sorted(str(p.relative_to(inst)) for p in inst.rglob("*")
                  if not p.is_dir())
    assert not left, "left after make uninstall: %s" % left


def test_distcheck(configured):
    out = _must(["make", "distcheck"], configured)
    assert "archives ready for distribution" in out, out[-3000:]

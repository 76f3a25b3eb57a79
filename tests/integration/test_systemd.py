"""The systemd unit, the sysusers.d snippet and the logrotate snippet, as
shipped in the tree and as `make install` installs them: systemd-analyze
verify accepts the unit, systemd-sysusers creates the user and group the
unit runs as, and logrotate -d accepts the snippet without naming a user
that nothing creates.

Debian packages: systemd, logrotate, make, man-db."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import REPO, TIMEOUT, hushgate_bin, run_hushgate

SHIPPED = REPO / "scripts/systemd"
FILES = ("hushgate.service", "hushgate.sysusers", "hushgate.logrotate")
# The paths in the shipped unit: `make install` with the default prefix.
PREFIX = "/usr/local"


def need(tool, package):
    path = shutil.which(tool) or (
        "/usr/sbin/" + tool if Path("/usr/sbin", tool).exists() else None)
    if path is None:
        pytest.fail("%s is not installed (Debian package %s)" % (tool,
                                                                 package))
    return path


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`make install prefix=DIR` from the build directory of the binary
    under test; returns DIR."""
    make = need("make", "make")
    build = Path(hushgate_bin()).resolve().parent
    if not (build / "Makefile").is_file():
        pytest.fail("no Makefile next to %s: make install needs the build "
                    "directory of the binary under test" % hushgate_bin())
    prefix = tmp_path_factory.mktemp("prefix")
    cp = subprocess.run([make, "-s", "-C", str(build), "install",
                         "prefix=%s" % prefix],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        timeout=TIMEOUT * 30)
    assert cp.returncode == 0, cp.stdout.decode()
    return prefix


def examples_dir(prefix):
    found = list(prefix.glob("share/doc/*/examples"))
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(params=["tree", "installed"])
def where(request):
    """(directory holding the three files, install prefix or None)."""
    if request.param == "tree":
        return SHIPPED, None
    prefix = request.getfixturevalue("installed")
    return examples_dir(prefix), prefix


def unit_value(unit, key):
    values = re.findall(r"^%s=(.*)$" % key, unit, re.M)
    assert len(values) == 1, (key, values)
    return values[0]


def test_make_install_ships_them(installed):
    ex = examples_dir(installed)
    for name in FILES:
        assert (ex / name).read_bytes() == (SHIPPED / name).read_bytes(), name
    assert (installed / "bin/hushgate").is_file()
    assert (installed / "share/man/man8/hushgate.8").is_file()
    assert (installed / "share/man/man5/hushgate.yaml.5").is_file()


def test_unit_verifies(where, tmp_path):
    """systemd-analyze verify also checks that ExecStart='s program exists
    and that the man: pages of Documentation= are there: the unit names
    the installed binary (/usr/local/bin/hushgate), which a test cannot
    install.  So a copy of the unit is verified, with PREFIX in its Exec
    lines rewritten: to the install prefix of `make install prefix=DIR` for
    the installed unit, to the binary under test for the one in the tree.
    The man pages come from DIR, or from the tree."""
    analyze = need("systemd-analyze", "systemd")
    src, prefix = where
    unit = (src / "hushgate.service").read_text()
    exec_lines = re.findall(r"^(Exec\w+=.*)$", unit, re.M)
    assert any(l.startswith("ExecStart=%s/bin/hushgate " % PREFIX)
               for l in exec_lines), exec_lines
    env = dict(os.environ)
    for line in exec_lines:
        if prefix is not None:
            new = line.replace(PREFIX + "/", str(prefix) + "/")
        else:
            new = line.replace(PREFIX + "/bin/hushgate", hushgate_bin())
        unit = unit.replace(line, new)
    if prefix is not None:
        env["MANPATH"] = str(prefix / "share/man")
    else:
        man = tmp_path / "man"
        (man / "man8").mkdir(parents=True)
        (man / "man5").mkdir(parents=True)
        shutil.copy(REPO / "proxy/hushgate.8", man / "man8")
        shutil.copy(REPO / "rules/hushgate.yaml.5", man / "man5")
        env["MANPATH"] = str(man)
    assert PREFIX + "/bin/" not in unit
    (tmp_path / "hushgate.service").write_text(unit)
    cp = subprocess.run([analyze, "verify", str(tmp_path / "hushgate.service")],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        timeout=TIMEOUT * 3, env=env)
    out = cp.stdout.decode()
    assert cp.returncode == 0, out
    assert "hushgate.service" not in out, out


def test_installed_unit_checks_installed_configuration(installed):
    """ExecStartPre= of the installed unit, pointed at the install prefix:
    the configuration `make install` writes loads, with the rule sets it
    installs."""
    unit = (examples_dir(installed) / "hushgate.service").read_text()
    pre = unit_value(unit, "ExecStartPre").split()
    assert pre[0] == PREFIX + "/bin/hushgate" and pre[1] == "-t", pre
    args = [a.replace(PREFIX + "/", str(installed) + "/") for a in pre[1:]]
    assert Path(args[-1]).is_file(), args
    cp = run_hushgate(args)
    assert cp.returncode == 0, cp.stderr
    assert "configuration OK" in cp.stdout


def test_sysusers_creates_the_unit_user(where, tmp_path):
    """systemd-sysusers, on an empty root, creates a system user and group
    named as the unit's User= and Group=."""
    sysusers = need("systemd-sysusers", "systemd")
    src, _ = where
    unit = (src / "hushgate.service").read_text()
    user, group = unit_value(unit, "User"), unit_value(unit, "Group")
    assert "DynamicUser=yes" not in unit
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    # read from standard input: with --root, a file named on the command
    # line is looked for under the root
    cp = subprocess.run([sysusers, "--root=%s" % root, "-"],
                        input=(src / "hushgate.sysusers").read_bytes(),
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        timeout=TIMEOUT * 3)
    assert cp.returncode == 0, cp.stdout.decode()
    passwd = [l.split(":") for l in
              (root / "etc/passwd").read_text().splitlines()]
    groups = [l.split(":") for l in
              (root / "etc/group").read_text().splitlines()]
    users = {p[0]: p for p in passwd}
    gids = {g[0]: g[2] for g in groups}
    assert user in users, passwd
    assert group in gids, groups
    uid, gid, shell = int(users[user][2]), users[user][3], users[user][6]
    assert 0 < uid < 1000, "not a system user: %r" % users[user]
    assert gid == gids[group], (users[user], groups)
    assert shell.endswith("/nologin"), users[user]


def test_logrotate_debug(where, tmp_path):
    """logrotate -d reads the snippet without an error, as it is."""
    logrotate = need("logrotate", "logrotate")
    src, _ = where
    conf = src / "hushgate.logrotate"
    cp = subprocess.run([logrotate, "-d", "-s", str(tmp_path / "state"),
                         str(conf)],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        timeout=TIMEOUT * 3)
    out = cp.stdout.decode()
    assert cp.returncode == 0, out
    assert "error" not in out.lower(), out
    assert "Handling 1 logs" in out, out


def test_logrotate_names_only_the_unit_user(where):
    """A user or group in create/su of the snippet is the unit's, which the
    sysusers.d snippet creates; better none (the new file then keeps the
    owner of the one hushgate wrote)."""
    src, _ = where
    unit = (src / "hushgate.service").read_text()
    ours = {unit_value(unit, "User"), unit_value(unit, "Group")}
    for line in (src / "hushgate.logrotate").read_text().splitlines():
        words = line.split()
        if words and words[0] == "create":
            assert all(w in ours for w in words[2:]), line
        if words and words[0] == "su":
            assert all(w in ours for w in words[1:]), line


"""The command line: -t on the shipped configuration and profiles, -t on
every broken configuration of tests/data/badconfig (the unit tests load the
same files through the library; here the binary must print each expected
error), --version, --help."""

import re
import socket
from pathlib import Path

import pytest

from helpers import REPO, dump_yaml, run_hushgate

BADCONFIG = REPO / "tests" / "data" / "badconfig"
EXPECT_RE = re.compile(r"^# expect: (?:(\S+?):)?(\d+):(\d+): (.+)$")
ERRORS_RE = re.compile(r"^# errors: (\d+)$")


def _set_files():
    return sorted((REPO / "rules" / "sets").glob("*.yaml"))


def _assert_ok(cp, what):
    out = cp.stdout + cp.stderr
    assert cp.returncode == 0, "%s: exit %d\n%s" % (what, cp.returncode, out)
    assert "configuration OK" in out, out


def test_t_shipped_default_config(hushgate, tmp_path):
    cfg = REPO / "hushgate.yaml"
    assert cfg.is_file(), "no hushgate.yaml at the repository root"
    # Run elsewhere: relative includes are relative to the file.
    _assert_ok(run_hushgate(["-t", "-c", str(cfg)], cwd=str(tmp_path)),
               "hushgate.yaml")


def test_shipped_sets_exist():
    names = {p.name for p in _set_files()}
    assert {"balanced.yaml", "strict.yaml", "audit.yaml",
            "lockdown.yaml"} <= names, names


@pytest.mark.parametrize("path", _set_files() or [None],
                         ids=lambda p: p.name if p else "none")
def test_t_each_shipped_set(hushgate, tmp_path, path):
    assert path is not None, "no rules/sets/*.yaml shipped"
    _assert_ok(run_hushgate(["-t", "-c", str(path)], cwd=str(tmp_path)),
               path.name)


@pytest.mark.parametrize("path", _set_files() or [None],
                         ids=lambda p: p.name if p else "none")
def test_t_profile_included_by_absolute_path(hushgate, tmp_path, path):
    assert path is not None, "no rules/sets/*.yaml shipped"
    cfg = dump_yaml({"listen": ["127.0.0.1:0"], "include": [str(path)],
                     "dns": {"servers": [], "hosts_file": "/dev/null"},
                     "log": {"decisions": None}}, tmp_path / "c.yaml")
    _assert_ok(run_hushgate(["-t", "-c", str(cfg)], cwd=str(tmp_path)),
               path.name)


def _bad_cases():
    files = sorted(BADCONFIG.glob("*.yaml"))
    return [pytest.param(f, id=f.stem) for f in files] or [None]


def _error_lines(stderr):
    """(file, line, col, message) for every "file:line:col: message"."""
    out = []
    for l in stderr.splitlines():
        if l.startswith("hushgate: "):
            l = l[len("hushgate: "):]
        m = re.match(r"^(.+?):(\d+):(\d+): (.*)$", l)
        if m:
            out.append((m.group(1), int(m.group(2)), int(m.group(3)),
                        m.group(4)))
    return out


def _bad_header(path):
    """The leading comment lines of a badconfig case: a list of (file or
    None, line, col, text) and the number of errors (None when not
    given)."""
    expects, count = [], None
    for l in path.read_text(errors="replace").splitlines():
        if not l.startswith("#"):
            break
        m = EXPECT_RE.match(l)
        if m:
            expects.append((m.group(1), int(m.group(2)), int(m.group(3)),
                            m.group(4)))
        m = ERRORS_RE.match(l)
        if m:
            count = int(m.group(1))
    return expects, count


@pytest.mark.parametrize("path", _bad_cases())
def test_t_broken_config(hushgate, path):
    """hushgate -t refuses the file and prints, for each "# expect:" line,
    an error "FILE:LINE:COL: ..." containing its text (the same check as
    the unit test's, made on the binary's stderr), and exactly "# errors:"
    errors when given."""
    assert path is not None, "no tests/data/badconfig cases"
    expects, count = _bad_header(path)
    assert expects, "%s has no '# expect:' line" % path
    cp = run_hushgate(["-t", "-c", path.name], cwd=str(BADCONFIG))
    assert cp.returncode == 1, "exit %d\n%s%s" % (cp.returncode, cp.stdout,
                                                  cp.stderr)
    assert "configuration OK" not in cp.stdout + cp.stderr
    errors = _error_lines(cp.stderr)

    def where(name):
        p = Path(name)
        return (p if p.is_absolute() else BADCONFIG / p).resolve()

    missing = []
    for fname, line, col, text in expects:
        want = where(fname or path.name)
        if not [e for e in errors if where(e[0]) == want and
                (e[1], e[2]) == (line, col) and text in e[3]]:
            missing.append("%s:%d:%d: %s" % (fname or path.name, line, col,
                                             text))
    assert not missing, "no error like:\n  %s\nstderr:\n%s" % (
        "\n  ".join(missing), cp.stderr)
    if count is not None:
        assert len(errors) == count, "%d errors, expected %d; stderr:\n%s" % (
            len(errors), count, cp.stderr)


def test_t_does_not_bind(hushgate, tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        cfg = dump_yaml({"listen": ["127.0.0.1:%d" % busy.getsockname()[1]],
                         "dns": {"servers": [], "hosts_file": "/dev/null"}},
                        tmp_path / "c.yaml")
        _assert_ok(run_hushgate(["-t", "-c", str(cfg)]), "busy port")
    finally:
        busy.close()


def test_t_missing_file(hushgate, tmp_path):
    missing = tmp_path / "nope.yaml"
    cp = run_hushgate(["-t", "-c", str(missing)])
    assert cp.returncode == 1
    assert "nope.yaml" in cp.stderr


def test_version(hushgate):
    cp = run_hushgate(["--version"])
    assert cp.returncode == 0
    assert re.search(r"hushgate\S* \d+\.\d+", cp.stdout + cp.stderr), \
        cp.stdout + cp.stderr


def test_help(hushgate):
    cp = run_hushgate(["--help"])
    assert cp.returncode == 0
    out = cp.stdout + cp.stderr
    for word in ("-c", "-t", "explain"):
        assert word in out, out


def test_unknown_option(hushgate):
    cp = run_hushgate(["--no-such-option"])
    assert cp.returncode != 0
    assert cp.stderr.strip(), "no diagnostic for an unknown option"


def test_t_warns_about_ties_and_counts_globs(hushgate, tmp_path):
    cfg = tmp_path / "tie.yaml"
    cfg.write_text("categories:\n"
                   "  first:\n"
                   "    action: deny\n"
                   "    hosts: [tie.test, \"*.g*.test\"]\n"
                   "  second:\n"
                   "    action: allow\n"
                   "    hosts: [tie.test]\n")
    cp = run_hushgate(["-t", "-c", str(cfg)])
    _assert_ok(cp, "tie")
    out = cp.stdout + cp.stderr
    warn = [l for l in out.splitlines() if "warning" in l.lower()]
    assert any("tie.test" in l and "first" in l and "second" in l
               for l in warn), out
    assert re.search(r"\bglobs?\b\D{0,3}1\b|\b1 (?:mid-label )?globs?\b",
                     out), out


def _shipped_configs():
    return [REPO / "hushgate.yaml"] + _set_files()


@pytest.mark.parametrize("path", _shipped_configs(),
                         ids=lambda p: p.name)
def test_t_shipped_rules_check_clean(hushgate, tmp_path, path):
    # The shipped profiles are what a new user checks first: no warning
    # about the shipped rules themselves.
    cp = run_hushgate(["-t", "-c", str(path)], cwd=str(tmp_path))
    _assert_ok(cp, path.name)
    assert re.search(r"^warnings: 0$", cp.stdout, re.M), cp.stdout
    assert "warning" not in cp.stdout.replace("warnings: 0", ""), cp.stdout
    assert "note:" not in cp.stdout, cp.stdout


def test_t_v_lists_cross_category_overlaps(hushgate, tmp_path):
    # The overlap report is still there on request: a rule inside a
    # broader rule of another category with the same action is a note,
    # not a warning; the same inside its own category is a warning.
    cfg = tmp_path / "overlap.yaml"
    cfg.write_text(
        "categories:\n"
        "  broad:\n"
        "    action: deny\n"
        "    hosts: [.events.test, dup.events.test]\n"
        "  narrow:\n"
        "    action: deny\n"
        "    hosts: [crash.events.test]\n")
    quiet = run_hushgate(["-t", "-c", str(cfg)])
    _assert_ok(quiet, "overlap")
    assert re.search(r"^warnings: 1$", quiet.stdout, re.M), quiet.stdout
    assert re.search(r"overlap\.yaml:4: warning: dup\.events\.test is "
                     r"already covered by \.events\.test", quiet.stdout)
    assert "crash.events.test" not in quiet.stdout
    loud = run_hushgate(["-t", "-v", "-c", str(cfg)])
    _assert_ok(loud, "overlap -v")
    assert re.search(r"^warnings: 1$", loud.stdout, re.M), loud.stdout
    notes = [l for l in loud.stdout.splitlines() if " note: " in l]
    assert len(notes) == 1, loud.stdout
    assert re.match(r".*overlap\.yaml:7: note: crash\.events\.test \(category "
                    r"narrow\) is inside \.events\.test \(.*overlap\.yaml:4, "
                    r"category broad\), which has the same action today$",
                    notes[0]), notes


@pytest.mark.parametrize("style", ["flow", "block"])
def test_t_deep_nesting_refused_at_its_place(hushgate, tmp_path, style):
    # 100,000 levels: libyaml's scanner does work for every open flow level
    # at each token, so without a bound this takes minutes. Refused at the
    # node that opens level 257 (the top-level mapping is level 1), which
    # is reached after reading a few hundred bytes of the file.
    depth = 100000
    cfg = tmp_path / "deep.yaml"
    if style == "flow":
        cfg.write_text("note: " + "[" * depth + "]" * depth + "\n")
        place = (1, len("note: ") + 256)
    else:
        cfg.write_text("note:\n" + "- " * depth + "x\n")
        place = (2, 1 + 2 * 255)
    cp = run_hushgate(["-t", "-c", str(cfg)])
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert "configuration OK" not in cp.stdout + cp.stderr
    errors = _error_lines(cp.stderr)
    assert [(Path(e[0]).name, e[1], e[2]) for e in errors] == \
        [("deep.yaml",) + place], cp.stderr
    assert "nested deeper than 256 levels" in errors[0][3], cp.stderr

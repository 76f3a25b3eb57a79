"""The manual pages as a reader sees them: each page rendered by man(1) and
col(1) at 80 columns, and checked on that text -- one synopsis form a line,
quotes that open and close where they should, no macro or escape left
showing, the examples of EXAMPLES run against the binary -- and then linted
by mandoc(1) and groff(1).

Debian packages: man-db, groff-base, bsdextrautils (col), mandoc."""

import functools
import os
import re
import shlex
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from helpers import REPO, TIMEOUT, hushgate_bin, run_hushgate

PAGES = {
    "hushgate.8": REPO / "proxy/hushgate.8",
    "hushgate.yaml.5": REPO / "rules/hushgate.yaml.5",
}

# A section heading starts in column 0; the body is indented.
HEADING_RE = re.compile(r"^[A-Z][A-Z ]+$")
# The hyphen groff puts at the end of a line when it breaks a word.
BREAK_HYPHEN = "\u2010"


def need(tool, package):
    path = shutil.which(tool)
    if path is None:
        pytest.fail("%s is not installed (Debian package %s)" % (tool,
                                                                 package))
    return path


def render_env():
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MANPAGER="cat",
               PAGER="cat")
    env.pop("MAN_KEEP_FORMATTING", None)
    return env


@functools.lru_cache(maxsize=None)
def rendered(name):
    """The page as `man -l PAGE | col -bx` shows it (col -x: spaces, not
    tabs, so that indentation can be compared)."""
    man = need("man", "man-db")
    col = need("col", "bsdextrautils")
    page = subprocess.run([man, "-l", str(PAGES[name])],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=render_env(), timeout=TIMEOUT * 3)
    assert page.returncode == 0, page.stderr.decode()
    text = subprocess.run([col, "-bx"], input=page.stdout,
                          stdout=subprocess.PIPE, check=True,
                          env=render_env(), timeout=TIMEOUT * 3)
    out = text.stdout.decode("utf-8")
    assert len(out.splitlines()) > 100, out
    return out


def sections(name):
    """{heading: [lines]} of the rendered page (header and footer left
    out)."""
    lines = rendered(name).splitlines()[1:-1]
    out, cur = {}, None
    for line in lines:
        if HEADING_RE.match(line):
            cur = out.setdefault(line, [])
        elif cur is not None:
            cur.append(line)
    return out


def join(lines):
    """Lines of running text as one string: a word broken by a hyphen at
    the end of a line is joined again, and white space is collapsed."""
    text = ""
    for line in lines:
        line = line.strip()
        if text.endswith(BREAK_HYPHEN) and text[-2:-1].isalpha():
            text = text[:-1] + line
        else:
            text = (text + " " + line) if text else line
    return " ".join(text.split())


def paragraphs(name):
    """Blocks of the rendered page separated by blank lines, each joined."""
    body = rendered(name).splitlines()[1:-1]
    blocks, cur = [], []
    for line in body:
        if line.strip():
            cur.append(line)
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    return [join(b) for b in blocks]


def literal_blocks(lines):
    """(prose before it, [lines]) for each indented display of a section:
    the section's text is indented 5 columns, a display 11."""
    out, prose, cur = [], [], None
    for line in lines + [""]:
        indent = len(line) - len(line.lstrip())
        if line.strip() and indent >= 11:
            if cur is None:
                cur = []
            cur.append(line)
            continue
        if cur is not None:
            out.append((join(prose), cur))
            cur, prose = None, []
        if line.strip():
            prose.append(line)
    return out


# ---------------------------------------------------------------------------
# hushgate(8): SYNOPSIS

SYNOPSIS = [
    "hushgate [-d] [-c file] [-L format]",
    "hushgate -t [-v] [-c file]",
    "hushgate explain [-c file] [--http] [--group name] [--sni name]"
    " [target ...]",
    "hushgate lists update [-c file]",
    "hushgate pac [-c file] [--proxy host:port[,...]] [--mode all | policy]"
    " [--fallback direct | block] [-o file]",
    "hushgate pac [-c file] --emit-windows dir --pac-url url"
    " [--proxy host:port]",
    "hushgate certs init [--dir dir] [--name name ...] [--ip address ...]"
    " [--days n] [--force]",
    "hushgate certs show [-c file]",
    "hushgate users add | del name [-c file] [--users-file file]",
    "hushgate users list [-c file] [--users-file file]",
    "hushgate report [-c file] [--since time] [--until time]"
    " [--client address] [--format table | tsv | json] [--top n]"
    " [--unknown [--format yaml]] [log ...]",
    "hushgate ctl [-c file] [-s socket] status | reload | lists-update",
    "hushgate ctl [-c file] [-s socket] pause category duration",
    "hushgate ctl [-c file] [-s socket] resume category",
    "hushgate service install | uninstall | start | stop | reload | status"
    " | run [-c file]",
    "hushgate winhttp set --proxy host:port | --pac url [--bypass list]"
    " [--wininet user | machine] [--telemetry-policy] [--backup file]",
    "hushgate winhttp show | reset [--backup file]",
    "hushgate --version",
    "hushgate -h | --help",
]


def synopsis_forms():
    """Each form of SYNOPSIS: a line starting with the name, joined with
    the more indented lines that continue it."""
    forms = []
    for line in sections("hushgate.8")["SYNOPSIS"]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 5:
            forms.append([line])
        else:
            assert forms and indent > 5, line
            forms[-1].append(line)
    return [join(f) for f in forms]


def test_synopsis_one_form_a_line():
    forms = synopsis_forms()
    for form in forms:
        assert form.split()[0] == "hushgate", form
        assert form.split().count("hushgate") == 1, \
            "two commands on one synopsis line: %r" % form
    assert forms == SYNOPSIS


def test_synopsis_names_every_command_of_usage():
    """Every command of `hushgate --help` has a form of its own."""
    cp = run_hushgate(["--help"])
    assert cp.returncode == 0, cp.stderr
    usage = [l.split() for l in cp.stdout.splitlines()
             if re.match(r"^(usage:)?\s+hushgate ", l)]
    assert len(usage) >= 8, cp.stdout
    heads = {f.split()[1] for f in synopsis_forms()}
    for words in usage:
        words = words[words.index("hushgate") + 1:]
        if words and words[0].isalpha():
            assert words[0] in heads, (words, heads)


# ---------------------------------------------------------------------------
# Quotes

# Each was rendered with its quotes in the wrong places (`.Qq a , Qq b`
# quotes everything to the end of the line).
QUOTED = {
    "hushgate.8": [
        'logged with "end":"tls_error" or "end":"tls_timeout".',
    ],
    "hushgate.yaml.5": [
        '(["127.0.0.0/8", "::1/128"]).',
        'recorded with "end":"proxy_untrusted" or'
        ' "end":"proxy_protocol_error".',
        'its record has "end":"destination_guard".',
        '(domain fronting: "end":"sni_mismatch"),',
        '("not_tls" or "bad_client_hello").',
        'gets \u2018503\u2019 with "end":"overload_client" and a log line',
        'written to the decision record ("sni").',
        'when a ClientHello to a host name carries no name ("sni_missing"),',
    ],
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_quoted_examples_exact(name):
    text = " ".join(paragraphs(name))
    for want in QUOTED[name]:
        assert want in text, want


def quote_faults(par):
    """What is wrong with the quotes of one paragraph, or []."""
    faults = []
    # a quote character shown quoted, as in `without '"' or '\'`
    par = par.replace("\u2018\"\u2019", "\u2018q\u2019")
    if '""' in par:
        faults.append("doubled quote")
    if par.count('"') % 2:
        faults.append("odd number of quotes")
    else:
        # taken in pairs, every quoted string is non-empty and has no
        # white space just inside its quotes
        for s in re.findall(r'"([^"]*)"', par):
            if not s or s != s.strip():
                faults.append("quoted %r" % s)
    for o, c in (("\u201c", "\u201d"), ("\u2018", "\u2019")):
        depth = 0
        for ch in par:
            if ch == o:
                if depth:
                    faults.append("%s opened twice" % o)
                depth = 1
            elif ch == c and o == "\u201c":
                if not depth:
                    faults.append("%s without %s" % (c, o))
                depth = 0
            elif ch == c:
                depth = 0      # U+2019 is also an apostrophe
        if depth:
            faults.append("%s not closed" % o)
    return faults


def test_quote_check_finds_the_old_faults():
    """The check below catches what the pages used to show."""
    for bad in ('(["127.0.0.0/8, "::1/128""]).',
                'with "end: "tls_error"" or "tls_timeout".',
                '("not_tls, "bad_client_hello"").',
                '\u201cHTTPS proxy:',
                'with \u2018503 and'):
        assert quote_faults(bad), bad
    for good in ('(["127.0.0.0/8", "::1/128"]).',
                 'without \u2018"\u2019 or \u2018\\\u2019; default'
                 ' "hushgate".',
                 '{"ts":"2026-11-25T18:40:01.123Z","user":null,'
                 ' "group":null}',
                 "the client's first bytes"):
        assert not quote_faults(good), good


@pytest.mark.parametrize("name", sorted(PAGES))
def test_quotes_balanced(name):
    bad = [(p, quote_faults(p)) for p in paragraphs(name) if quote_faults(p)]
    assert not bad, "\n".join("%s: %s" % (f, p) for p, f in bad)


# ---------------------------------------------------------------------------
# Macros and escapes left showing, lint

# A macro name shown as a word of its own ("Ns" in "for Ns:" is N, then s).
MACRO_WORD_RE = re.compile(
    r"(?<![\w-])(Ns|Pq|Qq|Dq|Sq|Ql|Li|Ic|Ar|Fl|Cm|Op|Xr|Sx|Pa|Dv|Ev|Bq|Brq|"
    r"Po|Pc|Bo|Bc|Qo|Qc|Oo|Oc|Nm|Nd|Bd|Ed|Bl|El|Pp|Dl)(?= |$)")
ESCAPE_RE = re.compile(r"\\[&(*efs]|\\\[|^\s*\.[A-Za-z]{2}\b")


@pytest.mark.parametrize("name", sorted(PAGES))
def test_no_macro_or_escape_shown(name):
    shown = []
    for line in rendered(name).splitlines():
        if MACRO_WORD_RE.search(line) or ESCAPE_RE.search(line):
            shown.append(line)
    assert not shown, "\n".join(shown)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_man_warnings(name):
    man = need("man", "man-db")
    cp = subprocess.run([man, "--warnings", "-l", str(PAGES[name])],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                        env=render_env(), timeout=TIMEOUT * 3)
    assert cp.returncode == 0 and not cp.stderr, cp.stderr.decode()


@pytest.mark.parametrize("name", sorted(PAGES))
def test_mandoc_lint(name):
    # Warnings and above: the STYLE level also reports manuals that are
    # not installed (hushgate.yaml(5) while testing) and the state of the
    # machine's mandoc.db.
    mandoc = need("mandoc", "mandoc")
    cp = subprocess.run([mandoc, "-T", "lint", "-W", "warning",
                         str(PAGES[name])],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        timeout=TIMEOUT * 3)
    assert cp.returncode == 0 and not cp.stdout, cp.stdout.decode()


@pytest.mark.parametrize("name", sorted(PAGES))
def test_groff_warnings(name):
    groff = need("groff", "groff-base")
    cp = subprocess.run([groff, "-mandoc", "-ww", "-z", str(PAGES[name])],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        timeout=TIMEOUT * 3)
    assert cp.returncode == 0 and not cp.stdout, cp.stdout.decode()


# ---------------------------------------------------------------------------
# The examples of hushgate(8), run

def shell_commands(lines, prompt):
    """(command, [output lines]) for each `PROMPT command` line of the
    displays in lines; a line ending in a backslash continues on the
    next."""
    out, cur = [], None
    for line in lines:
        s = line.strip()
        if cur is not None and cur[0].endswith("\\"):
            cur[0] = cur[0][:-1].rstrip() + " " + s
        elif s.startswith(prompt + " "):
            cur = [s[len(prompt) + 1:], []]
            out.append(cur)
        elif cur is not None and s:
            cur[1].append(s)
        elif not s:
            cur = None
    return [(c, o) for c, o in out]


@pytest.fixture
def example_dir(tmp_path):
    """The shipped configuration and rule sets, where the examples can write
    what they make."""
    shutil.copy(REPO / "hushgate.yaml", tmp_path / "hushgate.yaml")
    shutil.copytree(REPO / "rules/sets", tmp_path / "rules/sets")
    return tmp_path


def test_hushgate8_examples_run(example_dir):
    """The examples that need no root, network or running proxy: their
    command lines, as a reader copies them, work, and explain prints what
    the page says it prints."""
    ran = []
    for cmd, output in shell_commands(sections("hushgate.8")["EXAMPLES"],
                                      "$"):
        argv = shlex.split(cmd)
        if argv[0] != "hushgate" or "<" in argv or argv[1] not in (
                "-t", "explain", "pac"):
            continue
        cp = run_hushgate(argv[1:], cwd=str(example_dir))
        assert cp.returncode == 0, (cmd, cp.stderr)
        if argv[1] == "explain":
            got = [l.split() for l in cp.stdout.splitlines()]
            want = [l.split() for l in output]
            assert len(got) == len(want), (cmd, cp.stdout)
            for g, w in zip(got, want):
                # host:port, action, category and the rule's file (its
                # line number moves with the rule sets)
                assert g[:3] == w[:3], (cmd, g, w)
                assert g[3].split(":")[0] == w[3].split(":")[0], (g, w)
        ran.append(argv[1])
    assert sorted(ran) == ["-t", "explain", "explain", "explain", "pac",
                           "pac"], ran
    assert (example_dir / "proxy.pac").stat().st_size > 0
    assert (example_dir / "win/hushgate-user.reg").is_file()


def test_hushgate8_install_steps_create_the_service_user():
    """The steps in EXAMPLES create the user the shipped unit runs as."""
    unit = (REPO / "scripts/systemd/hushgate.service").read_text()
    user = re.search(r"^User=(\S+)$", unit, re.M).group(1)
    group = re.search(r"^Group=(\S+)$", unit, re.M).group(1)
    steps = shell_commands(sections("hushgate.8")["EXAMPLES"], "#")
    cmds = [shlex.split(c) for c, _ in steps]
    useradd = [c for c in cmds if c[0] == "useradd"]
    assert len(useradd) == 1, steps
    assert useradd[0][-1] == user and "--system" in useradd[0]
    assert "--user-group" in useradd[0] and group == user
    assert ["systemd-sysusers", "hushgate.conf"] in cmds
    installed = {c[-1] for c in cmds if c[0] == "install"}
    assert installed == {"/etc/sysusers.d/hushgate.conf",
                         "/etc/systemd/system/", "/etc/logrotate.d/hushgate"}
    for c in cmds:
        if c[0] == "install":
            assert (REPO / "scripts/systemd" / c[-2]).is_file(), c


# ---------------------------------------------------------------------------
# The examples of hushgate.yaml(5), checked by hushgate -t

def yaml5_examples():
    blocks = literal_blocks(sections("hushgate.yaml.5")["EXAMPLES"])
    return [(prose, yaml.safe_load(textwrap.dedent("\n".join(lines))))
            for prose, lines in blocks]


def check(cfg, where):
    cp = run_hushgate(["-t", "-c", str(cfg)], cwd=str(where))
    assert cp.returncode == 0, (cfg.read_text(), cp.stderr)
    assert "configuration OK" in cp.stdout


def test_yaml5_examples_check(example_dir):
    """Each example configuration passes hushgate -t as the text before it
    says to use it: the shipped main file, added to it, changed in it, or a
    file of one's own named in its include."""
    examples = yaml5_examples()
    assert len(examples) == 7, [p for p, _ in examples]
    prose, main = examples[0]
    assert prose.startswith("The shipped main file")
    assert main == yaml.safe_load((REPO / "hushgate.yaml").read_text())
    (example_dir / "users").write_text("")
    (example_dir / "lists").mkdir()
    (example_dir / "corp-proxy.credentials").write_text("svc:secret\n")
    for n, (prose, doc) in enumerate(examples[1:]):
        cfg = example_dir / ("example%d.yaml" % n)
        if prose.startswith("A file of one's own"):
            (example_dir / "own.yaml").write_text(yaml.safe_dump(doc))
            doc = dict(main, include=["own.yaml"])
        elif prose.startswith("Added to the shipped main file"):
            doc = dict(main, **doc)
        else:
            for lst in doc.get("categories", {}).get("blocklists", {}).get(
                    "lists", []):
                (example_dir / lst["file"]).write_text("")
            doc = dict(main, **doc)
        cfg.write_text(yaml.safe_dump(doc))
        check(cfg, example_dir)


def test_every_end_code_is_documented():
    # The table of termination codes in dlog.c (their names and Squid
    # codes) lists every code the log can carry (a unit test holds it to
    # the metrics' list); hushgate(8)'s DECISION LOG section describes each
    # one.
    table = (REPO / "proxy" / "dlog.c").read_text()
    table = table[table.index("squid_codes["):]
    table = table[:table.index("};")]
    codes = set(re.findall(r'\{ "(\w+)",', table)) - {"other"}
    assert len(codes) > 30, codes
    text = "\n".join(sections("hushgate.8")["DECISION LOG"])
    missing = sorted(c for c in codes
                     if not re.search(r"^\s+%s\b" % c, text, re.M))
    assert not missing, "end codes not described in hushgate(8): %s" % \
        missing

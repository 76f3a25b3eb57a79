# Lists in every format hushgate reads, from small fixtures written for
# these tests (tests/data/lists/, one file per format): the rules each
# loads, the lines it skips and reports with file:line, and how its names
# are decided. Checks against real published blocklists live apart, in
# tests/reallists (scripts/test-real-lists), as those lists are not part
# of the repository.

import re
from collections import namedtuple
from pathlib import Path

import pytest

from helpers import list_config, run_hushgate

LISTS = Path(__file__).resolve().parents[1] / "data" / "lists"




# One fixture per format. quirks: what the file's bytes show (checked, so
# that an editor or a checkout that normalises them cannot make the test
# weaker unnoticed): "bom", "crlf", "lf" (line ends), "no-final-newline".
# rules and dups: the "rules: N (...; duplicates dropped D)" line of -t.
# skipped: {line: reason} of the lines reported as skipped; more: the
# number skipped in all when it is more than the five reported.
# decisions: (host, action, category, line of the rule in the fixture);
# category "-" and line None when no rule matched.
Fixture = namedtuple("Fixture", "file format quirks rules dups skipped "
                     "more categories decisions")

FIXTURES = [
    Fixture("domains.txt", "domains", {"bom", "lf", "no-final-newline"},
            8, 1, {
                15: "not a plain host name",        # *.wild.example
                16: "more than one name on the line",
                17: "not a plain host name",        # bad$char
                18: "invalid UTF-8 in host name",
                19: "not a plain host name",        # .dot.example
            }, 0, None, [
                ("tracker.example", "deny", "list", 6),
                ("sub.tracker.example", "allow", "-", None),
                ("upper.case.example", "deny", "list", 7),
                ("dotted.example", "deny", "list", 8),
                ("spaced.example", "deny", "list", 10),
                ("tabbed.example", "deny", "list", 11),
                ("xn--bcher-kva.example", "deny", "list", 13),
                ("m\u00fcnchen.test", "deny", "list", 14),
                ("wild.example", "allow", "-", None),
                ("x.wild.example", "allow", "-", None),
                ("two.example", "allow", "-", None),
                ("three.example", "allow", "-", None),
                ("dot.example", "allow", "-", None),
                ("last.example", "deny", "list", 20),
            ]),
    Fixture("domains-suffix.txt", "domains-suffix",
            {"crlf", "no-final-newline"}, 5, 0, {
                8: "not a plain host name",         # *.star.example
                9: "not a plain host name",         # .dot.example
                10: "more than one name on the line",
            }, 0, None, [
                ("telemetry.example", "deny", "list", 3),
                ("a.b.telemetry.example", "deny", "list", 3),
                ("xtelemetry.example", "allow", "-", None),
                ("ads.test", "deny", "list", 4),
                ("www.ads.test", "deny", "list", 4),
                ("b\u00fccher.test", "deny", "list", 6),
                ("www.xn--mnchen-3ya.example", "deny", "list", 7),
                ("sub.star.example", "allow", "-", None),
                ("a.example", "allow", "-", None),
                ("last.example", "deny", "list", 11),
                ("x.last.example", "deny", "list", 11),
            ]),
    Fixture("hosts.txt", "hosts", {"bom", "crlf", "no-final-newline"},
            9, 1, {
                19: "no name after the address",
                20: "no name after the address",
                21: "first column is not an address",
                22: "not a plain host name",        # bad/name, kept.example
            }, 0, None, [
                ("ads.example", "deny", "list", 13),
                ("x.ads.example", "allow", "-", None),
                ("a.track.example", "deny", "list", 14),
                ("b.track.example", "deny", "list", 14),
                ("c.track.example", "deny", "list", 14),
                ("three", "allow", "-", None),
                ("v6.example", "deny", "list", 15),
                ("b\u00fccher.example", "deny", "list", 16),
                ("xn--mnchen-3ya.example", "deny", "list", 17),
                ("kept.example", "deny", "list", 22),
                ("name-only.example", "allow", "-", None),
                ("x.example", "allow", "-", None),
                ("localhost", "allow", "-", None),
                ("localhost.localdomain", "allow", "-", None),
                ("local", "allow", "-", None),
                ("broadcasthost", "allow", "-", None),
                ("ip6-allnodes", "allow", "-", None),
                ("0.0.0.0", "allow", "-", None),
                ("last.example", "deny", "list", 24),
            ]),
    Fixture("dstdomain.txt", "dstdomain", {"lf", "no-final-newline"},
            6, 0, {
                9: "not a name or .name",           # *.wild.example
                10: "not a name or .name",          # ..double.example
                11: "more than one name on the line",
            }, 0, None, [
                ("ads.example", "deny", "list", 3),
                ("x.ads.example", "deny", "list", 3),
                ("exact.example", "deny", "list", 4),
                ("www.exact.example", "allow", "-", None),
                ("a.mixed.case.test", "deny", "list", 5),
                ("www.xn--bcher-kva.example", "deny", "list", 6),
                ("m\u00fcnchen.test", "deny", "list", 7),
                ("sub.m\u00fcnchen.test", "allow", "-", None),
                ("x.wild.example", "allow", "-", None),
                ("double.example", "allow", "-", None),
                ("last.example", "deny", "list", 12),
                ("x.last.example", "deny", "list", 12),
            ]),
    Fixture("wildcard.txt", "wildcard", {"crlf", "lf", "no-final-newline"},
            5, 0, {
                7: "not a *.name wildcard",         # plain.example
                8: "not a *.name wildcard",         # *.*.double.example
                9: "not a *.name wildcard",         # *bad.example
                10: "not a *.name wildcard",        # .dot.example
            }, 0, None, [
                ("ads.example", "allow", "-", None),
                ("x.ads.example", "deny", "list", 2),
                ("a.b.ads.example", "deny", "list", 2),
                ("tracker.test", "allow", "-", None),
                ("www.tracker.test", "deny", "list", 3),
                ("b\u00fccher.example", "allow", "-", None),
                ("x.b\u00fccher.example", "deny", "list", 5),
                ("a.xn--mnchen-3ya.test", "deny", "list", 6),
                ("plain.example", "allow", "-", None),
                ("x.double.example", "allow", "-", None),
                ("last.example", "allow", "-", None),
                ("x.last.example", "deny", "list", 11),
            ]),
    Fixture("adblock.txt", "adblock", {"bom", "lf", "no-final-newline"},
            6, 0, {
                6: "adblock syntax other than ||name^",    # $third-party
                7: "adblock syntax other than @@||name^",  # $important
                8: "adblock syntax other than ||name^",    # ##.banner
                9: "adblock syntax other than ||name^",    # /regex/
                11: "adblock syntax other than ||name^",   # a path
                # 12 (a path before ^) and 13 (|url) are only counted
            }, 7, {"list": 4, "list-exceptions": 2}, [
                ("ads.example", "deny", "list", 3),
                ("x.ads.example", "deny", "list", 3),
                ("tracker.test", "deny", "list", 4),
                ("b.tracker.test", "deny", "list", 4),
                ("ok.tracker.test", "allow", "list-exceptions", 5),
                ("a.ok.tracker.test", "allow", "list-exceptions", 5),
                ("x.example", "allow", "-", None),
                ("example.test", "allow", "-", None),
                ("paths.example", "allow", "-", None),
                ("pipe.example", "allow", "-", None),
                ("xn--bcher-kva.example", "deny", "list", 14),
                ("m\u00fcnchen.test", "allow", "list-exceptions", 15),
                ("last.example", "deny", "list", 16),
            ]),
    Fixture("dnsmasq.txt", "dnsmasq", {"crlf", "no-final-newline"},
            10, 0, {
                11: "not a dnsmasq local=, server= or address= line",
                12: "not a dnsmasq local=, server= or address= line",
                13: "not a plain host name",        # local=/*.wild.example/
            }, 0, None, [
                ("ads.example", "deny", "list", 2),
                ("x.ads.example", "deny", "list", 2),
                ("one.example", "deny", "list", 3),
                ("a.two.example", "deny", "list", 3),
                ("srv.example", "deny", "list", 4),
                ("srv-up.example", "deny", "list", 5),
                ("192.0.2.53", "allow", "-", None),
                ("addr.example", "deny", "list", 6),
                ("0.0.0.0", "allow", "-", None),
                ("addr6.example", "deny", "list", 7),
                ("b\u00fccher.example", "deny", "list", 9),
                ("sub.xn--mnchen-3ya.test", "deny", "list", 10),
                ("wild.example", "allow", "-", None),
                ("last.example", "deny", "list", 14),
            ]),
    Fixture("rpz.txt", "rpz", {"bom", "lf", "no-final-newline"},
            10, 0, {
                16: "rpz record other than NAME CNAME .",  # rpz-passthru.
                17: "rpz record other than NAME CNAME .",  # an A record
                18: "not a plain host name",        # bad$.example
                19: "not a plain host name",        # *bad.example
            }, 0, None, [
                ("ads.example", "deny", "list", 7),
                ("x.ads.example", "deny", "list", 8),
                ("exact.example", "deny", "list", 9),
                ("x.exact.example", "allow", "-", None),
                ("dotted.example", "deny", "list", 10),
                ("only-subs.example", "allow", "-", None),
                ("a.only-subs.example", "deny", "list", 11),
                ("upper.test", "deny", "list", 12),
                ("b\u00fccher.example", "deny", "list", 13),
                ("x.b\u00fccher.example", "deny", "list", 14),
                ("xn--mnchen-3ya.test", "deny", "list", 15),
                ("localhost", "allow", "-", None),
                ("rpz.example", "allow", "-", None),
                ("ok.example", "allow", "-", None),
                ("a.example", "allow", "-", None),
                ("last.example", "deny", "list", 20),
                ("x.last.example", "allow", "-", None),
            ]),
    Fixture("glob.txt", "glob", {"lf", "no-final-newline"}, 8, 0, {
                9: "a lone '*' matches everything",
                10: "a glob without letters or digits matches everything",
                11: "not a name or glob",           # bad/char.example
                12: "not a name or glob",           # UTF-8 (no globbing)
            }, 0, None, [
                ("v10.vortex-win.data.example", "deny", "list", 2),
                ("x.vortex.data.example", "deny", "list", 2),
                ("vortex.data.example", "allow", "-", None),
                ("telemetry.metrics.example", "deny", "list", 3),
                ("metrics.example", "allow", "-", None),
                ("exact.example", "deny", "list", 4),
                ("x.exact.example", "allow", "-", None),
                ("sub.example", "allow", "-", None),
                ("a.sub.example", "deny", "list", 5),
                ("ab.test", "deny", "list", 6),
                ("a.x.b.test", "deny", "list", 6),
                ("mixed-up.case.test", "deny", "list", 7),
                ("char.example", "allow", "-", None),
                ("b\u00fccher.example", "deny", "list", 13),
                ("last.example", "deny", "list", 14),
            ]),
    Fixture("ips.txt", "ips", {"crlf", "no-final-newline"}, 10, 1, {
                10: "bad address range",            # end before start
                11: "bad address range",            # IPv6 range
                12: "invalid address or prefix",    # 300.1.2.3
                13: "not an address or prefix",     # a name
                14: "invalid address or prefix",    # /33
            }, 0, None, [
                ("192.0.2.1", "deny", "list", 2),
                ("192.0.2.2", "allow", "-", None),
                ("198.51.100.200", "deny", "list", 3),
                # 203.0.113.10-20: the prefixes /31, /30, /30, /32
                ("203.0.113.9", "allow", "-", None),
                ("203.0.113.10", "deny", "list", 4),
                ("203.0.113.15", "deny", "list", 4),
                ("203.0.113.20", "deny", "list", 4),
                ("203.0.113.21", "allow", "-", None),
                ("[2001:db8::5]", "deny", "list", 5),
                ("[2001:db9::5]", "allow", "-", None),
                ("10.255.255.255", "deny", "list", 6),
                ("192.0.2.7", "deny", "list", 8),
                ("[::ffff:192.0.2.7]", "deny", "list", 8),
                ("203.0.113.29", "allow", "-", None),
                ("host.example", "allow", "-", None),
                ("100.127.255.255", "deny", "list", 15),
                ("100.128.0.0", "allow", "-", None),
            ]),
]


def _quirks(data):
    """The quirks data shows, as the quirks column names them."""
    q = set()
    if data.startswith(b"\xef\xbb\xbf"):
        q.add("bom")
    if b"\r\n" in data:
        q.add("crlf")
    if re.search(rb"(?<!\r)\n", data):
        q.add("lf")
    if not data.endswith(b"\n"):
        q.add("no-final-newline")
    return q


def test_every_list_format_has_a_fixture(tmp_path):
    # The formats the binary knows, from its message for an unknown one.
    cp = run_hushgate(["-t", "-c", str(list_config(tmp_path, LISTS / "x",
                                                "no-such-format"))])
    assert cp.returncode != 0
    m = re.search(r"unknown list format 'no-such-format' \(([^)]*)\)",
                  cp.stderr)
    assert m, cp.stderr
    known = m.group(1).split(", ")
    assert len(known) >= 10, known
    assert sorted(f.format for f in FIXTURES) == sorted(known)


@pytest.mark.parametrize("fx", FIXTURES, ids=[f.format for f in FIXTURES])
def test_list_fixture_loads(tmp_path, fx):
    path = LISTS / fx.file
    assert _quirks(path.read_bytes()) == fx.quirks, path
    cp = run_hushgate(["-t", "-c", str(list_config(tmp_path, path, fx.format))])
    assert cp.returncode == 0, cp.stderr
    assert "configuration OK" in cp.stdout
    m = re.search(r"^rules: (\d+) .*duplicates dropped (\d+)\)$", cp.stdout,
                  re.M)
    assert m, cp.stdout
    assert (int(m.group(1)), int(m.group(2))) == (fx.rules, fx.dups), \
        cp.stdout
    # Each skipped line is named with its file:line and why, the first
    # five of the file; when there were more, their number in all.
    name = re.escape(str(path))
    skipped = {int(l): why for l, why in re.findall(
        r"^%s:(\d+): warning: line skipped: (.*)$" % name, cp.stdout, re.M)}
    assert sorted(skipped) == sorted(fx.skipped), cp.stdout
    for line, why in fx.skipped.items():
        assert skipped[line].startswith(why), (line, cp.stdout)
    total = re.findall(r"^%s: warning: (\d+) lines skipped in all$" % name,
                       cp.stdout, re.M)
    assert total == ([str(fx.more)] if fx.more else []), cp.stdout
    # and nothing else is warned about
    assert re.search(r"^warnings: %d$" % (len(fx.skipped) +
                                          (1 if fx.more else 0)),
                     cp.stdout, re.M), cp.stdout
    for cat, n in (fx.categories or {"list": fx.rules}).items():
        assert re.search(r"^  %s +\w+ +%d rules " % (re.escape(cat), n),
                         cp.stdout, re.M), (cat, cp.stdout)


@pytest.mark.parametrize("fx", FIXTURES, ids=[f.format for f in FIXTURES])
def test_list_fixture_decisions(tmp_path, fx):
    path = LISTS / fx.file
    cfg = list_config(tmp_path, path, fx.format)
    cp = run_hushgate(["explain", "-c", str(cfg)] +
                      [d[0] for d in fx.decisions])
    assert cp.returncode == 0, cp.stderr
    got = [l.split("\t")[1:] for l in cp.stdout.splitlines()]
    want = [[action, cat, "-" if line is None else "%s:%d" % (path, line)]
            for _, action, cat, line in fx.decisions]
    assert len(got) == len(want), cp.stdout
    for (host, *_), g, w in zip(fx.decisions, got, want):
        assert g == w, (host, cp.stdout)

def test_list_quirks_and_skipped_lines(tmp_path):
    # BOM, CRLF, comments of three kinds, blank lines, trailing spaces,
    # upper case, a trailing dot, a duplicate, an IDN name in UTF-8, localhost entries, several
    # names on one line, a final line without newline, and two lines that
    # are not hosts syntax (reported with file:line, not dropped silently).
    lst = tmp_path / "quirks.hosts"
    lst.write_bytes(
        b"\xef\xbb\xbf# header\r\n"
        b"! adblock-style comment\r\n"
        b"; rpz-style comment\r\n"
        b"\r\n"
        b"0.0.0.0 Tracker.Example.   \r\n"
        b"0.0.0.0 tracker.example\r\n"
        b"127.0.0.1 localhost localhost.localdomain\r\n"
        b":: a.example b.example c.example # trailing comment\r\n"
        b"not-an-address d.example\r\n"
        b"0.0.0.0 bad_char$.example\r\n"
        b"0.0.0.0 b\xc3\xbccher.example\r\n"
        b"0.0.0.0 last.example")
    cfg = list_config(tmp_path, lst, "hosts")
    cp = run_hushgate(["-t", "-c", str(cfg)])
    assert cp.returncode == 0, cp.stderr
    m = re.search(r"^rules: (\d+) .*duplicates dropped (\d+)", cp.stdout,
                  re.M)
    assert m, cp.stdout
    assert (int(m.group(1)), int(m.group(2))) == (6, 1), cp.stdout
    assert re.search(r"quirks\.hosts:9: warning: line skipped", cp.stdout)
    assert re.search(r"quirks\.hosts:10: warning: line skipped", cp.stdout)
    cp = run_hushgate(["explain", "-c", str(cfg), "tracker.example",
                       "last.example", "localhost", "d.example",
                       "xn--bcher-kva.example"])
    actions = [l.split("\t")[1] for l in cp.stdout.splitlines()]
    # the IDN name in the list is its punycode form on the wire
    assert actions == ["deny", "deny", "allow", "allow", "deny"], cp.stdout


def test_shadowed_names_are_reported_by_check(tmp_path):
    # A name under a broader rule of the same action is reported with both
    # sources; a more specific rule of the opposite action is an exception
    # and is kept silently (and wins).
    cfg = tmp_path / "shadow.yaml"
    cfg.write_text(
        "dns: {servers: [], hosts_file: null}\n"
        "categories:\n"
        "  block:\n"
        "    action: deny\n"
        "    hosts: [.live.com, telemetry.live.com]\n"
        "  keep:\n"
        "    action: allow\n"
        "    hosts: [login.live.com]\n")
    cp = run_hushgate(["-t", "-c", str(cfg)])
    assert cp.returncode == 0, cp.stderr
    shadow = [l for l in cp.stdout.splitlines() if "already covered" in l]
    assert len(shadow) == 1, cp.stdout
    assert re.match(r".*shadow\.yaml:5: warning: telemetry\.live\.com is "
                    r"already covered by \.live\.com \(.*shadow\.yaml:5\)",
                    shadow[0]), shadow
    cp = run_hushgate(["explain", "-c", str(cfg), "login.live.com",
                       "x.live.com"])
    assert [l.split("\t")[1] for l in cp.stdout.splitlines()] == \
        ["allow", "deny"], cp.stdout


def test_adblock_exceptions_allow(tmp_path):
    lst = tmp_path / "ab.txt"
    lst.write_text("[Adblock Plus]\n! comment\n||tracker.example^\n"
                   "@@||ok.tracker.example^\n||ads.example^$third-party\n")
    cfg = list_config(tmp_path, lst, "adblock")
    cp = run_hushgate(["-t", "-c", str(cfg)])
    assert cp.returncode == 0, cp.stderr
    # the line with options is reported, not dropped silently
    assert re.search(r"ab\.txt:5: warning: line skipped", cp.stdout)
    assert re.search(r"^  list-exceptions +allow +1 rules", cp.stdout,
                     re.M), cp.stdout
    cp = run_hushgate(["explain", "-c", str(cfg), "tracker.example",
                       "a.ok.tracker.example", "b.tracker.example"])
    got = [l.split("\t")[1:3] for l in cp.stdout.splitlines()]
    assert got == [["deny", "list"], ["allow", "list-exceptions"],
                   ["deny", "list"]], cp.stdout


def _bounded_config(tmp_path, lst, max_bytes=None, global_max=None,
                    url=None):
    # Written by hand: the test needs the place of the file: value,
    # line 7 column 15.
    cfg = tmp_path / "bound.yaml"
    text = ("dns: {servers: [], hosts_file: null}\n"
            "log: {decisions: null}\n"
            "categories:\n"
            "  list:\n"
            "    action: deny\n"
            "    lists:\n")
    if url is None:
        text += "      - file: %s\n" % lst
    else:
        text += "      - url: %s\n" % url
    text += "        format: domains\n"
    if max_bytes is not None:
        text += "        max_bytes: %s\n" % max_bytes
    if global_max is not None:
        text += "lists: {max_bytes: %s, cache_dir: %s}\n" % (
            global_max, tmp_path / "cache")
    cfg.write_text(text)
    return cfg


def _rules(cp):
    m = re.search(r"^rules: (\d+) ", cp.stdout, re.M)
    assert m, cp.stdout + cp.stderr
    return int(m.group(1))


def test_list_file_over_max_bytes_is_refused_at_its_place(tmp_path):
    lst = tmp_path / "names.txt"
    lst.write_text("".join("n%d.example\n" % i for i in range(100)))
    size = lst.stat().st_size
    # The list's own bound, then lists.max_bytes.
    for own, glob in ((size - 1, None), (None, size - 1)):
        cfg = _bounded_config(tmp_path, lst, own, glob)
        cp = run_hushgate(["-t", "-c", str(cfg)])
        assert cp.returncode == 1, cp.stdout + cp.stderr
        assert "%s:7:15: %s: list of %d bytes is larger than max_bytes " \
            "(%d)" % (cfg, lst, size, size - 1) in cp.stderr, cp.stderr
    # Exactly at the bound it loads; a list's own bound may be the larger.
    for own, glob in ((size, None), (None, size), (size, "1KiB")):
        cfg = _bounded_config(tmp_path, lst, own, glob)
        cp = run_hushgate(["-t", "-c", str(cfg)])
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert _rules(cp) == 100


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_list_stream_over_max_bytes_is_refused(tmp_path):
    # Not a regular file: no size to check first, so the bound holds while
    # reading. /dev/zero never ends.
    cfg = _bounded_config(tmp_path, "/dev/zero", "1KiB")
    cp = run_hushgate(["-t", "-c", str(cfg)])
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert "%s:7:15: /dev/zero: list larger than max_bytes (1024)" % cfg \
        in cp.stderr, cp.stderr


def _fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def test_cached_url_list_over_max_bytes_is_refused(tmp_path):
    # A copy cached before max_bytes was lowered is not loaded: -t warns,
    # names the size and the bound, and the list is empty until a download
    # within the bound replaces it.
    url = "https://lists.test/names.txt"
    cache = tmp_path / "cache"
    cache.mkdir()
    body = cache / ("lists.test-%016x.list" % _fnv1a64(
        url.encode() + b"\n" + b"domains"))
    body.write_text("".join("n%d.example\n" % i for i in range(10)))
    size = body.stat().st_size
    cfg = _bounded_config(tmp_path, None, size - 1, "1MiB", url=url)
    cp = run_hushgate(["-t", "-c", str(cfg)])
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert re.search(r"bound\.yaml:7:9: warning: list %s: cached copy "
                     r"refused.*list of %d bytes is larger than max_bytes "
                     r"\(%d\)" % (re.escape(url), size, size - 1),
                     cp.stdout), cp.stdout
    assert _rules(cp) == 0
    cfg = _bounded_config(tmp_path, None, size, "1MiB", url=url)
    cp = run_hushgate(["-t", "-c", str(cfg)])
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert _rules(cp) == 10

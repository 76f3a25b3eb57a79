"""Host names beyond ASCII, mapped by UTS #46 (nontransitional) and
converted by IDNA2008 before any rule sees them: in rules, in lists, in
`hushgate explain` and in requests, one mapping."""

from helpers import REPO, Tunnel, dump_yaml, open_client, read_response
from helpers import run_hushgate

BALANCED = REPO / "rules" / "sets" / "balanced.yaml"
WATSON = "watson.events.data.microsoft.com"
# U+3002 IDEOGRAPHIC FULL STOP, U+FF0E FULLWIDTH FULL STOP, U+FF61
# HALFWIDTH IDEOGRAPHIC FULL STOP: label separators under UTS #46.
DOTS = ("\u3002", "\uff0e", "\uff61")


def _explain(cfg, *targets):
    cp = run_hushgate(["explain", "-c", str(cfg)] + list(targets))
    rows = [line.split("\t") for line in cp.stdout.splitlines()]
    return cp, rows


def test_unicode_dots_balanced_explain_and_wire(proxy):
    """The shipped balanced profile denies watson.events.data.microsoft.com
    (Windows Error Reporting); explain gives the same answer, rule and all,
    for the name written with any of the Unicode full stops: that name, not
    one punycode label. On the wire a request target is ASCII (RFC 9112;
    wire/http1.c, conformance row t-utf8): the UTF-8 bytes of the same
    CONNECT are refused at the request line, never tunnelled."""
    p = proxy({"include": [str(BALANCED)], "connect_ports": [443],
               "default": "allow"})
    cp, rows = _explain(p.config_path, WATSON)
    assert cp.returncode == 0, cp.stderr
    want = rows[0]
    assert want[:3] == [WATSON + ":443", "deny", "windows-error-reporting"], \
        rows
    for dot in DOTS:
        name = WATSON.replace(".", dot)
        cp, rows = _explain(p.config_path, name, name.upper() + ":443")
        assert cp.returncode == 0, cp.stderr
        assert rows == [want, want], (name, rows)
    with Tunnel(p.port, WATSON + ":443") as t:
        assert t.status == 403, t.status
        assert t.resp.headers.get("x-hushgate-category") == \
            "windows-error-reporting", t.resp.headers
    for dot in DOTS:
        with Tunnel(p.port, WATSON.replace(".", dot) + ":443") as t:
            assert t.status == 400, (dot, t.status)
    p.wait_log(lambda r: r.get("host") == WATSON and
               r.get("action") == "deny", "the denied ASCII CONNECT")


def test_unicode_rules_match_requests(proxy, tmp_path):
    """Rules and list entries written beyond ASCII, in upper case and with
    Unicode dots, match the requests for those names (which the wire
    carries in their xn-- form) over CONNECT and plain HTTP, and explain
    matches them in any spelling: lower case, xn--, full-width."""
    lst = tmp_path / "idn.txt"
    lst.write_bytes("# a list in UTF-8\nM\u00dcNCHEN\uff0eexample\n"
                    .encode())
    p = proxy({"connect_ports": [443], "default": "allow",
               "categories": {
                   "idn": {"action": "deny", "hosts": [
                       "B\u00dcCHER.example",
                       WATSON.replace(".", "\u3002")]},
                   "idn-list": {"action": "deny", "lists": [
                       {"file": str(lst), "format": "domains"}]}}})
    wire = [("xn--bcher-kva.example", "idn"),
            ("XN--BCHER-KVA.example", "idn"),
            (WATSON, "idn"),
            ("xn--mnchen-3ya.example", "idn-list")]
    for name, cat in wire:
        with Tunnel(p.port, name + ":443") as t:
            assert t.status == 403, (name, t.status)
            assert t.resp.headers.get("x-hushgate-category") == cat, name
        with open_client(p.port) as s:
            s.sendall(("GET http://%s/ HTTP/1.1\r\nHost: %s\r\n\r\n"
                       % (name, name)).encode())
            r = read_response(s)
        assert r.status == 403, (name, r.status)
        assert r.headers.get("x-hushgate-category") == cat, name
    spellings = [("b\u00fccher.example", "idn"),
                 ("B\u00dcCHER\u3002EXAMPLE", "idn"),
                 ("xn--bcher-kva.example", "idn"),
                 (WATSON.replace(".", "\uff61"), "idn"),
                 ("m\u00fcnchen.example", "idn-list"),
                 ("\uff4d\u00fc\uff4e\uff43\uff48\uff45\uff4e.example",
                  "idn-list")]
    cp, rows = _explain(p.config_path, *[n for n, _ in spellings])
    assert cp.returncode == 0, cp.stderr
    assert [r[1:3] for r in rows] == [["deny", c] for _, c in spellings], \
        rows
    # Neither is "bucher" nor a transitional "ss" for a sharp s.
    cp, rows = _explain(p.config_path, "bucher.example", "muenchen.example")
    assert [r[1] for r in rows] == ["allow", "allow"], rows


def test_idna_disallowed_is_refused(proxy, tmp_path):
    """A code point IDNA2008 does not allow (U+2665 BLACK HEART SUIT) is
    an invalid host for explain (exit 1, with the reason) and in a rule
    (the configuration is refused, with the reason)."""
    p = proxy({"connect_ports": [443]})
    cp, rows = _explain(p.config_path, "a\u2665.example")
    assert cp.returncode == 1
    assert rows == [["a\u2665.example", "invalid", "-", "-"]], rows
    assert "IDNA does not allow" in cp.stderr, cp.stderr
    bad = dump_yaml({"listen": ["127.0.0.1:0"],
                     "dns": {"servers": [], "hosts_file": "/dev/null"},
                     "categories": {"x": {"action": "deny",
                                          "hosts": ["a\u2665.example"]}}},
                    tmp_path / "bad.yaml")
    cp = run_hushgate(["-t", "-c", str(bad)])
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert "IDNA does not allow" in cp.stderr, cp.stderr

"""hushgate report: the figures of a decision log written by a running proxy
(tunnels allowed by a category, denied by one, decided by the default for
hosts under two registrable domains, a plain-HTTP GET with its bytes), read
whole, rotated and gzip-compressed, from standard input, filtered by time;
malformed lines, a missing file, a Squid-format log; and the --unknown
--format yaml skeleton, which denies exactly the discovered hosts once it
is in the configuration."""

import gzip
import json

import pytest
import yaml

from helpers import (Tunnel, dump_yaml, node_line, raw_request, rule_matches,
                     run_hushgate)

HOSTS = ["echo.test", "web.test", "x.bad.test", "y.bad.test",
         "a.alpha-unknown.test", "b.alpha-unknown.test",
         "c.beta-unknown.test"]
UNKNOWN = {"alpha-unknown.test": ["a.alpha-unknown.test",
                                  "b.alpha-unknown.test"],
           "beta-unknown.test": ["c.beta-unknown.test"]}


def config(echo, web):
    return {"connect_ports": [echo.port], "http_ports": [web.port],
            "default": "allow",
            "categories": {
                "known": {"action": "allow",
                          "hosts": ["echo.test", "web.test"]},
                "blocked": {"action": "deny", "hosts": [".bad.test"]}}}


@pytest.fixture(scope="module")
def run(module_proxy, echo_server, http_server):
    """One proxy, nine requests from three client addresses; returns the
    proxy, its records and what the client saw of the GET."""
    p = module_proxy(config(echo_server, http_server), hosts=HOSTS)
    e = echo_server.port

    def tunnel(host, source, data=None, status=200):
        with Tunnel(p.port, "%s:%d" % (host, e), source=source) as t:
            assert t.status == status, (host, t.status)
            if data:
                t.echo(data)

    tunnel("echo.test", "127.0.0.1", b"0123456789")
    tunnel("echo.test", "127.0.0.2", b"abcd")
    tunnel("x.bad.test", "127.0.0.1", status=403)
    tunnel("x.bad.test", "127.0.0.2", status=403)
    tunnel("y.bad.test", "127.0.0.2", status=403)
    tunnel("a.alpha-unknown.test", "127.0.0.1", b"hello")
    tunnel("b.alpha-unknown.test", "127.0.0.3", b"abc")
    tunnel("c.beta-unknown.test", "127.0.0.2", b"1234567")
    url = "http://web.test:%d/page" % http_server.port
    resp = raw_request(p.port, ("GET %s HTTP/1.1\r\nHost: web.test:%d\r\n"
                                "Connection: close\r\n\r\n" % (
                                    url, http_server.port)).encode())
    assert resp.status == 200 and resp.body
    recs = p.wait_log(lambda r: True, "nine records", count=9)
    assert len(recs) == 9
    return p, recs, len(resp.body)


def report(*args, input=None):
    cp = run_hushgate(["report"] + [str(a) for a in args], input=input)
    return cp


def report_json(*args, input=None):
    cp = report("--format", "json", *args, input=input)
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout), cp


def rows(doc, section, key):
    return {r[key]: r for r in doc[section]}


def test_report_figures(run):
    p, recs, body = run
    doc, cp = report_json(p.log_path)
    assert cp.stderr == ""
    assert doc["summary"][0]["records"] == 9
    assert doc["summary"][0]["skipped"] == 0
    first = min(recs, key=lambda r: r["ts"])["ts"]
    last = max(recs, key=lambda r: r["ts"])["ts"]
    assert doc["summary"][0]["first"] == first
    assert doc["summary"][0]["last"] == last

    tot = rows(doc, "totals", "action")
    assert tot["allow"]["requests"] == 6
    assert tot["deny"]["requests"] == 3
    assert tot["audit"]["requests"] == 0
    assert "none" not in tot
    assert tot["allow"]["bytes_up"] == 10 + 4 + 5 + 3 + 7
    assert tot["allow"]["bytes_down"] == 10 + 4 + 5 + 3 + 7 + body
    assert tot["deny"]["bytes_up"] == 0 and tot["deny"]["bytes_down"] == 0
    assert tot["total"] == {"action": "total", "requests": 9,
                            "bytes_up": 29, "bytes_down": 29 + body}

    line = node_line(p.config_path, "categories", "blocked", "hosts",
                     ".bad.test")
    den = doc["denied"]
    assert [(d["host"], d["denied"]) for d in den] == [("x.bad.test", 2),
                                                       ("y.bad.test", 1)]
    for d in den:
        assert d["category"] == "blocked"
        assert rule_matches(d["rule"], p.config_path, line), d

    cats = rows(doc, "categories", "category")
    assert set(cats) == {"known", "blocked", "(default)"}
    assert (cats["known"]["allow"], cats["known"]["deny"]) == (3, 0)
    assert (cats["blocked"]["allow"], cats["blocked"]["deny"]) == (0, 3)
    assert cats["(default)"]["requests"] == 3
    assert cats["(default)"]["allow"] == 3

    cl = rows(doc, "clients", "client")
    assert set(cl) == {"127.0.0.1", "127.0.0.2", "127.0.0.3"}
    assert (cl["127.0.0.1"]["requests"], cl["127.0.0.1"]["allow"],
            cl["127.0.0.1"]["deny"]) == (4, 3, 1)
    assert (cl["127.0.0.2"]["requests"], cl["127.0.0.2"]["allow"],
            cl["127.0.0.2"]["deny"]) == (4, 2, 2)
    assert cl["127.0.0.3"]["requests"] == 1
    assert cl["127.0.0.1"]["bytes_up"] == 10 + 5
    assert cl["127.0.0.1"]["bytes_down"] == 10 + 5 + body
    assert cl["127.0.0.2"]["bytes_up"] == 4 + 7
    assert cl["127.0.0.3"]["bytes_down"] == 3
    assert doc["users"] == [{"user": "(none)", "requests": 9, "allow": 6,
                             "deny": 3, "audit": 0, "none": 0,
                             "bytes_up": 29, "bytes_down": 29 + body}]

    by = rows(doc, "bytes", "host")
    assert by["web.test"]["bytes_down"] == body
    assert by["web.test"]["bytes_up"] == 0
    assert by["echo.test"]["bytes"] == 28 and by["echo.test"]["requests"] == 2
    assert "x.bad.test" not in by

    unk = rows(doc, "unknown", "domain")
    assert set(unk) == set(UNKNOWN)
    for dom, hosts in UNKNOWN.items():
        mine = [r for r in recs if r["host"] in hosts]
        assert unk[dom]["requests"] == len(mine)
        assert unk[dom]["hosts"] == len(hosts)
        assert unk[dom]["first"] == min(r["ts"] for r in mine)
        assert unk[dom]["last"] == max(r["ts"] for r in mine)
        assert sorted(unk[dom]["clients"]) == sorted(r["client"]
                                                     for r in mine)
    assert sorted(unk["alpha-unknown.test"]["clients"]) == [
        "127.0.0.1", "127.0.0.3"]
    assert doc["unknown"][0]["domain"] == "alpha-unknown.test"
    uh = rows(doc, "unknown_hosts", "host")
    assert set(uh) == {h for hs in UNKNOWN.values() for h in hs}
    assert uh["c.beta-unknown.test"]["domain"] == "beta-unknown.test"


def test_report_table_and_tsv(run):
    p, recs, body = run
    cp = report(p.log_path)
    assert cp.returncode == 0, cp.stderr
    text = cp.stdout
    for title in ("Totals by action", "Top denied hosts", "Categories",
                  "Clients", "Users", "Bytes by host",
                  "Hosts no rule matched"):
        assert title in text
    deny = [l.split() for l in text.splitlines()
            if l.strip().startswith("x.bad.test")]
    assert deny and deny[0][:3] == ["x.bad.test", "2", "blocked"]

    cp = report("--format", "tsv", p.log_path)
    assert cp.returncode == 0
    blocks = {}
    for block in cp.stdout.strip("\n").split("\n\n"):
        lines = block.split("\n")
        assert lines[0].startswith("# ")
        blocks[lines[0][2:]] = [l.split("\t") for l in lines[1:]]
    assert blocks["totals"][0] == ["action", "requests", "bytes_up",
                                   "bytes_down"]
    assert ["deny", "3", "0", "0"] in blocks["totals"]
    assert blocks["unknown"][0][0] == "domain"
    assert {r[0] for r in blocks["unknown"][1:]} == set(UNKNOWN)

    cp = report("--unknown", "--top", "1", p.log_path)
    assert "Totals by action" not in cp.stdout
    assert "alpha-unknown.test" in cp.stdout
    assert "beta-unknown.test" not in cp.stdout


def test_report_rotated_gzip_stdin(run, tmp_path):
    p, recs, body = run
    whole, _ = report_json(p.log_path)
    data = p.log_path.read_bytes().splitlines(keepends=True)
    assert len(data) == 9
    # logrotate: the newer lines in .1, the older compressed in .2.gz
    (tmp_path / "decisions.log.1").write_bytes(b"".join(data[4:]))
    with gzip.open(tmp_path / "decisions.log.2.gz", "wb") as f:
        f.write(b"".join(data[:4]))
    raw = (tmp_path / "decisions.log.2.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    # the name says nothing: a gzip file without .gz is read as gzip too
    (tmp_path / "older").write_bytes(raw)
    for names in (["decisions.log.2.gz", "decisions.log.1"],
                  ["older", "decisions.log.1"]):
        split, _ = report_json(*[tmp_path / n for n in names])
        assert split == whole
    part, _ = report_json(tmp_path / "decisions.log.1")
    assert part["summary"][0]["records"] == 5
    # two gzip members one after the other (as cat a.gz b.gz makes)
    both = gzip.compress(b"".join(data[:4])) + gzip.compress(
        b"".join(data[4:]))
    (tmp_path / "members.gz").write_bytes(both)
    assert report_json(tmp_path / "members.gz")[0] == whole
    # standard input, plain and compressed
    assert report_json("-", input=p.log_path.read_bytes())[0] == whole
    assert report_json("-", input=both)[0] == whole


def test_report_reads_configured_log(run):
    p, recs, body = run
    doc, _ = report_json("-c", p.config_path)
    assert doc == report_json(p.log_path)[0]
    assert doc["summary"][0]["records"] == 9


def retimed(recs, base_minute):
    """The records with ts at base_minute + i minutes, one per line."""
    out = []
    for i, r in enumerate(recs):
        r = dict(r, ts="2026-01-01T%02d:%02d:00.000Z" % divmod(
            base_minute + i, 60))
        out.append(json.dumps(r))
    return ("\n".join(out) + "\n").encode()


def test_report_since_until(run, tmp_path):
    p, recs, body = run
    log = tmp_path / "timed.log"
    log.write_bytes(retimed(recs, 0))   # 00:00 .. 00:08
    doc, _ = report_json(log)
    assert doc["summary"][0]["records"] == 9
    doc, _ = report_json("--since", "2026-01-01T00:03:00Z",
                         "--until", "2026-01-01T00:06:00Z", log)
    assert doc["summary"][0]["records"] == 3
    assert doc["summary"][0]["first"] == "2026-01-01T00:03:00.000Z"
    assert doc["summary"][0]["last"] == "2026-01-01T00:05:00.000Z"
    kept = recs[3:6]
    tot = rows(doc, "totals", "action")
    assert tot["deny"]["requests"] == sum(r["action"] == "deny"
                                          for r in kept)
    assert tot["total"]["bytes_up"] == sum(r["bytes_up"] for r in kept)
    # an offset is honoured: 01:03+01:00 is 00:03Z
    doc, _ = report_json("--since", "2026-01-01T01:03:00+01:00", log)
    assert doc["summary"][0]["records"] == 6
    # relative: the live log is from the last hour, not before it
    assert report_json("--since", "1h", p.log_path)[0][
        "summary"][0]["records"] == 9
    assert report_json("--until", "1h", p.log_path)[0][
        "summary"][0]["records"] == 0
    assert report_json("--since", "30m", "--until", "2d", p.log_path)[0][
        "summary"][0]["records"] == 0
    doc, _ = report_json("--client", "127.0.0.3", p.log_path)
    assert doc["summary"][0]["records"] == 1
    cp = report("--since", "yesterday", log)
    assert cp.returncode == 2 and "--since yesterday" in cp.stderr


def test_report_malformed_lines(run, tmp_path):
    p, recs, body = run
    good = p.log_path.read_bytes().splitlines(keepends=True)
    rec = json.loads(good[0])
    missing = dict(rec)
    del missing["bytes_up"]
    bad_ts = dict(rec, ts="yesterday")
    bad_type = dict(rec, bytes_down="many")
    junk = [b"this is not json\n", (json.dumps(missing) + "\n").encode(),
            b"[1, 2, 3]\n", (json.dumps(bad_ts) + "\n").encode(),
            (json.dumps(bad_type) + "\n").encode(), b'{"ts": "2026-\n',
            b"x" * 70000 + b"\n"]
    lines = []
    for i, g in enumerate(good):
        lines.append(g)
        if i < len(junk):
            lines.append(junk[i])
    log = tmp_path / "mixed.log"
    log.write_bytes(b"".join(lines))
    doc, cp = report_json(log)
    whole, _ = report_json(p.log_path)
    assert doc["summary"][0]["skipped"] == len(junk)
    doc["summary"][0]["skipped"] = 0
    assert doc == whole
    err = cp.stderr.splitlines()
    assert "%s:2: skipped: not valid JSON" % log in err[0]
    assert "%s:4: skipped: a field is missing" % log in err[1]
    assert "%s:6:" % log in err[2]
    assert "7 lines skipped" in err[-1]
    # five named, then the count
    assert len(err) == 6


def test_report_missing_file(run, tmp_path):
    p, recs, body = run
    cp = report(p.log_path, tmp_path / "nope.log")
    assert cp.returncode == 1
    assert "nope.log: No such file or directory" in cp.stderr
    assert cp.stdout == ""


def test_report_squid_format_refused(run, tmp_path):
    p, recs, body = run
    log = tmp_path / "access.log"
    log.write_text("1764096001.123      0 127.0.0.1 TCP_DENIED/403 0 "
                   "CONNECT bad.test:443 - HIER_NONE/- -\n")
    cp = report(log)
    assert cp.returncode == 1
    assert "squid" in cp.stderr and "JSON" in cp.stderr
    cfg = tmp_path / "squid.yaml"
    dump_yaml(dict(p.config, log={"decisions": str(log),
                                  "format": "squid"}), cfg)
    cp = report("-c", cfg)
    assert cp.returncode == 1 and "JSON format only" in cp.stderr


def explain(cfg, hosts, port):
    cp = run_hushgate(["explain", "-c", str(cfg)] +
                      ["%s:%d" % (h, port) for h in hosts])
    assert cp.returncode == 0, cp.stderr
    out = {}
    for line in cp.stdout.splitlines():
        target, action, category, rule = line.split("\t")
        out[target.rsplit(":", 1)[0]] = (action, category)
    return out


def test_report_unknown_yaml_roundtrip(run, tmp_path, echo_server):
    p, recs, body = run
    cp = report("--unknown", "--format", "yaml", p.log_path)
    assert cp.returncode == 0, cp.stderr
    assert "TODO" in cp.stdout
    skel = yaml.safe_load(cp.stdout)
    cat = skel["categories"]["discovered"]
    assert cat["action"] == "deny"
    assert cat["description"].startswith("TODO")
    assert cat["breaks"].startswith("TODO")
    assert sorted(cat["hosts"]) == sorted("." + d for d in UNKNOWN)

    cfg = dict(p.config)
    cfg["categories"] = dict(cfg["categories"], **skel["categories"])
    path = tmp_path / "with-discovered.yaml"
    dump_yaml(cfg, path)
    others = ["echo.test", "web.test", "x.bad.test", "y.bad.test",
              "elsewhere.test", "alpha-unknown.test.example"]
    found = [h for hs in UNKNOWN.values() for h in hs]
    port = echo_server.port
    before = explain(p.config_path, others + found, port)
    after = explain(path, others + found + ["new.alpha-unknown.test"], port)
    for h in found + ["new.alpha-unknown.test"]:
        assert after[h] == ("deny", "discovered"), h
    for h in found:
        assert before[h] == ("allow", "-")
    for h in others:
        assert after[h] == before[h], h
    assert before["x.bad.test"] == ("deny", "blocked")
    assert before["elsewhere.test"] == ("allow", "-")


def test_report_usage_errors(run):
    p, recs, body = run
    assert report("--format", "xml", p.log_path).returncode == 2
    cp = report("--format", "yaml", p.log_path)
    assert cp.returncode == 2 and "--unknown" in cp.stderr
    assert report("--top", "-1", p.log_path).returncode == 2
    cp = run_hushgate(["report", "--help"])
    assert cp.returncode == 0 and "--unknown" in cp.stdout

"""GET /metrics: the Prometheus text exposition on the proxy port, for the
addresses in metrics.allow (loopback by default).  The counters are
checked against traffic the test makes, and the whole exposition against
the format's rules.  Who may read /metrics, and HEAD, are
cases/metrics.yaml."""

import re

from helpers import END_CODES, Tunnel, raw_request, wait_until

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+]+|'
                    r'\+Inf)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse(text):
    """{(name, ((label, value), ...)): value}; asserts the format."""
    samples, typed = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram"), line
            typed[name] = kind
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels = m.group(1), ()
        if m.group(3):
            labels = tuple((k, v) for k, v, _ in LABEL.findall(m.group(3)))
            assert ",".join('%s="%s"' % kv for kv in labels) == \
                m.group(3), line
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or base in typed, "no TYPE before " + name
        key = (name, labels)
        assert key not in samples, "sample twice: %r" % line
        samples[key] = float(m.group(4))
    return samples


def scrape(port, source=None):
    r = raw_request(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                    source=source)
    return r


def metric(s, name, **labels):
    return s.get((name, tuple(sorted(labels.items()))),
                 s.get((name, tuple(labels.items())), 0.0))


def _cfg(port, **extra):
    cfg = {"connect_ports": [port],
           "categories": {"blocked": {"action": "deny",
                                      "hosts": ["bad.test"]},
                          "watched": {"action": "audit",
                                      "hosts": ["seen.test"]}}}
    cfg.update(extra)
    return cfg


def test_counts_follow_the_traffic(proxy, echo_server):
    p = proxy(_cfg(echo_server.port), hosts=["ok.test", "seen.test",
                                             "bad.test"])
    r = scrape(p.port)
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    before = parse(r.body.decode())
    with Tunnel(p.port, "ok.test:%d" % echo_server.port) as t:
        t.echo(b"x" * 1000)
    with Tunnel(p.port, "seen.test:%d" % echo_server.port) as t:
        t.echo(b"y" * 24)
    with Tunnel(p.port, "bad.test:%d" % echo_server.port) as t:
        assert t.status == 403
    with Tunnel(p.port, "missing.test:%d" % echo_server.port) as t:
        assert t.status == 502
    p.wait_log(lambda r: True, "four records", count=4)

    def settled():
        s = parse(scrape(p.port).body.decode())
        return s if metric(s, "hushgate_requests_total") - \
            metric(before, "hushgate_requests_total") >= 4 else None
    after = wait_until(settled, "the counters of four requests")

    def delta(name, **labels):
        return metric(after, name, **labels) - metric(before, name,
                                                      **labels)
    assert delta("hushgate_decisions_total", action="allow",
                 category="") == 2
    assert delta("hushgate_decisions_total", action="audit",
                 category="watched") == 1
    assert delta("hushgate_decisions_total", action="deny",
                 category="blocked") == 1
    assert delta("hushgate_requests_by_end_total", end="denied") == 1
    assert delta("hushgate_requests_by_end_total",
                 end="resolve_failed") == 1
    assert delta("hushgate_bytes_total", direction="up") == 1024
    assert delta("hushgate_bytes_total", direction="down") == 1024
    # three names were resolved (the denied one never is)
    assert delta("hushgate_dns_duration_seconds_count") == 3
    assert delta('hushgate_dns_duration_seconds_bucket', le="+Inf") == 3
    assert metric(after, "hushgate_connections_total") >= 5
    assert metric(after, "hushgate_categories") == 2
    assert metric(after, "hushgate_rules", kind="all") == 2


def test_histogram_buckets_are_cumulative(proxy, echo_server):
    p = proxy(_cfg(echo_server.port), hosts=["ok.test"])
    with Tunnel(p.port, "ok.test:%d" % echo_server.port) as t:
        t.echo(b"z")
    text = wait_until(lambda: (lambda b: b if "_count 1" in b else None)(
        scrape(p.port).body.decode()), "one resolution counted")
    buckets = [float(v) for v in re.findall(
        r'^hushgate_dns_duration_seconds_bucket\{le="[^"]+"\} (\S+)$', text,
        re.M)]
    assert len(buckets) == 14
    assert buckets == sorted(buckets) and buckets[-1] == 1


def test_reloads_are_counted_and_counters_survive(proxy, echo_server):
    p = proxy(_cfg(echo_server.port), hosts=["bad.test"])
    with Tunnel(p.port, "bad.test:%d" % echo_server.port) as t:
        assert t.status == 403
    p.rewrite_config(_cfg(echo_server.port, categories={
        "first": {"action": "allow", "hosts": ["x.test"]},
        "blocked": {"action": "deny", "hosts": ["bad.test"]}}))
    ok, _, _ = p.reload()
    assert ok
    (p.dir / "hushgate.yaml").write_text("categories: [broken\n")
    ok, _, _ = p.reload()
    assert not ok
    with Tunnel(p.port, "bad.test:%d" % echo_server.port) as t:
        assert t.status == 403

    def two():
        s = parse(scrape(p.port).body.decode())
        return s if metric(s, "hushgate_decisions_total", action="deny",
                           category="blocked") == 2 else None
    s = wait_until(two, "the denials before and after the reload")
    assert metric(s, "hushgate_reloads_total", result="ok") == 1
    assert metric(s, "hushgate_reloads_total", result="failed") == 1


def test_list_age_of_a_list_never_downloaded(proxy, echo_server, tmp_path):
    p = proxy(_cfg(echo_server.port, lists={"cache_dir": str(tmp_path /
                                                             "cache")},
                   categories={"feed": {"action": "deny", "lists": [
                       {"url": "https://lists.test/feed.txt",
                        "format": "domains"}]}}))
    s = parse(scrape(p.port).body.decode())
    assert metric(s, "hushgate_list_age_seconds",
                  url="https://lists.test/feed.txt") == -1


def test_admin_listener(proxy, echo_server):
    """metrics.listen: an address that serves /metrics (and /healthz)
    only, apart from the proxy port."""
    p = proxy(_cfg(echo_server.port, metrics={"listen": ["127.0.0.1:0"]}),
              hosts=["ok.test"])
    m = wait_until(lambda: re.search(
        r"serving /metrics only on 127\.0\.0\.1:(\d+)", p.stderr_text()),
        "the admin listener")
    admin = int(m.group(1))
    assert admin != p.port
    r = scrape(admin)
    assert r.status == 200
    assert "hushgate_connections_total" in r.body.decode()
    assert raw_request(admin, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                       b"\r\n").status == 200
    assert raw_request(admin, b"GET /proxy.pac HTTP/1.1\r\nHost: x\r\n"
                       b"\r\n").status == 404
    r = raw_request(admin, ("CONNECT ok.test:%d HTTP/1.1\r\nHost: x\r\n"
                            "\r\n" % echo_server.port).encode())
    assert r.status == 405
    # the proxy port still proxies
    with Tunnel(p.port, "ok.test:%d" % echo_server.port) as t:
        t.echo(b"proxied")


def test_every_end_code_has_its_counter(proxy, echo_server):
    """Requests are counted by their record's end; none of the codes the
    proxy writes may fall into "other"."""
    p = proxy(_cfg(echo_server.port))
    text = scrape(p.port).body.decode()
    ends = set(re.findall(r'^hushgate_requests_by_end_total\{end="([a-z_]+)"',
                          text, re.M))
    more = {"destination_guard", "sni_mismatch", "sni_missing", "sni_denied",
            "not_tls", "bad_client_hello", "overload_client",
            "proxy_protocol_error", "proxy_untrusted", "served", "client_idle",
            "done"}
    assert END_CODES | more <= ends, sorted((END_CODES | more) - ends)

"""The decision log as text a person reads (log.format: text): fixed
columns for real clients' requests, client text escaped so that no record
can drive a terminal, colours on a terminal only (and not with NO_COLOR);
and several outputs at once (log.outputs), each reopened on SIGUSR1, a
reload that cannot open one failing as a whole."""

import calendar
import json
import os
import pty
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from helpers import (TIMEOUT, Proxy, Tunnel, clean_env, node_line,
                     raw_request, wait_until)

# The columns: name, width; one space between two.
COLS = [("time", 8), ("client", 15), ("action", 5), ("target", 40),
        ("category", 16), ("rule", 22), ("bytes", 11), ("duration", 6)]
WIDTH = sum(w for _, w in COLS) + len(COLS) - 1
HOSTS = ["web.test", "blocked.test", "audited.test", "echo.test"]
# The proxy's local time: UTC + 5:30 (POSIX TZ), so that the text's
# time column can be told from UTC.
TZ = "HGT-05:30"
TZ_OFFSET = 5 * 3600 + 30 * 60


def split(line):
    """The fields of a text line by column, checking the width and the
    spaces between columns."""
    assert len(line) == WIDTH, (len(line), line)
    out, pos = {}, 0
    for i, (name, w) in enumerate(COLS):
        out[name] = line[pos:pos + w]
        pos += w
        if i + 1 < len(COLS):
            assert line[pos] == " ", (name, line)
            pos += 1
    return out


def human(n):
    if n < 1000:
        return "%dB" % n
    v, units, u = n / 1024.0, "KMGTPE", 0
    while v >= 999.5 and u + 1 < len(units):
        v /= 1024.0
        u += 1
    return ("%.1f%s" if v < 9.95 else "%.0f%s") % (v, units[u])


def duration(ms):
    if ms < 1000:
        return "%dms" % ms
    if ms < 59950:
        return "%.1fs" % (ms / 1000.0)
    s = ms // 1000
    return "%dm%02ds" % (s // 60, s % 60)


def text_lines(path):
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    return data.decode("latin-1").split("\n")[:-1]


def start(proxy, config, hosts=HOSTS, env=None, cls=Proxy, args=()):
    """A proxy (stopped by the factory) whose environment has TZ and env,
    and no NO_COLOR unless env gives it; args go on its command line."""
    p = cls(proxy.base / ("p%d" % len(proxy.proxies)), config, hosts,
            start=False)
    proxy.proxies.append(p)
    base = p.command

    def command():
        argv, e = base()
        e.pop("NO_COLOR", None)
        e["TZ"] = TZ
        e.update(env or {})
        return argv + list(args), e
    p.command = command
    p.start()
    return p


def curl_get(curl, p, url, test_ca, *extra):
    # -k: the test certificate names web.test, not every test name
    cp = subprocess.run(
        [curl, "-sSk", "-o", "/dev/null", "-w", "%{http_code}",
         "--max-time", str(int(TIMEOUT * 3)), "--cacert", test_ca["ca"],
         "-x", "http://127.0.0.1:%d" % p.port] + list(extra) + [url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT * 4,
        env=clean_env())
    return cp.stdout.decode()


def categories():
    return {"blocked": {"action": "deny", "hosts": ["blocked.test"]},
            "audited": {"action": "audit", "hosts": ["audited.test"]}}


def test_text_columns_without_a_terminal(proxy, https_server, http_server,
                                         test_ca, curl):
    hs, hp = https_server.port, http_server.port
    p = start(proxy, {"connect_ports": [hs], "http_ports": [hp],
                      "categories": categories(),
                      "log": {"outputs": [
                          {"to": "-", "format": "text"},
                          {"to": "decisions.log"}]}})
    assert curl_get(curl, p, "https://web.test:%d/a" % hs, test_ca) == "200"
    assert curl_get(curl, p, "https://blocked.test:%d/" % hs,
                    test_ca) != "200"
    assert curl_get(curl, p, "https://audited.test:%d/" % hs,
                    test_ca) == "200"
    assert curl_get(curl, p, "http://web.test:%d/some/path?q=1" % hp,
                    test_ca) == "200"
    recs = p.wait_log(lambda r: True, "four records", count=4)
    stdout = p.dir / "stdout"
    got = wait_until(lambda: (lambda l: l if len(l) >= 4 else None)(
        text_lines(stdout)), "four text lines")
    assert len(got) == 4 and len(recs) == 4, got
    assert not any("\x1b" in l for l in got), got
    fields = [split(l) for l in got]
    rule_line = node_line(p.config_path, "categories", "blocked", "hosts",
                          "blocked.test")
    audit_line = node_line(p.config_path, "categories", "audited", "hosts",
                           "audited.test")
    want = {
        "web.test:%d" % hs: ("allow", "-", "default"),
        "blocked.test:%d" % hs: ("deny", "blocked",
                                 "hushgate.yaml:%d" % rule_line),
        "audited.test:%d" % hs: ("audit", "audited",
                                 "hushgate.yaml:%d" % audit_line),
        "GET web.test:%d/some/path?q=1" % hp: ("allow", "-", "default"),
    }
    seen = set()
    # The same records as the JSON output (by target: two workers may
    # write them in another order).
    by_target = {}
    for r in recs:
        t = "%s:%d" % (r["host"], r["port"])
        if r["method"] != "CONNECT":
            t = "%s %s%s" % (r["method"], t, r["path"])
        by_target[t] = r
    assert set(by_target) == set(want), by_target
    for f in fields:
        target = f["target"].rstrip()
        assert f["target"] == target.ljust(40)
        assert target in want, (target, f)
        assert target not in seen, fields
        seen.add(target)
        r = by_target[target]
        action, category, rule = want[target]
        assert f["action"] == action.ljust(5), f
        assert f["category"] == category.ljust(16), f
        assert f["rule"] == rule.ljust(22), f
        assert f["client"] == "127.0.0.1".ljust(15), f
        # local time of the record's start, to the second
        ts = calendar.timegm(time.strptime(r["ts"][:19],
                                           "%Y-%m-%dT%H:%M:%S"))
        assert f["time"] == time.strftime("%H:%M:%S",
                                          time.gmtime(ts + TZ_OFFSET)), \
            (f, r)
        assert f["bytes"] == ("%s/%s" % (human(r["bytes_up"]),
                                         human(r["bytes_down"]))).rjust(11)
        assert f["duration"] == duration(r["duration_ms"]).rjust(6), (f, r)
    assert seen == set(want)
    get = [f for f in fields if f["target"].startswith("GET ")][0]
    assert get["bytes"].strip().split("/")[1] != "0B", get


def test_text_escapes_and_truncates_client_text(proxy, http_server):
    """Control bytes, ESC and high bytes sent raw in a CONNECT host and in
    a plain-HTTP path: the proxy refuses such requests before it keeps
    their target, and a backslash it keeps is written escaped. No line
    holds a byte that is not printable ASCII, each request is one line of
    the same width, and a long target is cut with "..."."""
    hp = http_server.port
    p = start(proxy, {"http_ports": [hp],
                      "log": {"outputs": [{"to": "text.log",
                                           "format": "text"}]}})
    hostile = [
        b"CONNECT ev\x1b[31mil\x07.test:443 HTTP/1.1\r\n\r\n",
        b"CONNECT a\rb\x1b]0;title\x07.test:443 HTTP/1.1\r\n\r\n",
        b"CONNECT h\xc3\xa9\x7f.test:443 HTTP/1.1\r\n\r\n",
        b"GET http://web.test:%d/x\x1b[2Jy HTTP/1.1\r\nHost: web.test\r\n\r\n"
        % hp,
        b"GET http://web.test:%d/x\x9b\xffz HTTP/1.1\r\nHost: web.test\r\n\r\n"
        % hp,
        b"CONNECT back\\slash.test:443 HTTP/1.1\r\n\r\n",
    ]
    for req in hostile:
        resp = raw_request(p.port, req)
        assert 400 <= resp.status < 500, (req, resp)
    long_path = "/" + "p" * 120
    resp = raw_request(p.port, b"GET http://web.test:%d%s HTTP/1.1\r\n"
                       b"Host: web.test\r\n\r\n" % (hp, long_path.encode()))
    assert resp.status == 200, resp
    n = len(hostile) + 1
    log = p.dir / "text.log"
    got = wait_until(lambda: (lambda l: l if len(l) >= n else None)(
        text_lines(log)), "%d text lines" % n)
    raw = log.read_bytes()
    assert raw.count(b"\n") == n, raw
    assert all(32 <= b < 127 for b in raw.replace(b"\n", b"")), raw
    fields = [split(l) for l in got]
    targets = [f["target"].rstrip() for f in fields]
    assert "back\\\\slash.test:443" in targets, targets
    cut = [f for f in fields if f["target"].startswith("GET web.test")]
    assert len(cut) == 1 and cut[0]["target"].endswith("..."), cut
    assert cut[0]["target"] == ("GET web.test:%d%s" % (hp, long_path))[
        :37] + "..."
    refused = [f for f in fields if f["action"] == "deny "]
    assert len(refused) == len(hostile), fields


class PtyProxy(Proxy):
    """A proxy whose standard output is a pseudo-terminal; what it writes
    there is collected in .out."""

    def start(self):
        master, slave = pty.openpty()
        self.out = bytearray()
        self._pty_lock = threading.Lock()

        def reader():
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                with self._pty_lock:
                    self.out += data
            os.close(master)
        argv, env = self.command()
        self.stdout_file = os.fdopen(slave, "wb")
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self.stdout_file,
            stderr=subprocess.PIPE, cwd=str(self.dir), env=env)
        threading.Thread(target=reader, daemon=True).start()
        self._reader = threading.Thread(target=self._read_stderr,
                                        daemon=True)
        self._reader.start()
        m = self.wait_stderr(r"^hushgate: listening on 127\.0\.0\.1:(\d+)$")
        self.port = int(m.group(1))
        return self

    def text(self):
        with self._pty_lock:
            return bytes(self.out)


def _pty_run(proxy, echo_server, env):
    p = start(proxy, {"connect_ports": [echo_server.port],
                      "categories": categories(),
                      "log": {"decisions": "-", "format": "text"}},
              env=env, cls=PtyProxy)
    for host, code in (("echo.test", 200), ("blocked.test", 403),
                       ("audited.test", 200)):
        with Tunnel(p.port, "%s:%d" % (host, echo_server.port)) as t:
            assert t.status == code
    return p, wait_until(
        lambda: (lambda o: o if o.count(b"\n") >= 3 else None)(p.text()),
        "three lines on the terminal")


def test_text_is_coloured_on_a_terminal(proxy, echo_server):
    p, out = _pty_run(proxy, echo_server, {})
    assert b"\x1b[31mdeny\x1b[0m" in out, out
    assert b"\x1b[33maudit\x1b[0m" in out, out
    assert b"\x1b[32mallow\x1b[0m" in out, out
    # the colour codes do not move the columns
    plain = re.sub(rb"\x1b\[\d+m", b"", out).decode().replace("\r", "")
    lines = plain.split("\n")[:3]
    assert all(len(l) == WIDTH for l in lines), lines


def test_no_color_turns_colours_off(proxy, echo_server):
    p, out = _pty_run(proxy, echo_server, {"NO_COLOR": "1"})
    assert b"\x1b" not in out, out
    lines = out.decode().replace("\r", "").split("\n")[:3]
    assert sorted(split(l)["action"] for l in lines) == \
        ["allow", "audit", "deny "], lines


def test_stdout_format_option_on_a_terminal(proxy, echo_server):
    """-L text (what scripts/run passes on a terminal) turns a JSON
    decisions: "-" into coloured text."""
    p = start(proxy, {"connect_ports": [echo_server.port],
                      "categories": categories(),
                      "log": {"decisions": "-"}}, cls=PtyProxy,
              args=["-L", "text"])
    with Tunnel(p.port, "blocked.test:%d" % echo_server.port) as t:
        assert t.status == 403
    out = wait_until(lambda: (lambda o: o if b"\n" in o else None)(
        p.text()), "a line on the terminal")
    assert b"\x1b[31mdeny\x1b[0m" in out and not out.startswith(b"{"), out


# ---------------------------------------------------------------------------
# Several outputs

SQUID_URL = re.compile(r"^\d+\.\d{3} +\d+ \S+ [A-Z_]+/\d{3} \d+ \S+ (\S+) ")


def _hosts_json(path):
    return [json.loads(l)["host"] for l in text_lines(path)]


def _hosts_squid(path):
    out = []
    for l in text_lines(path):
        m = SQUID_URL.match(l)
        assert m, l
        out.append(m.group(1).rsplit(":", 1)[0])
    return out


def _hosts_text(path):
    return [split(l)["target"].rstrip().rsplit(":", 1)[0]
            for l in text_lines(path)]


def _all_have(p, n, paths):
    def check():
        counts = [len(text_lines(x)) for x in paths]
        return counts if all(c >= n for c in counts) else None
    return wait_until(check, "%d lines in each of %s" % (n, paths))


def test_several_outputs(proxy, echo_server, tmp_path):
    p = start(proxy, {"connect_ports": [echo_server.port],
                      "categories": categories(),
                      "log": {"outputs": [
                          {"to": "json.log", "format": "json"},
                          {"to": "squid.log", "format": "squid"},
                          {"to": "-", "format": "text"}]}})
    d = p.dir
    files = [d / "json.log", d / "squid.log", d / "stdout"]
    want = ["echo.test", "blocked.test", "audited.test", "echo.test"]
    for host in want:
        with Tunnel(p.port, "%s:%d" % (host, echo_server.port)) as t:
            if t.status == 200:
                t.echo(b"x")
    assert _all_have(p, 4, files) == [4, 4, 4]
    # The same records in each (two workers: not always in the same order)
    assert sorted(_hosts_json(files[0])) == sorted(want)
    assert sorted(_hosts_squid(files[1])) == sorted(want)
    assert sorted(_hosts_text(files[2])) == sorted(want)

    # SIGUSR1: each file is opened again under its name
    os.rename(files[0], d / "json.log.1")
    os.rename(files[1], d / "squid.log.1")
    start_at = p.nlines()
    p.signal(signal.SIGUSR1)
    p.wait_stderr(r"^hushgate: decision log reopened$", start=start_at)
    assert files[0].exists() and files[1].exists()
    with Tunnel(p.port, "echo.test:%d" % echo_server.port) as t:
        t.echo(b"after")
    assert _all_have(p, 1, files[:2]) == [1, 1]
    _all_have(p, 5, files[2:])
    assert _hosts_json(files[0]) == ["echo.test"]
    assert _hosts_squid(files[1]) == ["echo.test"]
    assert len(text_lines(d / "json.log.1")) == 4
    assert len(text_lines(d / "squid.log.1")) == 4

    # A reload whose new output cannot be opened fails as a whole: the
    # running outputs (and rules) stay.
    missing = tmp_path / "no-such-dir" / "x.log"
    cfg = dict(p.config)
    cfg["log"] = {"outputs": [{"to": "json.log"},
                              {"to": str(missing), "format": "squid"}]}
    cfg["categories"] = {}
    p.rewrite_config(cfg)
    start_at = p.nlines()
    ok, _, _ = p.reload()
    assert not ok
    p.wait_stderr(r"^hushgate: reload: decision log .*no-such-dir/x\.log: ",
                  start=start_at)
    with Tunnel(p.port, "blocked.test:%d" % echo_server.port) as t:
        assert t.status == 403      # the running rules
    assert _all_have(p, 2, files[:2]) == [2, 2]
    _all_have(p, 6, files[2:])
    assert _hosts_squid(files[1])[-1] == "blocked.test"
    assert not missing.exists()

    # and a good reload takes the new outputs
    cfg["log"] = {"outputs": [{"to": "only.log", "format": "text"}]}
    p.rewrite_config(cfg)
    ok, _, _ = p.reload()
    assert ok
    with Tunnel(p.port, "blocked.test:%d" % echo_server.port) as t:
        assert t.status == 200      # the new rules: no categories
    wait_until(lambda: len(text_lines(d / "only.log")) == 1 or None,
               "a line in the new output")
    assert _hosts_text(d / "only.log") == ["blocked.test"]
    assert len(text_lines(files[0])) == 2

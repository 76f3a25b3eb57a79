"""The integration tests written as data: every case of cases/*.yaml (the
format is in cases/README.md) runs here against the real binary, over real
sockets on 127.0.0.1, with the ports of the proxy and of its upstreams
chosen at run time.  A case names a configuration, the client's steps and
what must come of them: the answers, the decision records, what the
upstream servers received.  A failure says which case, which step and
which field differed."""

import json
import re
import socket
from pathlib import Path

import pytest
import yaml

from helpers import (LOG_FIELDS, TS_RE, HTTPClient, OriginServer, ProxyFactory,
                     TCPServer, closed_port, dump_yaml, has_ipv6_loopback,
                     node_line, pattern_bytes, sanitizer_lines, wait_until)

CASES = Path(__file__).resolve().parent / "cases"

# Keys of the case format; anything else is a mistake in a case file (a
# misspelt expectation would otherwise check nothing).
FILE_KEYS = {"about", "anchors", "shared", "config", "hosts", "files",
             "servers", "origin", "setup", "after_each", "cases"}
CASE_KEYS = {"name", "about", "needs", "config", "hosts", "files", "servers",
             "origin", "steps", "records", "stderr", "upstreams", "received"}
SHARED_ONLY = {"setup", "after_each"}
ENV_KEYS = {"config", "hosts", "files", "servers", "origin"}
ACTIONS = ("connect", "request", "send", "echo")
STEP_KEYS = set(ACTIONS) | {"conn", "source", "headers", "body", "version",
                            "host", "trickle", "shutdown", "read", "expect",
                            "recv", "rest", "eof", "log", "close"}
RESPONSE_KEYS = {"status", "status_line", "headers", "header_count", "body",
                 "raw_body", "chunked", "interim"}
RECEIVED_KEYS = {"path", "server", "count", "pick", "request_line", "method",
                 "target", "version", "headers", "headers_all", "raw_head",
                 "body", "raw_body", "chunked", "complete", "conn", "seq"}
UPSTREAM_KEYS = {"accepted", "requests", "received"}
ANSWER_KEYS = {"send", "keep", "early", "reused", "shutdown", "hold"}
MATCHERS = {"re", "not_re", "has", "lacks", "prefix", "suffix", "in", "not",
            "not_in", "below", "above", "cut_of"}
SERVER_KINDS = {"echo", "deferred", "sink", "greet", "reset", "origin",
                "closed"}
SERVER_NAME_RE = re.compile(r"^(%s)\d*$" % "|".join(sorted(SERVER_KINDS)))
VAR_RE = re.compile(r"\$([a-z][a-z0-9_]*)([+-]\d+)?")


class CaseError(AssertionError):
    pass


def short(v, n=300):
    r = repr(v)
    return r if len(r) <= n else r[:n] + "...(%d chars)" % len(r)


# ---------------------------------------------------------------------------
# Loading

def _check_keys(what, obj, allowed):
    if not isinstance(obj, dict):
        raise CaseError("%s: expected a mapping, got %s" % (what, short(obj)))
    extra = set(obj) - allowed
    if extra:
        raise CaseError("%s: unknown key(s) %s (known: %s)" % (
            what, ", ".join(sorted(extra)), ", ".join(sorted(allowed))))


def _validate_step(what, step):
    _check_keys(what, step, STEP_KEYS)
    if "connect" in step and "request" in step:
        raise CaseError("%s: connect and request in one step" % what)
    if "request" in step and "send" in step:
        raise CaseError("%s: request and send in one step" % what)
    if not any(a in step for a in ACTIONS) and "conn" not in step:
        raise CaseError("%s: a step without %s needs a conn" % (
            what, "/".join(ACTIONS)))
    exp = step.get("expect")
    if "connect" in step and isinstance(exp, list):
        raise CaseError("%s: a CONNECT has one answer" % what)
    for i, e in enumerate(exp if isinstance(exp, list) else
                          [exp] if exp is not None else []):
        _check_keys("%s: expect[%d]" % (what, i), e, RESPONSE_KEYS)
    if "read" in step and step["read"] not in ("response", "head",
                                               "interim"):
        raise CaseError("%s: read: %r" % (what, step["read"]))
    if "log" in step:
        _check_keys(what + ": log", step["log"], set(LOG_FIELDS) | {"path"})


def _asserts(case):
    if any(k in case for k in ("records", "stderr", "upstreams",
                               "received")):
        return True
    return any(k in s for s in case.get("steps", [])
               for k in ("expect", "log", "recv", "rest", "eof", "echo"))


def _validate_case(what, case, shared):
    _check_keys(what, case, CASE_KEYS)
    if shared:
        own = ENV_KEYS & set(case)
        if own:
            raise CaseError("%s: a case of a shared file cannot set %s" % (
                what, ", ".join(sorted(own))))
        if "records" in case:
            raise CaseError("%s: records needs a proxy of its own" % what)
    steps = case.get("steps")
    if not isinstance(steps, list) or not steps:
        raise CaseError("%s: no steps" % what)
    for i, s in enumerate(steps):
        _validate_step("%s: step %d" % (what, i + 1), s)
    for i, r in enumerate(case.get("received", [])):
        _check_keys("%s: received[%d]" % (what, i), r, RECEIVED_KEYS)
    for name, u in case.get("upstreams", {}).items():
        _check_keys("%s: upstreams.%s" % (what, name), u, UPSTREAM_KEYS)
    for name, d in case.get("servers", {}).items():
        _check_keys("%s: servers.%s" % (what, name), d, {"kind", "host"})
    for name, a in case.get("origin", {}).items():
        _check_keys("%s: origin.%s" % (what, name), a, ANSWER_KEYS)
    if not _asserts(case):
        raise CaseError("%s: the case asserts nothing" % what)


def load_file(path):
    """The cases of one file: a list of (id, file spec, case)."""
    with open(path) as f:
        spec = yaml.safe_load(f)
    stem = path.stem
    _check_keys(path.name, spec, FILE_KEYS | CASE_KEYS)
    if "cases" not in spec:
        case = {k: v for k, v in spec.items() if k in CASE_KEYS}
        _check_keys(path.name, spec, CASE_KEYS | {"anchors"})
        _validate_case(path.name, case, False)
        return [(stem, {"file": stem}, case)]
    _check_keys(path.name, spec, FILE_KEYS)
    shared = bool(spec.get("shared"))
    if not shared and SHARED_ONLY & set(spec):
        raise CaseError("%s: setup and after_each need shared: true" %
                        path.name)
    fspec = {k: v for k, v in spec.items() if k not in ("cases", "about",
                                                        "anchors")}
    fspec["file"] = stem
    fspec["all_cases"] = spec["cases"]      # for the servers they name
    for name, d in spec.get("servers", {}).items():
        _check_keys("%s: servers.%s" % (path.name, name), d, {"kind",
                                                              "host"})
    for name, a in spec.get("origin", {}).items():
        _check_keys("%s: origin.%s" % (path.name, name), a, ANSWER_KEYS)
    for i, s in enumerate(spec.get("setup", []) + spec.get("after_each", [])):
        _validate_step("%s: setup/after_each step %d" % (path.name, i + 1),
                       s)
    out, seen = [], set()
    for i, case in enumerate(spec["cases"]):
        name = case.get("name") if isinstance(case, dict) else None
        if not name or not re.match(r"^[a-z0-9][a-z0-9.+_-]*$", name):
            raise CaseError("%s: case %d: a name of lowercase letters, "
                            "digits and .+_- is needed, not %r" % (
                                path.name, i + 1, name))
        if name in seen:
            raise CaseError("%s: two cases named %s" % (path.name, name))
        seen.add(name)
        _validate_case("%s: %s" % (path.name, name), case, shared)
        out.append(("%s/%s" % (stem, name), fspec, case))
    return out


def load_all():
    params = []
    for path in sorted(CASES.glob("*.yaml")):
        try:
            cases = load_file(path)
        except (CaseError, yaml.YAMLError) as e:
            params.append(pytest.param(None, None, str(e),
                                       id="%s/LOAD-ERROR" % path.stem))
            continue
        for cid, fspec, case in cases:
            marks = []
            if case.get("needs") == "ipv6" and not has_ipv6_loopback():
                marks.append(pytest.mark.skip(reason="no ::1"))
            params.append(pytest.param(fspec, case, None, id=cid,
                                       marks=marks))
    return params


# ---------------------------------------------------------------------------
# Values: $variables and {expansions}

def _node_keys(text):
    return [k.strip() for k in text.split(" > ")]


class Vars:
    def __init__(self):
        self.values = {}
        self.config_path = None

    def sub(self, s):
        """Expand one string; an exact "$name" becomes the number."""
        if not isinstance(s, str):
            return s
        m = VAR_RE.fullmatch(s)
        if m and m.group(1) in self.values and \
                isinstance(self.values[m.group(1)], int):
            return self.values[m.group(1)] + int(m.group(2) or 0)

        def var(m):
            v = self.values.get(m.group(1))
            if v is None:
                return m.group(0)
            if m.group(2):
                return str(v + int(m.group(2)))
            return str(v)
        s = VAR_RE.sub(var, s)
        s = re.sub(r"\{rep:(\d+):([^}]*)\}",
                   lambda m: m.group(2) * int(m.group(1)), s)
        s = re.sub(r"\{seq:(\d+):([^}]*)\}",
                   lambda m: "".join(re.sub(r"%(\d*)d", lambda f: (
                       "%" + f.group(1) + "d") % i, m.group(2))
                       for i in range(int(m.group(1)))), s)
        s = re.sub(r"\{pattern:(\d+)(?::(\d+))?\}",
                   lambda m: pattern_bytes(int(m.group(1)), int(
                       m.group(2) or 0)).decode("latin-1"), s)
        if "{line:" in s:
            if self.config_path is None:
                raise CaseError("{line:...} before the configuration exists")
            s = re.sub(r"\{line:([^}]*)\}", lambda m: str(node_line(
                self.config_path, *_node_keys(m.group(1)))), s)
        return s

    def deep(self, v):
        if isinstance(v, dict):
            return {self.sub(k): self.deep(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.deep(x) for x in v]
        return self.sub(v)


def data(s):
    """Bytes of an expanded string (characters 0-255)."""
    if s is None:
        return b""
    return str(s).encode("latin-1")


def text(b):
    return b.decode("latin-1") if isinstance(b, (bytes, bytearray)) else b


def mismatch(value, want):
    """None when value satisfies want (a literal, or a mapping of
    matchers), else a short reason."""
    if isinstance(want, dict) and want and set(want) <= MATCHERS:
        for k, w in want.items():
            why = _matcher(k, value, w)
            if why:
                return why
        return None
    if value != want or isinstance(value, bool) != isinstance(want, bool):
        return "got %s, expected %s" % (short(value), short(want))
    return None


def _matcher(kind, value, w):
    sval = value if isinstance(value, str) else json.dumps(value)
    if kind == "re":
        if value is None or not re.search(w, sval):
            return "%s does not match /%s/" % (short(value), w)
    elif kind == "not_re":
        if value is not None and re.search(w, sval):
            return "%s matches /%s/" % (short(value), w)
    elif kind in ("has", "lacks"):
        for piece in w if isinstance(w, list) else [w]:
            inside = value is not None and piece in sval
            if inside != (kind == "has"):
                return "%s %s %s" % (short(value), "lacks" if kind == "has"
                                     else "has", short(piece))
    elif kind == "prefix":
        if value is None or not sval.startswith(w):
            return "%s does not start with %s" % (short(value), short(w))
    elif kind == "suffix":
        if value is None or not sval.endswith(w):
            return "%s does not end with %s" % (short(value), short(w))
    elif kind == "cut_of":
        if value is None or len(sval) >= len(w) or not w.startswith(sval):
            return "%s is not a shorter start of %s" % (short(value),
                                                        short(w))
    elif kind == "in":
        if value not in w:
            return "got %s, expected one of %s" % (short(value), short(w))
    elif kind == "not":
        if value == w:
            return "got %s, expected anything else" % short(value)
    elif kind == "not_in":
        if value in w:
            return "got %s, expected none of %s" % (short(value), short(w))
    elif kind in ("below", "above"):
        if not isinstance(value, int) or (
                value >= w if kind == "below" else value <= w):
            return "got %s, expected %s %s" % (short(value), kind, w)
    return None


def diffs(fields, want):
    """A line for every field of want that fields (a mapping) does not
    satisfy."""
    wrong = []
    for k, w in want.items():
        if k not in fields:
            wrong.append("%s: missing" % k)
            continue
        why = mismatch(fields[k], w)
        if why:
            wrong.append("%s: %s" % (k, why))
    return wrong


def compare(what, fields, want):
    wrong = diffs(fields, want)
    if wrong:
        raise CaseError("%s:\n  %s" % (what, "\n  ".join(wrong)))


# ---------------------------------------------------------------------------
# Upstream servers

def make_server(name, decl):
    """decl: {kind, host}; the kind defaults to the name without its
    digits. Kinds: origin (helpers.OriginServer), closed (a port that
    refuses connections), or a helpers.TCPServer mode (echo, deferred,
    sink, greet, reset, close)."""
    m = SERVER_NAME_RE.match(name)
    kind = (decl or {}).get("kind") or (m and m.group(1))
    if not kind:
        raise CaseError("server %s: no kind" % name)
    host = (decl or {}).get("host", "127.0.0.1")
    if kind == "origin":
        return OriginServer(host=host)
    if kind == "closed":
        return closed_port()
    return TCPServer(kind, host=host)


def server_port(srv):
    if isinstance(srv, socket.socket):
        return srv.getsockname()[1]
    return srv.port


def origin_handler(answer, values):
    """An OriginServer handler that sends answer["send"] (see ANSWER_KEYS
    and cases/README.md)."""
    raw = data(values.sub(answer["send"]))

    def handler(oc, req):
        if answer.get("reused") == "close" and req.seq > 1:
            return False
        oc.send(raw)
        if answer.get("shutdown"):
            oc.sock.shutdown(socket.SHUT_WR)
        if answer.get("hold"):
            while True:         # until the proxy closes (ends the thread)
                oc.buf.clear()
                oc.fill()
        return answer.get("keep", True)
    return handler


def referenced_servers(*objs):
    names = set()

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(k)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str):
            for m in VAR_RE.finditer(v):
                if SERVER_NAME_RE.match(m.group(1)):
                    names.add(m.group(1))
    for o in objs:
        walk(o)
    return names


def host_map(hosts):
    """A hosts entry (a list of names for 127.0.0.1, or a mapping name ->
    address) as a mapping."""
    if isinstance(hosts, dict):
        return hosts
    return {name: "127.0.0.1" for name in hosts}


def merge(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = merge(a[k], v) if k in a else v
        return out
    return b


# ---------------------------------------------------------------------------
# One proxy with its servers

class Env:
    """The proxy of a case (or of a shared file) and the servers it names;
    conns are connections opened by a shared file's setup."""

    def __init__(self, factory, spec, everything):
        self.vars = Vars()
        self.servers = {}
        self.conns = {}
        try:
            self._start(factory, spec, everything)
        except BaseException:
            self.close()
            raise

    def _start(self, factory, spec, everything):
        decls = spec.get("servers") or {}
        for name in sorted(set(decls) | referenced_servers(everything)):
            if name not in decls and not SERVER_NAME_RE.match(name):
                continue
            srv = make_server(name, decls.get(name))
            self.servers[name] = srv
            self.vars.values[name] = server_port(srv)
        for route, answer in (spec.get("origin") or {}).items():
            origin = self.servers.get("origin")
            if origin is None:
                raise CaseError("origin answers but no $origin is used")
            h = origin_handler(answer, self.vars)
            if answer.get("early"):
                origin.early_handlers[route] = h
            else:
                origin.handlers[route] = h
        hosts = self.vars.deep(spec.get("hosts") or [])
        self.proxy = p = factory({}, hosts, start=False)
        self.vars.values["dir"] = str(p.dir)
        self.vars.values["config"] = str(p.config_path)
        config = self.vars.deep(spec.get("config") or {})
        cfg = p.full_config(config)
        cfg["log"] = dict({"decisions": str(p.log_path), "level": "info"},
                          **(config.get("log") or {}))
        p.config = cfg
        dump_yaml(cfg, p.config_path)
        for name, body in (spec.get("files") or {}).items():
            f = p.dir / name
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(self.vars.sub(body))
        self.vars.config_path = p.config_path
        p.start()
        self.vars.values["proxy"] = p.port

    def close(self):
        for c in self.conns.values():
            c.close()
        self.conns.clear()
        for srv in self.servers.values():
            srv.close()
        self.servers.clear()


# ---------------------------------------------------------------------------
# Running a case

# The methods of the requests in raw bytes (behind a PROXY header too):
# CONNECT and HEAD answers have no body to read.
REQUEST_LINE_RE = re.compile(rb"([A-Z]+) [^ \r\n]+ HTTP/\d\.\d\r?\n")


def describe(step):
    for a in ACTIONS:
        if a in step:
            v = repr(str(step[a]))[1:-1]
            return "%s %s" % (a, v if len(v) < 60 else v[:57] + "...")
    return "on %s" % step["conn"]


def response_fields(resp):
    return {
        "status": resp.status, "status_line": resp.status_line,
        "body": text(resp.body), "raw_body": text(resp.raw_body),
        "chunked": resp.chunked,
        "interim": [r.status for r in resp.interim],
    }


def check_response(what, resp, want):
    fields = response_fields(resp)
    plain = {k: v for k, v in want.items()
             if k not in ("headers", "header_count")}
    wrong = diffs(fields, plain)
    wrong += header_diffs(lambda n: resp.headers.get(n.lower()),
                          want.get("headers"))
    for name, n in (want.get("header_count") or {}).items():
        got = len([1 for k, _ in resp.header_list if k.lower() ==
                   name.lower()])
        if got != n:
            wrong.append("header %s: %d lines, expected %d" % (
                name, got, n))
    if wrong:
        raise CaseError("%s:\n  %s\nresponse head: %s" % (
            what, "\n  ".join(wrong), short(resp.raw_head, 600)))


def header_diffs(get, want):
    """want: header name -> value or matcher, or null for an absent
    header."""
    wrong = []
    for name, w in (want or {}).items():
        got = get(name)
        if w is None:
            if got is not None:
                wrong.append("header %s: present (%s), expected absent"
                             % (name, short(got)))
            continue
        why = mismatch(got, w)
        if why:
            wrong.append("header %s: %s" % (name, why))
    return wrong


def read_connect_answer(c):
    """The answer to a CONNECT: after a 2xx the connection is the tunnel;
    a refusal has a body (Content-Length, or up to the close)."""
    resp = c.read_head()
    if not 200 <= resp.status < 300:
        cl = resp.headers.get("content-length")
        resp.body = resp.raw_body = c.read_exact(int(cl)) \
            if cl is not None else c.read_to_eof()
    return resp


class Runner:
    def __init__(self, env, cid):
        self.env = env
        self.cid = cid
        self.vars = env.vars
        self.proxy = env.proxy
        self.log_want = []      # (what, expected fields)
        self.own_conns = {}

    def conn(self, what, step):
        """The step's connection: a new one, or the one named by conn
        (opened by an earlier step, or by the setup of a shared file)."""
        name = step.get("conn")
        old = self.own_conns.get(name, self.env.conns.get(name))
        if name is not None and old is not None:
            if "connect" in step or "source" in step:
                raise CaseError("%s: connection %s is already open" % (
                    what, name))
            return old
        if name is not None and not any(a in step for a in
                                        ("connect", "request", "send")):
            raise CaseError("%s: no connection named %s" % (what, name))
        c = HTTPClient(self.proxy.port, source=step.get("source"))
        if name is not None:
            self.own_conns[name] = c
        return c

    def run_steps(self, steps, label="step"):
        for i, raw in enumerate(steps):
            step = self.vars.deep(raw)
            what = "%s: %s %d (%s)" % (self.cid, label, i + 1,
                                      describe(raw))
            anonymous = step.get("conn") is None
            c = self.conn(what, step)
            try:
                self.run_step(what, step, c)
            except CaseError:
                raise
            except socket.timeout:
                raise CaseError("%s: nothing came from the proxy for %gs"
                                % (what, c.sock.gettimeout())) from None
            except (AssertionError, OSError) as e:
                raise CaseError("%s: %s" % (what, e or repr(e))) from None
            finally:
                if anonymous or step.get("close"):
                    c.close()
                    self.own_conns.pop(step.get("conn"), None)
                    self.env.conns.pop(step.get("conn"), None)

    def run_step(self, what, step, c):
        """In this order: connect or request (or send alone), send, echo,
        shutdown, read the responses (expect), recv, rest/eof, log."""
        headers = [tuple(x.strip() for x in h.split(":", 1))
                   for h in step.get("headers", [])]
        methods = []
        if "connect" in step:
            target = step["connect"]
            lines = ["CONNECT %s HTTP/%s" % (target,
                                             step.get("version", "1.1"))]
            if step.get("host", True):
                lines.append("Host: %s" % target)
            lines += ["%s: %s" % h for h in headers]
            c.send(data("\r\n".join(lines) + "\r\n\r\n"))
            self.read_connect(what, step, c)
        elif "request" in step:
            method, _, url = step["request"].partition(" ")
            body = data(step["body"]) if "body" in step else None
            c.request(method, url, headers=headers, body=body,
                      version=str(step.get("version", "1.1")),
                      host=step.get("host", True))
            methods = [method]
        if "send" in step:
            raw = data(step["send"])
            if step.get("trickle"):
                c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for i in range(len(raw)):
                    c.sock.send(raw[i:i + 1])
            else:
                c.send(raw)
            methods += [m.decode() for m in REQUEST_LINE_RE.findall(raw)]
        echo = step.get("echo", [])
        for piece in echo if isinstance(echo, list) else [echo]:
            raw = data(piece)
            c.send(raw)
            got = c.read_exact(len(raw))
            if got != raw:
                raise CaseError("%s: echo came back different: %s" % (
                    what, short(got)))
        if step.get("shutdown"):
            c.sock.shutdown(socket.SHUT_WR)
        exp = step.get("expect")
        if "request" in step and exp is None:
            exp = {}
        if "connect" not in step and exp is not None:
            many = isinstance(exp, list)
            for j, want in enumerate(exp if many else [exp]):
                m = methods[j] if j < len(methods) else "GET"
                resp = self.read_response(step, c, m)
                check_response("%s: response %d" % (what, j + 1) if many
                               else "%s: response" % what, resp, want)
        if "recv" in step:
            want = data(step["recv"])
            got = c.read_exact(len(want))
            if got != want:
                raise CaseError("%s: received %s, expected %s" % (
                    what, short(got), short(want)))
        if step.get("eof") or "rest" in step:
            rest = text(c.read_to_eof())
            why = mismatch(rest, step.get("rest", ""))
            if why:
                raise CaseError("%s: until the proxy closed: %s" % (
                    what, why))
        if "log" in step:
            self.log_want.append((what, step["log"]))

    def read_connect(self, what, step, c):
        resp = read_connect_answer(c)
        if "expect" in step:
            check_response("%s: answer" % what, resp, step["expect"])

    def read_response(self, step, c, method):
        mode = step.get("read", "response")
        if mode == "head":
            return c.read_head()
        if mode == "interim":
            return c.response(method, interim=True)
        if method == "CONNECT":
            return read_connect_answer(c)
        return c.response(method)

    # -- after the steps ----------------------------------------------------

    def check_log(self, offset, records):
        if not self.log_want and records is None:
            return
        p = self.proxy
        want = self.log_want
        n_list = len(records) if isinstance(records, list) else \
            records or 0

        def new():
            return p.log_lines()[offset:]

        def attempt():
            recs = new()
            if len(recs) < max(n_list, len(want)):
                return None
            m = assign(want, recs)
            return (recs, m) if m is not None else None
        try:
            recs, m = wait_until(attempt, "decision records")
        except AssertionError:
            raise CaseError(self.log_failure(new(), n_list)) from None
        for rec in set(m.values()):
            check_shape(self.cid, recs[rec])
        if isinstance(records, int):
            if len(recs) != records:
                raise CaseError("%s: %d decision records, expected %d:\n%s"
                                % (self.cid, len(recs), records,
                                   dump_records(recs)))
        elif isinstance(records, list):
            if len(recs) != len(records):
                raise CaseError("%s: %d decision records, expected %d:\n%s"
                                % (self.cid, len(recs), len(records),
                                   dump_records(recs)))
            for i, (rec, w) in enumerate(zip(recs, records)):
                check_shape(self.cid, rec)
                compare("%s: decision record %d of %d (%s)" % (
                    self.cid, i + 1, len(recs), json.dumps(rec)), rec,
                    self.vars.deep(w))

    def log_failure(self, recs, least):
        m = assign(self.log_want, recs) or {}
        out = ["%s: the decision log lacks records:" % self.cid]
        if len(recs) < least:
            out.append("%d records, expected %d" % (len(recs), least))
        for i, (what, w) in enumerate(self.log_want):
            if i in m:
                continue
            best, best_wrong = None, None
            for rec in recs:
                wrong = [k for k, v in w.items()
                         if k not in rec or mismatch(rec[k], v)]
                if best_wrong is None or len(wrong) < len(best_wrong):
                    best, best_wrong = rec, wrong
            out.append("%s: no record with %s" % (what, json.dumps(w)))
            if best is not None:
                out.append("  nearest record differs in:")
                for k in best_wrong:
                    out.append("    %s: %s" % (
                        k, "missing" if k not in best else
                        mismatch(best[k], w[k])))
        out.append("records (%d):\n%s" % (len(recs), dump_records(recs)))
        return "\n".join(out)

    def check_stderr(self, start, patterns):
        for rx in patterns or []:
            try:
                self.proxy.wait_stderr(rx, start=start)
            except AssertionError as e:
                raise CaseError("%s: stderr: %s" % (self.cid, e)) from None

    def check_upstreams(self, ups):
        for name, want in (ups or {}).items():
            srv = self.env.servers.get(name)
            if srv is None:
                raise CaseError("%s: upstreams: no server %s" % (
                    self.cid, name))
            what = "%s: upstream %s" % (self.cid, name)
            if "received" in want:
                for piece in want["received"]:
                    piece = data(piece)

                    def got_it():
                        with srv.lock:
                            return piece in srv.received
                    try:
                        wait_until(got_it, "bytes at %s" % name)
                    except AssertionError:
                        with srv.lock:
                            got = list(srv.received)
                        raise CaseError("%s: never received %s (got %s)"
                                        % (what, short(piece), short(got))
                                        ) from None
            if "requests" in want:
                got = [q.request_line for q in srv.find(lambda q: True)]
                why = mismatch(got, want["requests"])
                if why:
                    raise CaseError("%s: request lines: %s" % (what, why))
            if "accepted" in want:
                with srv.lock:
                    n = srv.accepted
                if n != want["accepted"]:
                    raise CaseError("%s: accepted %d connections, expected "
                                    "%d" % (what, n, want["accepted"]))

    def check_received(self, items):
        for i, w in enumerate(items or []):
            w = dict(w)
            name = w.pop("server", "origin")
            srv = self.env.servers.get(name)
            if not isinstance(srv, OriginServer):
                raise CaseError("%s: received: %s is not an origin" % (
                    self.cid, name))
            path = w.pop("path")
            count = w.pop("count", None)
            pick = w.pop("pick", "first")
            what = "%s: %s received %s" % (self.cid, name, path)
            if count == 0:
                got = srv.find(lambda q: q.path == path)
                if got:
                    raise CaseError("%s: %d request(s), expected none: %s" %
                                    (what, len(got), short(got)))
                continue
            exact = count if isinstance(count, int) else None
            try:
                srv.wait_request(lambda q: q.path == path,
                                 "a request for %s" % path, exact or 1)
            except AssertionError:
                got = [q.request_line for q in srv.find(lambda q: True)]
                raise CaseError("%s: no such request; got %s" % (
                    what, short(got))) from None
            reqs = srv.find(lambda q: q.path == path)
            why = mismatch(len(reqs), count) if count is not None else None
            if why:
                raise CaseError("%s: number of requests: %s" % (what, why))
            q = reqs[0] if pick == "first" else reqs[-1]
            if w.get("complete") or "body" in w or "raw_body" in w:
                try:
                    wait_until(lambda: q.complete, "the request body")
                except AssertionError:
                    pass        # compared below: the difference is shown
            fields = {
                "request_line": q.request_line, "method": q.method,
                "target": q.target, "version": q.version,
                "raw_head": text(q.raw_head),
                "body": text(q.body), "raw_body": text(q.raw_body),
                "chunked": q.chunked, "complete": q.complete,
                "conn": q.conn, "seq": q.seq}
            hdrs = w.pop("headers", {})
            hall = w.pop("headers_all", {})
            wrong = diffs(fields, w) + header_diffs(q.header, hdrs)
            for hname, hv in hall.items():
                why = mismatch(q.headers_named(hname), hv)
                if why:
                    wrong.append("header %s (every line): %s" % (hname, why))
            if wrong:
                raise CaseError("%s:\n  %s\nhead: %s" % (
                    what, "\n  ".join(wrong), short(q.raw_head, 800)))

    def close(self):
        for c in self.own_conns.values():
            c.close()
        self.own_conns.clear()


def assign(want, recs):
    """A distinct record for every expectation (index -> record index),
    or None."""
    ok = [[j for j, r in enumerate(recs)
           if all(k in r and not mismatch(r[k], v) for k, v in w.items())]
          for _, w in want]
    owner = {}

    def place(i, seen):
        for j in ok[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or place(owner[j], seen):
                owner[j] = i
                return True
        return False
    for i in range(len(want)):
        if not place(i, set()):
            return None
    return {i: j for j, i in owner.items()}


def check_shape(cid, rec):
    missing = [f for f in LOG_FIELDS if f not in rec]
    bad = []
    if missing:
        bad.append("lacks %s" % ", ".join(missing))
    if "ts" in rec and not TS_RE.match(str(rec["ts"])):
        bad.append("ts %r" % rec["ts"])
    for f in ("bytes_up", "bytes_down", "duration_ms"):
        v = rec.get(f)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            bad.append("%s %r" % (f, v))
    if bad:
        raise CaseError("%s: malformed decision record (%s): %s" % (
            cid, "; ".join(bad), json.dumps(rec)))


def dump_records(recs):
    return "\n".join("  " + json.dumps(r) for r in recs) or "  (none)"


def run_case(env, cid, case, after_each=()):
    r = Runner(env, cid)
    offset = len(env.proxy.log_lines())
    start = env.proxy.nlines()
    try:
        r.run_steps(case["steps"])
        r.close()       # the case's connections end before the checks
        r.check_log(offset, case.get("records"))
        r.check_stderr(start, env.vars.deep(case.get("stderr")))
        r.check_upstreams(env.vars.deep(case.get("upstreams")))
        r.check_received(env.vars.deep(case.get("received")))
    finally:
        r.close()
    if after_each:
        Runner(env, cid).run_steps(after_each, "after_each step")


# ---------------------------------------------------------------------------
# pytest

@pytest.fixture(scope="module")
def shared_envs(tmp_path_factory, hushgate):
    """One proxy (and servers) per file marked shared: true."""
    envs = {}
    factory = ProxyFactory(tmp_path_factory.mktemp("shared"))
    yield envs, factory
    for env in envs.values():
        env.close()
    problems = factory.cleanup()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def _shared_env(shared_envs, fspec):
    envs, factory = shared_envs
    name = fspec["file"]
    if name not in envs:
        env = Env(factory, fspec, fspec)
        envs[name] = env
        r = Runner(env, name)
        r.run_steps(fspec.get("setup", []), "setup step")
        env.conns.update(r.own_conns)
    return envs[name]


@pytest.mark.parametrize("fspec,case,error", load_all())
def test_case(request, proxy, fspec, case, error):
    if error is not None:
        pytest.fail(error, pytrace=False)
    cid = request.node.callspec.id
    if fspec.get("shared"):
        env = _shared_env(request.getfixturevalue("shared_envs"), fspec)
        failure = None
        try:
            run_case(env, cid, case, fspec.get("after_each", []))
        except CaseError as e:
            failure = str(e)
        if failure:
            pytest.fail(failure, pytrace=False)
        assert env.proxy.proc.poll() is None, \
            "the shared proxy of %s died:\n%s" % (fspec["file"],
                                                   env.proxy.stderr_text())
        bad = sanitizer_lines(env.proxy.lines)
        assert not bad, "sanitizer report:\n%s" % env.proxy.stderr_text()
        return
    spec = {}
    for k in ENV_KEYS:
        if k in fspec and k in case:
            a, b = fspec[k], case[k]
            if k == "hosts":
                spec[k] = dict(host_map(a), **host_map(b))
            else:
                spec[k] = merge(a, b)
        elif k in fspec or k in case:
            spec[k] = case.get(k, fspec.get(k))
    env = Env(proxy, spec, [spec, case])
    failure = None
    try:
        run_case(env, cid, case)
    except CaseError as e:
        failure = str(e)
    finally:
        env.close()
    if failure:
        pytest.fail(failure, pytrace=False)


def test_case_files_found():
    """The case files are there and load (a file that fails to load is
    also a failing test of its own, named FILE/LOAD-ERROR)."""
    ids = [p.id for p in load_all()]
    broken = [i for i in ids if i.endswith("/LOAD-ERROR")]
    assert not broken, broken
    # The two tables that were data files before the others.
    for name, least in (("malformed-heads", 25), ("http-smuggling", 15)):
        n = len([i for i in ids if i.startswith(name + "/")])
        assert n >= least, "%s: %d cases" % (name, n)

"""A small reading of the rule files as the interface contract describes
them, used to know what a shipped host *should* get: which category, which
rule file and line, which action.

Semantics modelled: includes processed first, then categories, then actions;
category order is the order of first definition; "x" exact, ".x" name and
subdomains, "*.x" subdomains only, any other "*" a glob (consulted only when no
exact/suffix rule matched), CIDR/IP for IP-literal targets, ":443" and
":[80,443]" port restrictions.  Exact beats suffix, longer suffix beats
shorter, ties go to the category defined first.
"""

import fnmatch
import ipaddress
import os
import re

import yaml

PORT_RE = re.compile(r"^(.*?):(?:(\d+)|\[([0-9, ]+)\])$")


class Rule:
    def __init__(self, pattern, category, path, line):
        self.pattern = pattern
        self.category = category
        self.path = path
        self.line = line
        self.ports = None
        body = pattern.lower()
        m = PORT_RE.match(body)
        if m and ":" not in m.group(1):
            body = m.group(1)
            if m.group(2):
                self.ports = {int(m.group(2))}
            else:
                self.ports = {int(p) for p in m.group(3).split(",")}
        self.body = body
        self.net = None
        if "/" in body or _is_ip(body):
            self.kind = "ip"
            self.net = ipaddress.ip_network(body, strict=False)
        elif body.startswith(".") and "*" not in body:
            self.kind = "suffix"
            self.name = body[1:]
        elif body.startswith("*.") and "*" not in body[2:]:
            self.kind = "subonly"
            self.name = body[2:]
        elif "*" in body:
            self.kind = "glob"
        else:
            self.kind = "exact"
            self.name = body.rstrip(".")

    def port_ok(self, port):
        return self.ports is None or port in self.ports

    def sample_hosts(self):
        """Concrete names this rule is about (for tests)."""
        if self.kind == "exact":
            return [self.name]
        if self.kind in ("suffix", "subonly"):
            return [self.name, "sub." + self.name]
        if self.kind == "glob":
            return [self.body.replace("*", "sub")]
        return []


def _is_ip(s):
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


class Category:
    def __init__(self, name, action, order):
        self.name = name
        self.action = action
        self.order = order
        self.rules = []


class Ruleset:
    def __init__(self, path):
        self.categories = {}
        self.default = "allow"
        path = os.path.abspath(str(path))
        self._load(path)

    def _load(self, path):
        with open(path) as f:
            node = yaml.compose(f)
        if node is None:
            return {}
        pairs = {k.value: v for k, v in node.value}
        for inc in getattr(pairs.get("include"), "value", None) or []:
            self._load(os.path.join(os.path.dirname(path), inc.value))
        cats = pairs.get("categories")
        for kn, vn in (cats.value if cats is not None and cats.value else []):
            fields = {k.value: v for k, v in vn.value}
            c = Category(kn.value, fields["action"].value,
                         len(self.categories))
            assert c.name not in self.categories, c.name
            self.categories[c.name] = c
            for hn in getattr(fields.get("hosts"), "value", None) or []:
                c.rules.append(Rule(hn.value, c.name, path,
                                    hn.start_mark.line + 1))
        acts = pairs.get("actions")
        for kn, vn in (acts.value if acts is not None and acts.value else []):
            self.categories[kn.value].action = vn.value
        # Read with the actions: a file's own default wins over its
        # includes' (a profile may set it).
        if pairs.get("default") is not None:
            self.default = pairs["default"].value

    def rules(self):
        for c in self.categories.values():
            for r in c.rules:
                yield r

    def match(self, host, port):
        """Returns (action, category or None, Rule or None)."""
        host = host.lower()
        if host.endswith("."):
            host = host[:-1]
        h = host.strip("[]")
        order = lambda r: self.categories[r.category].order
        if _is_ip(h):
            addr = ipaddress.ip_address(h)
            cands = [r for r in self.rules() if r.kind == "ip"
                     and r.port_ok(port) and addr.version == r.net.version
                     and addr in r.net]
            if cands:
                best = max(r.net.prefixlen for r in cands)
                r = min((r for r in cands if r.net.prefixlen == best),
                        key=order)
                return self._result(r)
            return self.default, None, None
        exact = [r for r in self.rules() if r.kind == "exact"
                 and r.name == host and r.port_ok(port)]
        if exact:
            return self._result(min(exact, key=order))
        suf = []
        for r in self.rules():
            if not r.port_ok(port):
                continue
            if r.kind == "suffix" and (host == r.name or
                                       host.endswith("." + r.name)):
                suf.append(r)
            elif r.kind == "subonly" and host.endswith("." + r.name):
                suf.append(r)
        if suf:
            best = max(len(r.name) for r in suf)
            return self._result(min((r for r in suf if len(r.name) == best),
                                    key=order))
        globs = [r for r in self.rules() if r.kind == "glob"
                 and r.port_ok(port) and
                 fnmatch.fnmatchcase(host, r.body.replace("[", "[[]"))]
        if globs:
            return self._result(min(globs, key=order))
        return self.default, None, None

    def _result(self, r):
        return self.categories[r.category].action, r.category, r

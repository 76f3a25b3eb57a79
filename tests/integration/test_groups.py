"""Client groups: `clients:` entries {name, networks, users}, a category's
action per group (in the category, or in the top-level actions: map), the
group in the decision log, and `hushgate explain --group`."""

import base64

from helpers import (Response, Tunnel, dump_yaml, open_client, read_head,
                     run_hushgate)

LAB, GUEST, OTHER = "127.0.0.2", "127.0.0.3", "127.0.0.1"


def groups_clients():
    return [OTHER + "/32",
            {"name": "lab", "networks": [LAB + "/32"]},
            {"name": "guests", "networks": [GUEST + "/32", "::1/128"]}]


def status_from(port, target, source, extra=b""):
    with Tunnel(port, target, source=source, extra=extra) as t:
        if t.status == 200:
            t.echo(b"ping")
        return t.status


def test_group_action_in_the_category(proxy, echo_server):
    p = proxy({"connect_ports": [echo_server.port],
               "clients": groups_clients(),
               "categories": {"telemetry": {
                   "action": "deny", "actions": {"lab": "allow"},
                   "hosts": [".tele.test"]}}},
              hosts=["x.tele.test", "plain.test"])
    target = "x.tele.test:%d" % echo_server.port
    assert status_from(p.port, target, LAB) == 200
    assert status_from(p.port, target, GUEST) == 403
    assert status_from(p.port, target, OTHER) == 403
    # Hosts no category names: the default, whatever the group.
    assert status_from(p.port, "plain.test:%d" % echo_server.port,
                       GUEST) == 200

    recs = p.wait_log(lambda r: r["host"] == "x.tele.test", "3 records", 3)
    by_client = {r["client"]: r for r in recs}
    assert by_client[LAB]["group"] == "lab"
    assert by_client[LAB]["action"] == "allow"
    assert by_client[LAB]["category"] == "telemetry"
    assert by_client[GUEST]["group"] == "guests"
    assert by_client[GUEST]["action"] == "deny"
    assert by_client[OTHER]["group"] is None
    assert by_client[OTHER]["action"] == "deny"


def test_group_actions_in_the_actions_map(proxy, echo_server):
    p = proxy({"connect_ports": [echo_server.port],
               "clients": groups_clients(),
               "categories": {"social": {"action": "deny",
                                         "hosts": [".social.test"]}},
               "actions": {"social": {"default": "allow",
                                      "guests": "deny", "lab": "audit"}}},
              hosts=["a.social.test"])
    target = "a.social.test:%d" % echo_server.port
    assert status_from(p.port, target, OTHER) == 200
    assert status_from(p.port, target, GUEST) == 403
    assert status_from(p.port, target, LAB) == 200
    rec = p.wait_log(lambda r: r["client"] == LAB, "lab record")[0]
    assert rec["action"] == "audit" and rec["group"] == "lab"


def test_group_of_users(proxy, echo_server, tmp_path):
    users = tmp_path / "users"
    for name in ("alice", "bob"):
        cp = run_hushgate(["users", "add", name, "--users-file", str(users)],
                          input=b"pw-" + name.encode() + b"\n")
        assert cp.returncode == 0, cp.stderr
    p = proxy({"connect_ports": [echo_server.port],
               "auth": {"basic": {"users_file": str(users)},
                        "allow_plaintext_auth": True},
               "clients": [{"name": "staff", "networks": ["127.0.0.0/8"],
                            "users": ["alice"]},
                           {"name": "rest", "networks": ["127.0.0.0/8"]}],
               "categories": {"work": {"action": "deny",
                                       "actions": {"staff": "allow"},
                                       "hosts": ["work.test"]}}},
              hosts=["work.test"])
    target = "work.test:%d" % echo_server.port

    def cred(name):
        return ("Proxy-Authorization: Basic %s\r\n" % base64.b64encode(
            ("%s:pw-%s" % (name, name)).encode()).decode()).encode()

    assert status_from(p.port, target, LAB, cred("alice")) == 200
    assert status_from(p.port, target, LAB, cred("bob")) == 403
    recs = p.wait_log(lambda r: r["host"] == "work.test", "2 records", 2)
    got = {r["user"]: (r["group"], r["status"]) for r in recs}
    assert got == {"alice": ("staff", 200), "bob": ("rest", 403)}


def test_explain_group(tmp_path):
    cfg = dump_yaml({"clients": groups_clients(),
                     "categories": {"telemetry": {
                         "action": "deny", "actions": {"lab": "allow"},
                         "hosts": [".tele.test"]}},
                     "dns": {"servers": [], "hosts_file": "/dev/null"}},
                    tmp_path / "c.yaml")

    def explain(*args):
        cp = run_hushgate(["explain", "-c", str(cfg)] + list(args))
        return cp.returncode, cp.stdout.split("\t")[:3], cp.stderr

    rc, out, _ = explain("x.tele.test")
    assert rc == 0 and out == ["x.tele.test:443", "deny", "telemetry"]
    rc, out, _ = explain("--group", "lab", "x.tele.test")
    assert rc == 0 and out == ["x.tele.test:443", "allow", "telemetry"]
    rc, out, _ = explain("--group", "guests", "x.tele.test")
    assert rc == 0 and out == ["x.tele.test:443", "deny", "telemetry"]
    rc, out, err = explain("--group", "nobody", "x.tele.test")
    assert rc == 2 and "nobody" in err



def connect_with_header(port, header, target):
    """Status of CONNECT target sent after a PROXY header."""
    with open_client(port) as sock:
        sock.sendall(header + ("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                               % (target, target)).encode())
        head, _ = read_head(sock)
        assert head is not None, "no answer to CONNECT %s" % target
        return Response(head, b"").status


def test_group_by_proxy_protocol_address(proxy, echo_server):
    """Behind a load balancer the group is the one of the address the
    PROXY header carries, not the balancer's."""
    p = proxy({"listen": [{"address": "127.0.0.1:0",
                           "proxy_protocol": "v1"}],
               "trusted_proxies": ["127.0.0.1/32"],
               "connect_ports": [echo_server.port],
               "clients": [{"name": "lab", "networks": ["192.0.2.0/24"]},
                           "198.51.100.0/24"],
               "categories": {"telemetry": {
                   "action": "deny", "actions": {"lab": "allow"},
                   "hosts": [".tele.test"]}}},
              hosts=["x.tele.test"])
    target = "x.tele.test:%d" % echo_server.port
    for src, want in (("192.0.2.7", 200), ("198.51.100.7", 403)):
        header = ("PROXY TCP4 %s 127.0.0.1 40000 %d\r\n" % (
            src, p.port)).encode()
        assert connect_with_header(p.port, header, target) == want, src
    recs = p.wait_log(lambda r: r["host"] == "x.tele.test", "2 records", 2)
    got = {r["client"]: r["group"] for r in recs}
    assert got == {"192.0.2.7": "lab", "198.51.100.7": None}

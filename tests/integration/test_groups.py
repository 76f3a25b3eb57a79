"""Client groups and `hushgate explain --group`.  The live checks (a
category's action per group, the group in the decision log, groups of
users, the group behind a load balancer) are cases/groups.yaml."""

from helpers import dump_yaml, run_hushgate

LAB, GUEST, OTHER = "127.0.0.2", "127.0.0.3", "127.0.0.1"


def groups_clients():
    return [OTHER + "/32",
            {"name": "lab", "networks": [LAB + "/32"]},
            {"name": "guests", "networks": [GUEST + "/32", "::1/128"]}]


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

"""The coverage targets of the shipped profiles against the public lists,
as tests/bench/policy-run reports them (its table is in the benchmark
README): every target row must say PASS. A change of a category file or of
tests/data/coverage/keep.tsv that loses coverage fails here."""

import re
import subprocess
import sys

from helpers import REPO, hushgate_bin


def test_policy_targets_pass(tmp_path, real_lists):
    out = tmp_path / "coverage.md"
    cp = subprocess.run(
        [sys.executable, str(REPO / "tests" / "bench" / "policy-run"),
         "--hushgate", hushgate_bin(), "--out", str(out), str(real_lists)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    assert cp.returncode == 0, cp.stderr.decode()
    text = out.read_text()
    section = text.split("## Targets", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (.+?) \| (PASS|FAIL) \| (.+?) \|$", section,
                      re.M)
    # balanced: covered, >= 90 %, no update name denied, breaks named;
    # strict: >= 95 %, breaks named.
    assert len(rows) == 6, section
    failed = ["%s: %s" % (what, fig) for what, res, fig in rows
              if res != "PASS"]
    assert not failed, "\n".join(failed)

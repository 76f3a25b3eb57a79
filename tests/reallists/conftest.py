# Checks against real published blocklists, which are not part of the
# repository (their licences differ from ours): scripts/test-real-lists DIR
# runs them. The lists are read from $HUSHGATE_REAL_LISTS; the binary is
# $HUSHGATE_BIN, or ./hushgate at the repository root.
#
#   HUSHGATE_REAL_LISTS=DIR /usr/bin/python3 -m pytest tests/reallists -q

import os
import sys
from pathlib import Path

import pytest

# The integration suite's helpers (run_hushgate, dump_yaml).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

import helpers  # noqa: E402


@pytest.fixture(scope="session")
def real_lists():
    """The directory of the real lists; unset or missing fails the test."""
    d = os.environ.get("HUSHGATE_REAL_LISTS")
    if not d:
        pytest.fail("HUSHGATE_REAL_LISTS is not set (the directory of the "
                    "real lists; scripts/test-real-lists sets it)",
                    pytrace=False)
    if not os.path.isdir(d):
        pytest.fail("HUSHGATE_REAL_LISTS=%s is not a directory" % d,
                    pytrace=False)
    return Path(d)


@pytest.fixture(scope="session", autouse=True)
def hushgate():
    """The binary under test; a missing binary fails the test."""
    path = helpers.hushgate_bin()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("hushgate binary not found at %s (build it, or set "
                    "HUSHGATE_BIN)" % path, pytrace=False)
    return path


def pytest_report_header(config):
    return ["hushgate binary: %s" % helpers.hushgate_bin(),
            "real lists: %s" % os.environ.get("HUSHGATE_REAL_LISTS",
                                              "(HUSHGATE_REAL_LISTS unset)")]

# Integration tests for hushgate: the real binary, real clients, real sockets,
# all on the loopback interface with ports chosen at run time.
#
# Debian packages this suite relies on (apt-get install -y ...):
#   python3 python3-pytest python3-yaml curl openssl wget
#   slapd ldap-utils python3-ldap (test_ldap.py)
#
# Run from the repository root:
#   /usr/bin/python3 -m pytest tests/integration -q
# The binary is $HUSHGATE_BIN, or ./hushgate at the repository root.

import os
import shutil
import ssl
import subprocess

import pytest

import helpers
from helpers import (TIMEOUT, HTTPServer, ProxyFactory, TCPServer,
                     hushgate_bin, write_hosts)


def _need_tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail("required tool %r is not installed (see the package list "
                    "at the top of conftest.py)" % name)
    return path


@pytest.fixture(scope="session")
def hushgate():
    """Path of the binary under test; a missing binary fails the test."""
    path = hushgate_bin()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("hushgate binary not found at %s (build it, or set "
                    "HUSHGATE_BIN)" % path)
    return path


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory):
    """A throwaway CA and a server certificate for the test names, made
    with the openssl CLI.  Returns a dict of paths."""
    _need_tool("openssl")
    return helpers.make_test_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def server_tls_ctx(test_ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(test_ca["cert"], test_ca["key"])
    return ctx


@pytest.fixture(scope="session")
def client_tls_ctx(test_ca):
    ctx = ssl.create_default_context(cafile=test_ca["ca"])
    return ctx


def _server(obj):
    yield obj
    obj.close()


@pytest.fixture(scope="session")
def tls_echo(server_tls_ctx):
    """TLS echo server on 127.0.0.1 (certificate for echo.test)."""
    yield from _server(TCPServer("echo", tls_ctx=server_tls_ctx))


@pytest.fixture(scope="session")
def echo_server():
    """Plain TCP echo server on 127.0.0.1."""
    yield from _server(TCPServer("echo"))


@pytest.fixture(scope="session")
def echo_server2():
    """A second plain TCP echo server (another port)."""
    yield from _server(TCPServer("echo"))


@pytest.fixture
def fresh_echo():
    """An echo server of the test's own: its accept count starts at 0."""
    yield from _server(TCPServer("echo"))


@pytest.fixture(scope="session")
def deferred_echo():
    """Reads until EOF, then sends everything back: tests half-close."""
    yield from _server(TCPServer("deferred"))


@pytest.fixture(scope="session")
def sink_server():
    """Reads until EOF and records what it got."""
    yield from _server(TCPServer("sink"))


@pytest.fixture(scope="session")
def greet_server():
    """Sends a line, shuts down its write side, then reads until EOF."""
    yield from _server(TCPServer("greet"))


@pytest.fixture(scope="session")
def reset_server():
    """Reads once, then resets the connection."""
    yield from _server(TCPServer("reset"))


@pytest.fixture(scope="session")
def https_server(server_tls_ctx):
    """HTTPS server: GET -> "hello HOST PATH\\n", POST echoes the body."""
    yield from _server(HTTPServer(tls_ctx=server_tls_ctx))


@pytest.fixture(scope="session")
def http_server():
    """Plain HTTP server, same behaviour as https_server."""
    yield from _server(HTTPServer())


@pytest.fixture
def hosts_file(tmp_path):
    """hosts_file(names, ip="127.0.0.1") writes a hosts file; returns its
    path."""
    counter = [0]

    def make(names, ip="127.0.0.1"):
        counter[0] += 1
        return write_hosts(tmp_path / ("hosts%d" % counter[0]), names, ip)
    return make


@pytest.fixture
def proxy(tmp_path, hushgate):
    """proxy(config_dict, hosts=[names]) starts hushgate on a generated
    config (listen 127.0.0.1:0, dns only from a hosts file mapping the names
    to 127.0.0.1, decision log to a file) and returns a helpers.Proxy.
    Teardown stops it and fails the test on a sanitizer report, a crash or
    an unclean exit."""
    factory = ProxyFactory(tmp_path)
    yield factory
    problems = factory.cleanup()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def module_proxy(tmp_path_factory, hushgate):
    """Like proxy, shared by the tests of one module."""
    factory = ProxyFactory(tmp_path_factory.mktemp("modproxy"))
    yield factory
    problems = factory.cleanup()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def curl():
    return _need_tool("curl")


@pytest.fixture(scope="session")
def openssl_cli():
    return _need_tool("openssl")


def pytest_report_header(config):
    return "hushgate binary: %s" % helpers.hushgate_bin()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "no_tsan(reason): cannot run against a ThreadSanitizer "
        "build, for the technical reason given; left out of that run")


def pytest_collection_modifyitems(config, items):
    """Against a ThreadSanitizer build, the tests marked no_tsan are
    deselected (not skipped: scripts/test counts a skip as a failure)."""
    if not helpers.built_with_tsan():
        return
    keep, drop = [], []
    for item in items:
        m = item.get_closest_marker("no_tsan")
        if m is not None:
            assert m.args and m.args[0], "no_tsan needs a reason"
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def origin():
    """A scripted HTTP/1.1 origin server of the test's own (see
    helpers.OriginServer); its connection count starts at 0."""
    yield from _server(helpers.OriginServer())


@pytest.fixture(scope="session")
def wget():
    return _need_tool("wget")


@pytest.fixture(scope="session")
def haproxy_bin():
    path = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not os.path.exists(path):
        pytest.fail("haproxy is not installed (scripts/deps test installs "
                    "it)")
    return path

"""Hostile and malformed request heads (from data/malformed.yaml) while a
tunnel opened before them keeps relaying; origin-form requests; connection
limit; request head timeout."""

import re

import pytest
import yaml

from helpers import (DATA, Tunnel, connect_status, open_client, raw_request,
                     read_response, read_to_eof, wait_until)


def _expand(head):
    head = re.sub(r"\{pad:(\d+)\}", lambda m: "a" * int(m.group(1)), head)
    head = re.sub(r"\{hdrs:(\d+)\}",
                  lambda m: "X-Many: 1\r\n" * int(m.group(1)), head)
    return head.encode("latin-1")


def _load_cases():
    with open(DATA / "malformed.yaml") as f:
        cases = yaml.safe_load(f)
    out = []
    for c in cases:
        assert set(c) == {"name", "head", "status"}, c
        out.append(pytest.param(_expand(c["head"]), c["status"],
                                id=c["name"].replace(" ", "-")))
    return out


CASES = _load_cases()
END_FOR_STATUS = {400: "bad_request", 431: "too_large"}


@pytest.fixture(scope="module")
def mal_proxy(module_proxy, echo_server):
    return module_proxy({
        "connect_ports": [443, echo_server.port],
        "default": "deny",
        "categories": {"echo": {"action": "allow", "hosts": ["echo.test"]}},
    }, hosts=["echo.test"])


@pytest.fixture(scope="module")
def parallel_tunnel(mal_proxy, echo_server):
    """A tunnel opened before the batch of bad requests, checked after
    every one of them."""
    t = Tunnel(mal_proxy.port, "echo.test:%d" % echo_server.port)
    assert t.status == 200
    t.echo(b"before the batch\n")
    yield t
    t.close()


def test_malformed_case_count():
    assert len(CASES) >= 25


@pytest.mark.parametrize("head,status", CASES)
def test_malformed_head(mal_proxy, parallel_tunnel, head, status):
    p = mal_proxy
    end = END_FOR_STATUS[status]
    prior = len([r for r in p.log_lines() if r["end"] == end])
    resp = raw_request(p.port, head)
    assert resp.status == status, "sent %r, got %r" % (head[:120], resp)
    recs = p.wait_log(lambda r: r["end"] == end, "a %s record" % end,
                      count=prior + 1)
    rec = recs[-1]
    assert rec["action"] == "deny"
    assert rec["status"] == status
    assert rec["upstream"] is None
    parallel_tunnel.echo(b"still relaying after %d bytes of junk\n"
                         % len(head))


def test_parallel_tunnel_survived_batch(mal_proxy, parallel_tunnel):
    parallel_tunnel.echo(b"x" * 100000)
    assert mal_proxy.proc.poll() is None


def test_healthz(mal_proxy):
    p = mal_proxy
    with open_client(p.port) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: proxy\r\n"
                  b"Connection: close\r\n\r\n")
        resp = read_response(s)
        read_to_eof(s)
    assert resp.status == 200
    assert resp.body == b"ok\n"
    # Not logged: a later denied request's record is there, no GET one.
    with Tunnel(p.port, "after-healthz.test:443") as t:
        assert t.status == 403
    p.wait_log(lambda r: r["host"] == "after-healthz.test", "later record")
    assert not [r for r in p.log_lines() if r["method"] == "GET"
                and r["status"] == 200]


def test_other_origin_form_path_404(mal_proxy):
    resp = raw_request(mal_proxy.port, b"GET /no-such-thing HTTP/1.1\r\n"
                       b"Host: proxy\r\nConnection: close\r\n\r\n")
    assert resp.status == 404


def test_absolute_form_https_400(mal_proxy):
    # Plain HTTP forwarding takes http:// URLs; an https:// URL must come
    # as CONNECT.
    resp = raw_request(mal_proxy.port, b"GET https://echo.test/ HTTP/1.1\r\n"
                       b"Host: echo.test\r\nConnection: close\r\n\r\n")
    assert resp.status == 400


def test_max_connections_503(proxy, echo_server):
    p = proxy({"connect_ports": [echo_server.port], "workers": 1,
               "max_connections": 2}, hosts=["echo.test"])
    target = "echo.test:%d" % echo_server.port
    t1 = Tunnel(p.port, target)
    t2 = Tunnel(p.port, target)
    try:
        assert t1.status == 200 and t2.status == 200
        t1.echo(b"one")
        t2.echo(b"two")
        with Tunnel(p.port, target) as t3:
            assert t3.status == 503
        rec = p.wait_log(lambda r: r["end"] == "overload", "overload")[0]
        assert rec["status"] == 503
        t1.echo(b"one still works")
    finally:
        t1.close()
    p.wait_log(lambda r: r["end"] == "client_closed", "t1 closed")
    # A slot is free again once the proxy has closed t1.
    wait_until(lambda: connect_status(p.port, target) == 200,
               "a new tunnel to be accepted after one closed")
    t2.echo(b"two still works")
    t2.close()


def test_request_head_timeout_partial_head(proxy):
    p = proxy({"timeouts": {"request": "1s"}})
    with open_client(p.port) as s:
        s.sendall(b"CONNECT a.te")
        resp = read_response(s, body=False)
        read_to_eof(s)
    assert resp.status == 408
    rec = p.wait_log(lambda r: r["end"] == "request_timeout", "timeout")[0]
    assert rec["status"] == 408


def test_request_head_timeout_silent_client(proxy):
    p = proxy({"timeouts": {"request": "500ms"}})
    with open_client(p.port) as s:
        resp = read_response(s, body=False)
        read_to_eof(s)
    assert resp.status == 408
    p.wait_log(lambda r: r["end"] == "request_timeout", "timeout")


def _head_of_size(n):
    base = b"CONNECT a.test:443 HTTP/1.1\r\nX-Pad: "
    tail = b"\r\n\r\n"
    head = base + b"a" * (n - len(base) - len(tail)) + tail
    assert len(head) == n
    return head


def test_head_of_8192_bytes_is_accepted(mal_proxy):
    # a.test is denied by default: a head that was read gets 403.
    assert raw_request(mal_proxy.port, _head_of_size(8192)).status == 403


def test_head_over_8192_bytes_is_431(mal_proxy):
    # Over the limit whether or not the final CRLF CRLF is counted.
    assert raw_request(mal_proxy.port, _head_of_size(8197)).status == 431

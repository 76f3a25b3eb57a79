"""The page a browser shows for a denied plain-HTTP request: what was
blocked, the category's description and breaks (escaped: they are text
from the configuration), how to allow it, and for a client that may see
the status page a link to the explanation there, which answers."""

import re
import urllib.parse

from helpers import HTTPClient

HOSTS = ["ads.test", "other.test"]


def _cfg(origin, **extra):
    cfg = {
        "http_ports": [origin.port],
        "categories": {
            "ads": {"action": "deny", "hosts": ["ads.test"],
                    "description": "Ad <b>beacons</b> & pixels",
                    "breaks": "Nothing <script>alert(1)</script>"},
        },
    }
    cfg.update(extra)
    return cfg


def _get(p, url, headers=()):
    with HTTPClient(p.port) as c:
        c.request("GET", url, headers=headers)
        return c.response()


def _no_link(r):
    """A block page without the link to the status page."""
    assert r.status == 403
    body = r.body.decode()
    assert "What stops working while it is blocked" in body
    assert "explain=" not in body


def test_block_page_explains_and_links(proxy, origin):
    p = proxy(_cfg(origin), hosts=HOSTS)
    r = _get(p, "http://ads.test:%d/pixel.gif" % origin.port)
    assert r.status == 403
    assert r.headers.get("content-type") == "text/html; charset=utf-8"
    body = r.body.decode()
    assert "<h1>Blocked: ads.test</h1>" in body
    assert "<p>Ad &lt;b&gt;beacons&lt;/b&gt; &amp; pixels</p>" in body
    assert "Nothing &lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<script>" not in body
    assert "<code>actions: {ads: allow}</code>" in body
    m = re.search(r'<a href="http://127\.0\.0\.1:(\d+)/\?explain=([^"]+)">',
                  body)
    assert m, body
    assert int(m.group(1)) == p.port
    assert urllib.parse.unquote(m.group(2)) == "ads.test:%d" % origin.port
    # The link answers: the status page, from the same proxy port.
    page = _get(p, "/?explain=%s" % m.group(2),
                headers=[("Host", "127.0.0.1:%d" % p.port)])
    assert page.status == 200, page
    assert b"<html" in page.body


def test_block_page_default_deny(proxy, origin):
    p = proxy(_cfg(origin, default="deny"), hosts=HOSTS)
    r = _get(p, "http://other.test:%d/" % origin.port)
    assert r.status == 403
    body = r.body.decode()
    assert "No rule names this host" in body
    assert "What it is" not in body      # no category to describe


def test_block_page_no_link_outside_metrics_allow(proxy, origin):
    p = proxy(_cfg(origin, metrics={"allow": ["127.0.0.2/32"]}),
              hosts=HOSTS)
    r = _get(p, "http://ads.test:%d/" % origin.port)
    _no_link(r)


def test_block_page_no_link_when_status_off(proxy, origin):
    p = proxy(_cfg(origin, metrics={"status": "off"}), hosts=HOSTS)
    r = _get(p, "http://ads.test:%d/" % origin.port)
    _no_link(r)


def test_block_page_no_link_behind_a_proxy_protocol_sender(proxy, origin):
    """Through a load balancer (PROXY header), the address hushgate
    listens on is not the one the client reached: no link. The client
    is one metrics.allow lets see the page."""
    from helpers import open_client, read_response
    from test_proxy_protocol import v2
    p = proxy(_cfg(origin, listen=[{"address": "127.0.0.1:0",
                                     "proxy_protocol": "v2"}],
                   trusted_proxies=["127.0.0.1/32"]), hosts=HOSTS)
    s = open_client(p.port)
    s.sendall(v2("127.0.0.1") + ("GET http://ads.test:%d/ HTTP/1.1\r\n"
                                 "Host: ads.test\r\nConnection: close\r\n"
                                 "\r\n" % origin.port).encode())
    r = read_response(s)
    s.close()
    _no_link(r)

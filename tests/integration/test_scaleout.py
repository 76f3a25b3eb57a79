"""Scale-out: two hushgate instances behind a real HAProxy (TCP mode,
send-proxy-v2, health checks on /healthz).  200 clients, each from its
own loopback address, make CONNECTs through HAProxy; one instance gets
SIGTERM in the middle.  Every request completes or is retried by its
client, no tunnel that was established is cut by the drain, and the two
decision logs together hold exactly one line per completed request, each
with the client's real address from the PROXY header."""

import socket
import threading

from helpers import TIMEOUT, HAProxy, read_head, recv_exact, wait_until

CLIENTS = 200
ROUNDS = 4          # requests per client
HOLDERS = 20        # tunnels held open across the SIGTERM


def _cfg(port):
    return {"listen": [{"address": "127.0.0.1:0", "proxy_protocol": "v2"}],
            "trusted_proxies": ["127.0.0.1/32"],
            "clients": ["127.0.0.0/8"],
            "connect_ports": [port],
            "workers": 1,
            "timeouts": {"drain": "20s"}}


def source_of(i):
    n = 2 + i                   # 127.0.0.2 ... 127.0.1.x
    return "127.0.%d.%d" % (n // 250, 2 + n % 250)


def tunnel_once(ha_port, source, target, payload):
    """One CONNECT and echo through HAProxy; True when it completed, False
    when the connection failed before the tunnel was established (the
    client retries).  A tunnel that got its 200 and then broke raises."""
    s = socket.socket()
    s.settimeout(TIMEOUT)
    try:
        s.bind((source, 0))
        s.connect(("127.0.0.1", ha_port))
        s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (
            target, target)).encode())
        head, rest = read_head(s)
    except OSError:
        s.close()
        return False
    if head is None or not head.startswith(b"HTTP/1.1 200"):
        s.close()
        return False
    try:
        s.sendall(payload)
        got = recv_exact(s, len(payload), rest)
        assert got == payload, "a tunnel returned other bytes"
    finally:
        s.close()
    return True


def test_two_instances_behind_haproxy_one_drains(proxy, echo_server,
                                                 haproxy_bin, tmp_path):
    a = proxy(_cfg(echo_server.port), hosts=["echo.test"])
    b = proxy(_cfg(echo_server.port), hosts=["echo.test"])
    ha = HAProxy(haproxy_bin, tmp_path, [a.port, b.port])
    target = "echo.test:%d" % echo_server.port
    lock = threading.Lock()
    done = []                   # (source, payload) of completed requests
    retries = [0]
    errors = []
    halfway = threading.Event()
    stopped = threading.Event()

    def client(i):
        src = source_of(i)
        try:
            for r in range(ROUNDS):
                payload = ("%s round %d\n" % (src, r)).encode()
                while not tunnel_once(ha.port, src, target, payload):
                    with lock:
                        retries[0] += 1
                with lock:
                    done.append((src, payload))
                    if len(done) >= CLIENTS * ROUNDS // 2:
                        halfway.set()
                if r == 1:
                    halfway.wait(TIMEOUT * 3)
        except Exception as e:      # reported below, not lost in a thread
            with lock:
                errors.append("%s: %r" % (src, e))

    def holder(i):
        """A tunnel established before the SIGTERM, used after it."""
        src = "127.0.2.%d" % (10 + i)
        s = socket.socket()
        s.settimeout(TIMEOUT * 3)
        try:
            s.bind((src, 0))
            s.connect(("127.0.0.1", ha.port))
            s.sendall(("CONNECT %s HTTP/1.1\r\nHost: x\r\n\r\n" %
                       target).encode())
            head, rest = read_head(s)
            assert head.startswith(b"HTTP/1.1 200"), head
            with lock:
                held.append(src)
            stopped.wait(TIMEOUT * 3)
            payload = ("%s held\n" % src).encode()
            s.sendall(payload)
            assert recv_exact(s, len(payload), rest) == payload
            with lock:
                done.append((src, payload))
        except Exception as e:
            with lock:
                errors.append("holder %s: %r" % (src, e))
        finally:
            s.close()

    held = []
    threads = [threading.Thread(target=holder, args=(i,))
               for i in range(HOLDERS)]
    for t in threads:
        t.start()
    wait_until(lambda: len(held) == HOLDERS or errors,
               "the held tunnels to open")
    workers = [threading.Thread(target=client, args=(i,))
               for i in range(CLIENTS)]
    for t in workers:
        t.start()
    try:
        assert halfway.wait(TIMEOUT * 6), "no progress: %s" % errors[:3]
        start = a.nlines()
        a.signal(__import__("signal").SIGTERM)
        a.expect_exit = True
        a.wait_stderr(r"shutting down", start=start)
        stopped.set()
        for t in workers + threads:
            t.join(TIMEOUT * 6)
        assert not any(t.is_alive() for t in workers + threads)
        assert errors == [], errors[:5]
        assert a.wait_exit(TIMEOUT * 3) == 0
    finally:
        stopped.set()
        ha.stop()
    print("retried %d connections" % retries[0])
    assert len(done) == CLIENTS * ROUNDS + HOLDERS
    # both logs together: one line per completed request, real clients
    recs = a.log_lines() + b.log_lines()
    tunnels = [r for r in recs if r["method"] == "CONNECT"]
    assert len(tunnels) == len(done), (len(tunnels), len(done), retries[0])
    from collections import Counter
    assert Counter(r["client"] for r in tunnels) == \
        Counter(src for src, _ in done)
    assert all(r["status"] == 200 and r["end"] == "client_closed"
               for r in tunnels), [r for r in tunnels
                                   if r["status"] != 200][:3]
    # the held tunnels ran through the drain on whichever instance had them
    assert all(any(r["client"] == "127.0.2.%d" % (10 + i) for r in tunnels)
               for i in range(HOLDERS))
    # and both instances served
    assert a.log_lines() and b.log_lines()

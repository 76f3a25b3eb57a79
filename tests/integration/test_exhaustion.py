"""Out of file descriptors: when idle clients hold every descriptor the
process may open, a failed accept pauses accepting on that worker for a
moment instead of being retried at once, stderr says so once in a while
(not once per attempt), /metrics counts it, and the proxy serves again as
soon as descriptors are free."""

import re
import resource
import select

from helpers import Tunnel, raw_request, open_client, recv_some, wait_until

NOFILE = 64         # the proxy's RLIMIT_NOFILE (soft and hard)
CLIENTS = 160       # far more than NOFILE leaves for connections
ANSWERED = 60       # answers to see while clients still wait to be accepted
ACCEPT_LINES = 20   # a flood of "accept:" lines is over this many


def test_out_of_descriptors_pauses_accepting(proxy, echo_server):
    # Accepted clients that send nothing get a 408 after timeouts.request
    # and are closed; each closed one lets another waiting client in, and
    # the descriptors are exhausted again: every such turn is an accept
    # that succeeds and then one that fails.
    p = proxy({"connect_ports": [echo_server.port],
               "timeouts": {"request": "500ms"}},
              hosts=["echo.test"], start=False)
    p.rlimits = {resource.RLIMIT_NOFILE: (NOFILE, NOFILE)}
    p.start()

    counted = [0, 0]     # stderr lines looked at, "accept:" lines among them

    def accept_lines():
        while counted[0] < p.nlines():
            if "hushgate: accept: " in p.lines[counted[0]]:
                counted[1] += 1
            counted[0] += 1
        return counted[1]

    waiting = {}
    for _ in range(CLIENTS):
        s = open_client(p.port)
        waiting[s.fileno()] = s
    poller = select.poll()
    for fd in waiting:
        poller.register(fd, select.POLLIN)
    answers = []

    def progress():
        for fd, _ in poller.poll(0):
            s = waiting.pop(fd)
            poller.unregister(fd)
            answers.append(recv_some(s))
            s.close()
        return len(answers) >= ANSWERED or accept_lines() >= ACCEPT_LINES

    wait_until(progress, "%d idle clients answered" % ANSWERED)
    assert waiting, "every client was accepted: descriptors never ran out"
    assert accept_lines() >= 1, "no stderr line about failed accepts"
    assert accept_lines() < ACCEPT_LINES, \
        "%d stderr lines about failed accepts for %d accepted clients:\n%s" \
        % (accept_lines(), len(answers), "\n".join(p.lines[:40]))
    assert re.search(r"^hushgate: accept: out of file descriptors \(.*\); "
                     r"pausing accepts", p.stderr_text(), re.M)
    for a in answers:
        assert a == b"" or a.startswith(b"HTTP/1.1 408 "), a

    for s in waiting.values():
        s.close()
    r = raw_request(p.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.status == 200
    m = re.search(rb"^hushgate_accept_paused_total (\d+)$", r.body, re.M)
    assert m, "no hushgate_accept_paused_total in /metrics"
    assert int(m.group(1)) > 0
    with Tunnel(p.port, "echo.test:%d" % echo_server.port) as t:
        assert t.status == 200
        t.echo(b"descriptors are back")

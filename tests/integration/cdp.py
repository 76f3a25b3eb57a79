"""Drive a headless Chromium through the DevTools protocol over a pipe
(--remote-debugging-pipe: commands on the browser's descriptor 3, answers
and events on 4, each a JSON text ended by a NUL byte), so that a test can
use a page as a person does: type into a field, press Enter, read what the
page shows. No library beyond the standard one; no port is opened."""

import json
import os
import select
import shutil
import subprocess
import time


class Browser:
    def __init__(self, profile, width=1280, height=800):
        exe = shutil.which("chromium") or "/usr/bin/chromium"
        cmd_r, cmd_w = os.pipe()        # we write commands, it reads (3)
        out_r, out_w = os.pipe()        # it writes answers (4), we read
        # Out of the way of 3 and 4 before the child moves them there.
        hi_r = os.dup2(cmd_r, 100, inheritable=True)
        hi_w = os.dup2(out_w, 101, inheritable=True)
        for fd in (cmd_r, out_w):
            os.close(fd)

        def child():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking",
             "--hide-scrollbars", "--force-device-scale-factor=1",
             "--no-proxy-server", "--user-data-dir=%s" % profile,
             "--window-size=%d,%d" % (width, height),
             "--remote-debugging-pipe", "about:blank"],
            # Not close_fds: it would run after child() and close 3 and 4;
            # the test's other descriptors are not inheritable anyway.
            close_fds=False, preexec_fn=child,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(hi_r)
        os.close(hi_w)
        self.wfd, self.rfd = cmd_w, out_r
        self.buf = b""
        self.next_id = 0
        self.session = None
        pages = [t for t in self.call("Target.getTargets")["targetInfos"]
                 if t["type"] == "page"]
        assert pages, "Chromium opened no page"
        self.session = self.call("Target.attachToTarget",
                                 targetId=pages[0]["targetId"],
                                 flatten=True)["sessionId"]

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, "Chromium did not answer"
            ready, _, _ = select.select([self.rfd], [], [], left)
            if ready:
                data = os.read(self.rfd, 65536)
                assert data, "Chromium closed its pipe: %s" % (
                    self.proc.stderr.read()[-2000:])
                self.buf += data
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, timeout=30, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if self.session is not None:
            msg["sessionId"] = self.session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self.wfd, data):]
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                assert "error" not in m, (method, m["error"])
                return m["result"]

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page."""
        r = self.call("Runtime.evaluate", expression=expression,
                      returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in r, r["exceptionDetails"]
        return r["result"].get("value")

    def open(self, url):
        self.call("Page.navigate", url=url)

    def type_text(self, text):
        """Type into the focused element, as a keyboard would."""
        self.call("Input.insertText", text=text)

    def press_enter(self):
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key="Enter",
                      code="Enter", windowsVirtualKeyCode=13,
                      nativeVirtualKeyCode=13,
                      **({"text": "\r"} if kind == "keyDown" else {}))

    def close(self):
        try:
            os.close(self.wfd)
            os.close(self.rfd)
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

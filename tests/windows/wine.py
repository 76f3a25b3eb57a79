"""Running the Windows build under Wine for the tests in tests/windows/.

One Wine prefix (a private C: drive and registry) per test session, made
in a temporary directory; nothing here touches the user's own prefix.
Programs run with WINEDEBUG=-all so their output is theirs only.  Waits
are bounded polls, never sleeps.
"""

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Wine's first start in a new prefix builds the registry and the Windows
# directory: tens of seconds on a slow machine.
BOOT_TIMEOUT = float(os.environ.get("HUSHGATE_WINE_BOOT_TIMEOUT", "300"))
RUN_TIMEOUT = float(os.environ.get("HUSHGATE_WINE_TIMEOUT", "120"))
# What Wine's loader prints when it could not start a program at all.
LAUNCH_FAILED = "Application could not be started, or no application " \
    "associated with the specified file"


def wine_binary():
    """The wine launcher (Debian's wine package: /usr/bin/wine), or
    None."""
    for name in ("wine", "wine64"):
        path = shutil.which(name)
        if path:
            return path
    return None


def win_build():
    """The Windows build directory: $HUSHGATE_WIN_BUILD, else
    build/windows at the repository root."""
    return Path(os.environ.get("HUSHGATE_WIN_BUILD")
                or REPO / "build" / "windows").resolve()


class Wine:
    """A Wine prefix of our own and ways to run programs in it."""

    def __init__(self, prefix):
        self.prefix = Path(prefix)
        self.wine = wine_binary()
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.lower().endswith("_proxy"):
                del self.env[k]
        self.env.update({
            "WINEPREFIX": str(self.prefix),
            "WINEDEBUG": "-all",
            "WINEARCH": "win64",
            # No Mono/Gecko installer dialogs on first start.
            "WINEDLLOVERRIDES": "mscoree,mshtml=",
            "DISPLAY": "",
        })

    def boot(self):
        """Create the prefix and wait until wineserver is idle."""
        self.prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run([self.wine, "wineboot", "--init"], env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=BOOT_TIMEOUT, check=True)
        self.wait_idle()

    def wait_idle(self):
        """wineserver -w: returns when every program of the prefix has
        ended."""
        subprocess.run(["wineserver", "-w"], env=self.env,
                       timeout=BOOT_TIMEOUT, check=False)

    def shutdown(self):
        subprocess.run(["wineserver", "-k"], env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=RUN_TIMEOUT, check=False)

    def run(self, *args, timeout=RUN_TIMEOUT, check=False, input=None):
        """Run a program (a host path to an .exe, or a Windows command
        such as "reg") to completion; returns CompletedProcess with text
        output.  Wine itself now and then fails to start a program (its
        loader says "Application could not be started ... ShellExecuteEx
        failed", the program never ran): that is retried, twice at most,
        and only that; a program that ran and failed is never retried."""
        for _ in range(3):
            cp = subprocess.run([self.wine] + [str(a) for a in args],
                                env=self.env, input=input,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=timeout,
                                text=True, errors="replace")
            if cp.returncode == 0 or LAUNCH_FAILED not in (cp.stdout +
                                                           cp.stderr):
                break
        if check and cp.returncode != 0:
            raise AssertionError("wine %s: exit %d\nstdout: %s\nstderr: %s"
                                 % (" ".join(str(a) for a in args),
                                    cp.returncode, cp.stdout, cp.stderr))
        return cp

    def popen(self, *args, **kw):
        """Start a program and return the Popen (text stdout/stderr
        pipes unless given)."""
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen([self.wine] + [str(a) for a in args],
                                env=self.env, **kw)

    def winpath(self, path):
        """The Windows name of a host path (Z: maps to /)."""
        return "Z:" + str(Path(path).resolve()).replace("/", "\\")

    def reg_export(self, key, dest, view=64):
        """`reg export KEY FILE /reg:64|32 /y`; returns the file's bytes,
        or None if the key does not exist."""
        dest = Path(dest)
        if dest.exists():
            dest.unlink()
        cp = self.run("reg", "export", key, self.winpath(dest),
                      "/reg:%d" % view, "/y")
        if cp.returncode != 0 or not dest.exists():
            return None
        return dest.read_bytes()

    def reg_query(self, key, value=None, view=64):
        args = ["reg", "query", key]
        if value is not None:
            args += ["/v", value]
        args.append("/reg:%d" % view)
        return self.run(*args)


def wine_proxy_class():
    """WineProxy: helpers.Proxy (tests/integration/helpers.py) running
    hushgate.exe under Wine instead of the Linux binary.  Same config
    defaults (hosts file only, no DNS), same waits on stderr lines."""
    import signal

    import helpers

    class WineProxy(helpers.Proxy):
        wine = None
        exe = None
        # Wine turns SIGINT into the console's Ctrl-C, which the C runtime
        # gives hushgate as SIGINT; SIGTERM would just end the process.
        stop_signal = signal.SIGINT
        start_timeout = RUN_TIMEOUT

        def command(self):
            return ([self.wine.wine, str(self.exe), "-c",
                     str(self.config_path)], self.wine.env)

        def stop(self):
            """Ctrl-C: drain and exit.  Returns the exit status."""
            self.expect_exit = True
            if self.proc.poll() is None:
                self.proc.send_signal(self.stop_signal)
            return self.wait_exit(timeout=RUN_TIMEOUT)

    return WineProxy

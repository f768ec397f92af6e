"""A real Blender window under Xvfb, driven by X input events (xdotool), stopped whatever happens.

    with BlenderGUI(tmp_path, blend) as gui:      # Xvfb + Blender, own process groups
        gui.wait(lambda s: s["addons"] is not None)
        gui.click(x, y); gui.key("ctrl+z"); gui.type("text")
        gui.screenshot("tests/artifacts/x.png")

Xvfb and Blender each run in their own session (process group); ``stop`` kills both groups, so
whatever Blender started (server, workers) goes too, and nothing is left running after a failure
or a timeout. Blender runs with a fresh user configuration under the test's folder
(``BLENDER_USER_CONFIG`` / ``BLENDER_USER_SCRIPTS``): only what the test installs is there.

``probe.py`` (loaded with ``--python``) writes what Blender shows into a state file; the test
reads it to find areas and to check results, and drives Blender only with input events.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ARTIFACTS = os.path.join(ROOT, "tests", "artifacts")
PROBE = os.path.join(HERE, "probe.py")
SCREEN = (1280, 800)


def missing_tools() -> list[str]:
    return [t for t in ("blender", "Xvfb", "xdotool", "import") if shutil.which(t) is None]


@functools.cache
def blender_skip_reason(blender: str = "blender", window: bool = True) -> str | None:
    """Why a test that runs ``blender`` (with a window under Xvfb, or in the background) cannot run
    here, or None: a tool missing, or Blender's Python lacking numpy or pyzmq (Debian's does until
    ``apt-get install python3-numpy python3-zmq``; ``make gui-deps`` installs both)."""
    missing = missing_tools() if window else [t for t in (blender,) if shutil.which(t) is None]
    if missing:
        return f"needs {', '.join(missing)} on PATH (Debian: make gui-deps)"
    probe = [blender, "-b", "--factory-startup", "--python-exit-code", "1", "--python-expr", "import numpy, zmq"]
    try:
        proc = subprocess.run(probe, capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return f"{blender} -b did not finish within 120 s"
    if proc.returncode != 0:
        fix = "Debian: apt-get install python3-numpy python3-zmq, or make gui-deps"
        return f"{blender}'s Python lacks numpy or pyzmq ({fix})"
    return None


def blender_version(blender: str = "blender") -> tuple[int, int]:
    out = subprocess.run([blender, "--version"], capture_output=True, text=True, timeout=60).stdout
    major, minor = out.split()[1].split(".")[:2]
    return int(major), int(minor)


def _free_display() -> int:
    for n in range(120, 400):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            return n
    raise RuntimeError("no free X display number")


def _stop_on_sigterm() -> None:
    """A test stopped by SIGTERM (``timeout``, a CI runner) unwinds like one that failed, so its
    finally blocks stop Blender and Xvfb; SIGKILL is covered by Blender's lifeline and -terminate."""
    import threading

    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_signal)


def _exit_on_signal(signum, frame):
    raise SystemExit(f"stopped by signal {signum}")


def kill_group(proc: subprocess.Popen | None, grace_s: float = 3.0) -> None:
    """SIGTERM the process's whole group, then SIGKILL what is left."""
    if proc is None:
        return
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            proc.wait(wait)
            # the leader is gone; its group may live on (server, workers): keep signalling it
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class VirtualScreen:
    """Xvfb on a free display, in its own process group; ``stop`` (or leaving the block) ends it."""

    def __init__(self):
        self.display = ""
        self.process: subprocess.Popen | None = None

    def start(self) -> VirtualScreen:
        n = _free_display()
        self.display = f":{n}"
        # -terminate: the screen ends when its last client (Blender) has gone
        self.process = subprocess.Popen(
            ["Xvfb", self.display, "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp", "-terminate"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while not os.path.exists(f"/tmp/.X11-unix/X{n}"):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("Xvfb did not start")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        kill_group(self.process)
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def run_in_window(args: list[str], timeout_s: float, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run ``blender ARGS`` with a window on a fresh virtual screen; on a timeout or any failure
    Blender's whole process group and the screen are stopped (nothing is left running)."""
    _stop_on_sigterm()
    with VirtualScreen() as screen:
        env = dict(os.environ, DISPLAY=screen.display)
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd, start_new_session=True
        )
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out = (proc.stdout.read() if proc.stdout else "") + f"\n[stopped after {timeout_s:g} s]"
        finally:
            kill_group(proc)
        return subprocess.CompletedProcess(args, proc.returncode, out, "")


class BlenderGUI:
    def __init__(self, folder, blend: str | None = None, blender: str = "blender", extra_args=(), env=None):
        self.folder = str(folder)
        self.blend = blend
        self.blender = blender
        self.extra_args = list(extra_args)
        self.state_path = os.path.join(self.folder, "gui_state.json")
        self.log_path = os.path.join(self.folder, "blender.log")
        self.env_extra = dict(env or {})
        self.screen: VirtualScreen | None = None
        self.proc: subprocess.Popen | None = None
        self.last_hit: tuple[int, int] | None = None  # where steps.click_until's click acted
        self.display = ""

    # --- life cycle ---------------------------------------------------------------------------------
    def start(self, timeout_s: float = 90.0) -> BlenderGUI:
        """Screen, then Blender, until its window is up; whatever fails stops both again."""
        try:
            self._launch()
            self.wait(lambda s: s["windows"], timeout_s, "Blender's window")
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self) -> None:
        os.makedirs(self.folder, exist_ok=True)
        self.screen = VirtualScreen().start()
        self.display = self.screen.display
        env = dict(os.environ)
        for key in ("PYTHONPATH", "ZEROGRADS_PYTHON"):
            env.pop(key, None)  # a fresh artist's Blender: nothing pointed at this checkout
        env.update(
            DISPLAY=self.display,
            BLENDER_USER_CONFIG=os.path.join(self.folder, "user", "config"),
            BLENDER_USER_SCRIPTS=os.path.join(self.folder, "user", "scripts"),
            BLENDER_USER_DATAFILES=os.path.join(self.folder, "user", "datafiles"),
        )
        env.update(self.env_extra)
        cmd = [self.blender, "--factory-startup", "--window-geometry", "0", "0", str(SCREEN[0]), str(SCREEN[1])]
        cmd += self.extra_args + ([self.blend] if self.blend else [])
        cmd += ["--python", PROBE, "--", self.state_path]
        env["ZG_PROBE_LIFELINE"] = "1"  # Blender exits when this process dies (the probe watches stdin)
        _stop_on_sigterm()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.PIPE,
                env=env,
                cwd=self.folder,
                start_new_session=True,
            )

    def stop(self) -> None:
        kill_group(self.proc)
        if self.screen is not None:
            self.screen.stop()
        self.proc = self.screen = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()[-chars:]
        except OSError:
            return ""

    # --- what Blender shows ---------------------------------------------------------------------------
    def state(self) -> dict:
        try:
            with open(self.state_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def state_after(self, sent: float, timeout_s: float = 10.0) -> dict:
        """The first state the probe wrote after ``sent`` (time.time()) plus a margin: what Blender
        shows once it handled the input sent before then. Under load the probe's timer runs late,
        and an older state would show the clipboard of a field the mouse has already left."""
        return self.wait(lambda s: s if s.get("time", 0) > sent + 0.05 else None, timeout_s, "a fresh state")

    def wait(self, predicate: Callable[[dict], object], timeout_s: float = 30.0, what: str = "a condition"):
        """Poll the state until ``predicate(state)`` is truthy; returns that value."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"Blender exited (code {self.proc.returncode}):\n{self.log_tail()}")
            state = self.state()
            try:
                value = predicate(state) if state else None
            except (KeyError, IndexError, TypeError):
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}; last state: {state}"[:4000])
            time.sleep(0.1)

    def watch(self, *paths: str) -> None:
        """Ask the probe for these values (``collection|name|property``)."""
        with open(self.state_path + ".watch", "w") as f:
            f.write("\n".join(paths))

    def areas(self, kind: str, window: int = 0) -> list[dict]:
        return [a for a in self.state()["windows"][window]["areas"] if a["type"] == kind]

    @staticmethod
    def region(area: dict, kind: str) -> list[int]:
        return next(r["rect"] for r in area["regions"] if r["type"] == kind)

    # --- input events -------------------------------------------------------------------------------
    def _xdo(self, *args: str) -> str:
        env = dict(os.environ, DISPLAY=self.display)
        out = subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True, timeout=30)
        return out.stdout

    def move(self, x: float, y: float) -> None:
        self._xdo("mousemove", str(int(x)), str(int(y)))
        time.sleep(0.15)

    def click(self, x: float, y: float, button: int = 1, pause_s: float = 0.3) -> float:
        """Move there, let Blender see the hover, click; returns the time the click was sent."""
        self.move(x, y)
        time.sleep(0.15)
        sent = time.time()
        self._xdo("click", str(button))
        time.sleep(pause_s)
        return sent

    def key(self, *keys: str, pause_s: float = 0.25) -> float:
        sent = time.time()
        self._xdo("key", "--delay", "60", *keys)
        time.sleep(pause_s)
        return sent

    def type(self, text: str) -> None:
        self._xdo("type", "--delay", "40", text)
        time.sleep(0.2)

    def window_ids(self, name: str) -> list[str]:
        return self._xdo("search", "--name", name).split()

    def focus(self, title: str) -> None:
        """Give the keyboard to the window whose title contains ``title`` ("Blender File View",
        "Blender Preferences", "[" for the main one), as a window manager does when it is clicked:
        Xvfb has none, and Blender moves the X focus to each window it opens."""
        names = self._xdo("search", "--name", ".", "getwindowname", "%@").splitlines()
        ids = self._xdo("search", "--name", ".").split()
        for window_id, name in zip(ids, names):
            if title in name:
                self._xdo("windowfocus", window_id)
                time.sleep(0.2)
                return
        raise AssertionError(f"no window titled like {title!r}; windows: {names}")

    def screenshot(self, path: str) -> str:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        env = dict(os.environ, DISPLAY=self.display)
        subprocess.run(["import", "-window", "root", path], env=env, check=True, timeout=60, capture_output=True)
        return path

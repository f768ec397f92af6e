"""Start, watch and replace local headless render workers (no bpy needed).

``WorkerProcesses(commands)`` runs one process per command; ``check()`` (call it every so often)
restarts any that died, and gives up with :class:`WorkerCrashLoop` when a worker keeps dying
right after it starts (bad scene, missing module), quoting the end of its log.

Workers run at a lower priority than Blender (``nice`` 10 / below-normal), so the artist's UI
stays responsive while they render, and with a lifeline (``optimizer_server.wire.lifeline``):
their standard input is a pipe this process holds, so they exit when it dies, however it dies.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

from optimizer_server.wire.lifeline import LIFELINE_FLAG

from ._deps import ZeroGradsError

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# Below Blender's UI (0) on POSIX; Windows: BELOW_NORMAL_PRIORITY_CLASS. ZEROGRADS_WORKER_NICE=0
# gives the workers Blender's own priority (as before; benchmarks/bench_gui.py compares the two).
WORKER_NICE = int(os.environ.get("ZEROGRADS_WORKER_NICE", "10"))


def default_threads(workers: int, cores: int | None = None) -> int:
    """Cycles threads per worker: every core but one, which is left to Blender's UI and the server
    ($ZEROGRADS_WORKER_THREADS, when set, instead)."""
    if os.environ.get("ZEROGRADS_WORKER_THREADS", "").isdigit():
        return max(1, int(os.environ["ZEROGRADS_WORKER_THREADS"]))
    cores = cores or os.cpu_count() or 1
    return max(1, (cores - 1) // max(1, workers))


class WorkerCrashLoop(RuntimeError, ZeroGradsError):
    """A render worker died again and again right after starting."""


def module_command(address: str, blend: str, threads: int = 0, python: str | None = None) -> list[str]:
    """Worker with the ``bpy`` Python module: ``python -m <package>.worker``."""
    package = os.path.basename(PACKAGE_DIR)
    return [
        python or sys.executable,
        "-m",
        f"{package}.worker",
        "--connect",
        address,
        "--blend",
        blend,
        "--threads",
        str(threads),
        LIFELINE_FLAG,
    ]


def blender_command(
    address: str, blend: str, threads: int = 0, blender: str = "blender", extra_paths: Sequence[str] = ()
) -> list[str]:
    """Worker inside a Blender executable (what the add-on uses from Blender's UI).

    The add-on's own folder and where pyzmq lives are put on the worker's ``sys.path``:
    a ``--factory-startup`` Blender does not load the extension's site-packages itself.
    """
    paths = [os.path.dirname(PACKAGE_DIR)] + [p for p in extra_paths if p]
    package = os.path.basename(PACKAGE_DIR)
    expr = f"import sys; sys.path[:0] = {paths!r}; import {package}.worker as w; sys.exit(w.main())"
    return [
        blender,
        "-b",
        blend,
        "--factory-startup",
        "--python-exit-code",
        "1",
        "--python-expr",
        expr,
        "--",
        "--connect",
        address,
        "--threads",
        str(threads),
        LIFELINE_FLAG,
    ]


class WorkerProcesses:
    """K worker processes kept alive; logs go to files under ``log_dir``."""

    def __init__(
        self,
        commands: Sequence[Sequence[str]],
        log_dir: str | None = None,
        cwd: str | None = None,
        env: dict | None = None,
        max_quick_deaths: int = 3,
        quick_s: float = 5.0,
    ):
        self.commands = [list(c) for c in commands]
        self.log_dir = log_dir or tempfile.mkdtemp(prefix="zerograds_workers_")
        os.makedirs(self.log_dir, exist_ok=True)
        self.cwd = cwd or os.path.dirname(PACKAGE_DIR)
        self.env = dict(os.environ if env is None else env)
        # The checkout's root first, so `python -m blender_addon.worker` finds both packages.
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [self.cwd, self.env.get("PYTHONPATH")]))
        self.max_quick_deaths = max_quick_deaths
        self.quick_s = quick_s
        self.processes: list[subprocess.Popen | None] = [None] * len(self.commands)
        self._started = [0.0] * len(self.commands)
        self._quick_deaths = [0] * len(self.commands)
        self.restarts = 0

    def log_path(self, i: int) -> str:
        return os.path.join(self.log_dir, f"worker{i}.log")

    def start(self) -> WorkerProcesses:
        for i in range(len(self.commands)):
            self._spawn(i)
        return self

    def _spawn(self, i: int) -> None:
        # Both streams: Blender prints Python errors (a missing module...) on stdout, next to its
        # few lines of per-render chatter.
        flags = getattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0) if WORKER_NICE > 0 else 0
        with open(self.log_path(i), "ab") as log:
            process = subprocess.Popen(
                self.commands[i],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.PIPE,  # the lifeline: never written to, closed when we die
                creationflags=flags,
            )
        if hasattr(os, "setpriority") and WORKER_NICE > 0:
            try:
                os.setpriority(os.PRIO_PROCESS, process.pid, WORKER_NICE)
            except OSError:
                pass  # not allowed here: the worker keeps our priority
        self.processes[i] = process
        self._started[i] = time.monotonic()

    def alive(self) -> int:
        return sum(p is not None and p.poll() is None for p in self.processes)

    def check(self) -> int:
        """Restart dead workers; returns how many were restarted."""
        restarted = 0
        for i, p in enumerate(self.processes):
            if p is None or p.poll() is None:
                continue
            quick = time.monotonic() - self._started[i] < self.quick_s
            self._quick_deaths[i] = self._quick_deaths[i] + 1 if quick else 0
            if self._quick_deaths[i] >= self.max_quick_deaths:
                raise WorkerCrashLoop(
                    f"render worker {i} exited (code {p.returncode}) {self._quick_deaths[i]} times "
                    f"right after starting; its log {self.log_path(i)} ends with:\n"
                    f"{self.log_tail(i)}"
                )
            if p.stdin is not None:
                p.stdin.close()
            self._spawn(i)
            restarted += 1
        self.restarts += restarted
        return restarted

    def log_tail(self, i: int, lines: int = 15) -> str:
        try:
            with open(self.log_path(i), "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.strip().splitlines()[-lines:])

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (workers say bye to the server), then SIGKILL whatever is left."""
        for p in self.processes:
            if p is not None and p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + timeout
        for p in self.processes:
            if p is None:
                continue
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p.stdin is not None:
                p.stdin.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

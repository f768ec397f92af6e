"""Start an optimizer server process on this computer (no bpy, no torch in this process).

Blender's own Python has no torch, so the server always runs in a separate Python that has
it: the add-on preference / ``ZEROGRADS_PYTHON`` / the current interpreter when it can import
torch / ``python3`` on PATH, in that order.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import time

from ._deps import ZeroGradsError

READY_LINE = "ZEROGRADS_SERVER_READY"  # optimizer_server.cli_serve prints it with the endpoint


# `python -m optimizer_server serve`, without depending on how __main__ wires its subcommands.
_SERVE = (
    "import argparse, sys; from optimizer_server import cli_serve; "
    "parser = argparse.ArgumentParser(prog='optimizer_server'); "
    "cli_serve.add_serve_parser(parser.add_subparsers()); "
    "args = parser.parse_args(); sys.exit(args.func(args))"
)


class ServerStartError(RuntimeError, ZeroGradsError):
    """The local optimizer server did not come up."""


def server_python(preferred: str = "") -> str:
    for candidate in (preferred, os.environ.get("ZEROGRADS_PYTHON", "")):
        if candidate:
            return candidate
    if importlib.util.find_spec("torch") is not None and "blender" not in os.path.basename(sys.executable).lower():
        return sys.executable
    found = shutil.which("python3")
    if found is None:
        raise ServerStartError(
            "no Python to run the optimizer server: set the add-on preference 'Server Python' "
            "(or ZEROGRADS_PYTHON) to a Python with torch and optimizer_server installed"
        )
    return found


class LocalServer:
    """``python -m optimizer_server serve --supervise`` on a free loopback port; ``endpoint`` once started.

    Supervised: should the server process die, a new one continues every job from its checkpoint on
    the same endpoint, and clients and workers reconnect by themselves. Authenticated: it and this
    user's clients and workers share the local keys (optimizer_server/wire/local_keys.py), made on
    first use, so nothing needs configuring; set ZEROGRADS_INSECURE_LOOPBACK=1 for the old way."""

    def __init__(
        self,
        python: str = "",
        jobs_dir: str | None = None,
        cwd: str | None = None,
        extra_args: list[str] | None = None,
        log_path: str | None = None,
        supervise: bool = True,
    ):
        self.python = server_python(python)
        self.jobs_dir = jobs_dir
        self.cwd = cwd or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.extra_args = list(extra_args or []) + (["--supervise"] if supervise else [])
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.endpoint: str | None = None
        self._lines: list[str] = []

    def start(self, timeout_s: float = 60.0) -> str:
        cmd = [self.python, "-c", _SERVE, "serve", "--bind", "tcp://127.0.0.1:*"] + self.extra_args
        if self.jobs_dir:
            cmd += ["--jobs-dir", self.jobs_dir]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [self.cwd, env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        try:
            self.process = subprocess.Popen(
                cmd,
                cwd=self.cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        except OSError as exc:
            raise ServerStartError(f"cannot run {self.python!r} to start the optimizer server: {exc}") from None
        ready = threading.Event()
        threading.Thread(target=self._read_output, args=(ready,), daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while not ready.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = "\n".join(self._lines[-15:])
                raise ServerStartError(
                    f"the optimizer server ({self.python} -m optimizer_server serve) did not start "
                    f"within {timeout_s:g} s:\n{tail}"
                )
        return self.endpoint

    def _read_output(self, ready: threading.Event) -> None:
        if self.log_path:
            os.makedirs(os.path.dirname(os.path.abspath(self.log_path)), exist_ok=True)
        log = open(self.log_path, "a", encoding="utf-8") if self.log_path else None  # noqa: SIM115 (closed below)
        try:
            for line in self.process.stdout:
                self._lines.append(line.rstrip())
                del self._lines[:-200]
                if log:
                    log.write(line)
                    log.flush()
                if line.startswith(READY_LINE):
                    self.endpoint = line.split()[1]
                    ready.set()
        finally:
            if log:
                log.close()

    def output_tail(self, lines: int = 15) -> str:
        return "\n".join(self._lines[-lines:])

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

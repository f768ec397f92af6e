"""Start an optimizer server process on this computer (no bpy, no torch in this process).

Blender's own Python has no torch, so the server runs in a separate Python that has it, found in
this order: the one asked for (add-on preference, job file), ``$ZEROGRADS_PYTHON``, the managed
environment the add-on builds with one click (``setup_env``), this very interpreter when it has
torch and is not Blender, ``python3`` on PATH when it has everything. When none fits,
:class:`ServerSetupNeeded` says so, and the panel offers the one-click set-up instead of asking
for a path.

The server's code comes with the add-on (``_vendor/optimizer_server``; in a checkout, the
repository). It gets a lifeline (``optimizer_server.wire.lifeline``): its standard input is a
pipe this process holds, so the server exits when Blender dies, however it dies.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

from . import setup_env
from ._deps import ZeroGradsError

READY_LINE = "ZEROGRADS_SERVER_READY"  # optimizer_server.cli_serve prints it with the endpoint
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

# `python -m optimizer_server serve`, without depending on how __main__ wires its subcommands, with
# the lifeline: the server stops when our end of its stdin closes.
_SERVE = """\
import argparse, sys
from optimizer_server import cli_serve
from optimizer_server.wire.lifeline import exit_when_stdin_closes
exit_when_stdin_closes()
parser = argparse.ArgumentParser(prog='optimizer_server')
cli_serve.add_serve_parser(parser.add_subparsers())
args = parser.parse_args()
sys.exit(args.func(args))
"""
_HAS_EVERYTHING = "import torch, zmq, numpy, cma"
_probed: dict[str, bool] = {}
managed_env_dir: str | None = None  # set by the add-on (its user folder); $ZEROGRADS_ENV_DIR wins


class ServerStartError(RuntimeError, ZeroGradsError):
    """The local optimizer server did not come up."""


class ServerSetupNeeded(ServerStartError):
    """No Python with PyTorch found: the managed environment has to be set up first (one click)."""


def _has_everything(python: str) -> bool:
    """Can ``python`` import what the server needs? (checked once per interpreter; torch takes seconds)"""
    if python not in _probed:
        try:
            done = subprocess.run([python, "-c", _HAS_EVERYTHING], capture_output=True, timeout=60)
            _probed[python] = done.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            _probed[python] = False
    return _probed[python]


def inside_blender_executable() -> bool:
    """Running in Blender itself (whose sys.executable may be any python3 on PATH), not in the bpy module."""
    bpy = sys.modules.get("bpy")
    binary = getattr(getattr(bpy, "app", None), "binary_path", "") if bpy is not None else ""
    return bool(binary) and "python" not in os.path.basename(binary).lower()


def managed_env_folder() -> str | None:
    """Where the managed environment is (or will be built): $ZEROGRADS_ENV_DIR, else the add-on's."""
    return os.environ.get(setup_env.ENV_VAR) or managed_env_dir


def managed_python() -> str | None:
    return setup_env.ready(managed_env_folder())


def server_python(preferred: str = "") -> str:
    """The Python that will run the server (see the module's docstring for the order)."""
    for candidate in (preferred, os.environ.get("ZEROGRADS_PYTHON", ""), managed_python()):
        if candidate:
            return candidate
    if importlib.util.find_spec("torch") is not None and not inside_blender_executable():
        return sys.executable
    found = shutil.which("python3")
    if found is not None and _has_everything(found):
        return found
    raise ServerSetupNeeded(
        "the optimizer needs a Python with PyTorch, and none is set up yet: press 'Set Up Optimizer' "
        f"in the Optimize panel (about {setup_env.DOWNLOAD_MB} MB to download), or run "
        "`python -m blender_addon.setup_env --dir DIR` and set ZEROGRADS_ENV_DIR=DIR"
    )


def free_port() -> int:
    """A loopback port nobody listens on now, so workers can start before the server is ready."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def code_path() -> str:
    """Where ``optimizer_server`` lives: the add-on's vendored copy, else this checkout's root."""
    vendored = os.path.join(PACKAGE_DIR, "_vendor")
    if os.path.isdir(os.path.join(vendored, "optimizer_server", "server")):
        return vendored
    return os.path.dirname(PACKAGE_DIR)


class LocalServer:
    """``python -m optimizer_server serve --supervise`` on a loopback port; ``launch`` then ``wait_ready``.

    Supervised: should the server process die, a new one continues every job from its checkpoint on
    the same endpoint, and clients and workers reconnect by themselves. Authenticated: it and this
    user's clients and workers share the local keys (optimizer_server/wire/local_keys.py), made on
    first use, so nothing needs configuring; set ZEROGRADS_INSECURE_LOOPBACK=1 for the old way. The
    supervisor holds the lifeline; its server and gateway stop with it (their own stdin pipes)."""

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
        self.cwd = cwd or code_path()
        self.extra_args = list(extra_args or []) + (["--supervise"] if supervise else [])
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.endpoint: str | None = None
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self._ready = threading.Event()
        self._lines: list[str] = []

    def launch(self) -> str:
        """Start the process; returns the address it will listen on (clients may connect already)."""
        cmd = [self.python, "-c", _SERVE, "serve", "--bind", self.address] + self.extra_args
        if self.jobs_dir:
            cmd += ["--jobs-dir", self.jobs_dir]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [code_path(), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        try:
            self.process = subprocess.Popen(
                cmd,
                cwd=self.cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.PIPE,  # the lifeline: never written to, closed when we die
                text=True,
            )
        except OSError as exc:
            raise ServerStartError(f"cannot run {self.python!r} to start the optimizer server: {exc}") from None
        threading.Thread(target=self._read_output, daemon=True).start()
        return self.address

    def wait_ready(self, timeout_s: float = 60.0, cancelled=lambda: False) -> str:
        """Block until the server says it listens; its own error when it exits first."""
        deadline = time.monotonic() + timeout_s
        while not self._ready.wait(0.05):
            exited = self.process.poll()
            if exited is not None or time.monotonic() > deadline or cancelled():
                time.sleep(0.2)  # the last lines of its output
                self.stop()
                tail = self.output_tail(20)
                if exited is not None:
                    why = f"exited with code {exited}"
                else:
                    why = "was cancelled" if cancelled() else f"did not start within {timeout_s:g} s"
                raise ServerStartError(f"the optimizer server ({self.python}) {why}:\n{tail}")
        return self.endpoint

    def start(self, timeout_s: float = 60.0) -> str:
        self.launch()
        return self.wait_ready(timeout_s)

    def _read_output(self) -> None:
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
                    self._ready.set()
        finally:
            if log:
                log.close()

    def output_tail(self, lines: int = 15) -> str:
        return "\n".join(self._lines[-lines:])

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

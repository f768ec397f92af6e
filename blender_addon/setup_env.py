"""The managed optimizer environment: one click builds a Python with PyTorch for the server.

Blender's own Python has no PyTorch, and an artist should never have to find or type an
interpreter path. So the add-on offers to build one: a virtual environment made from Blender's
own Python (``python -m venv``), into which pip installs the server's dependencies
(``REQUIREMENTS``: the CPU build of PyTorch, numpy, pyzmq, cma); the server's code itself ships
with the add-on (``_vendor/optimizer_server``). ``SetupJob`` does it on a helper thread and reports
a fraction and a line of text for the panel's progress bar; ``python -m blender_addon.setup_env``
does the same from a terminal (e.g. for batch jobs run inside ``blender -b``).

Where: ``$ZEROGRADS_ENV_DIR`` if set, else the add-on's user folder (``default_dir``). The folder
counts as ready once a check ran there (``ready`` reads its ``zerograds-env.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time

ENV_VAR = "ZEROGRADS_ENV_DIR"
MARKER = "zerograds-env.json"
# The server's dependencies (pyproject.toml's, without the plotting ones; a test keeps them in step).
REQUIREMENTS = ["torch==2.13.0", "numpy", "pyzmq>=25", "cma>=3.3", "scipy>=1.10"]
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"  # CPU wheels: ~190 MB instead of ~2.5 GB with CUDA
# Measured on Linux x86-64 (torch 2.13.0+cpu, scipy and their dependencies; 2.5 min on 2 cores with the
# wheels at hand): what the panel tells the artist.
DOWNLOAD_MB = 270
DISK_MB = 1100
_IMPORT_NAMES = {"pyzmq": "zmq"}  # distribution name → module name, where they differ
_current: SetupJob | None = None


def current() -> SetupJob | None:
    return _current


def default_dir(user_folder: str) -> str:
    """The environment's folder: ``$ZEROGRADS_ENV_DIR``, else ``user_folder/python-env``."""
    return os.environ.get(ENV_VAR) or os.path.join(user_folder, "python-env")


def env_python(folder: str) -> str:
    if os.name == "nt":
        return os.path.join(folder, "Scripts", "python.exe")
    return os.path.join(folder, "bin", "python")


def ready(folder: str | None, requirements: list[str] | None = None) -> str | None:
    """The environment's Python when a set-up of today's ``REQUIREMENTS`` finished there (checked),
    else None (an environment from an older add-on is brought up to date by the next set-up)."""
    if not folder:
        return None
    try:
        with open(os.path.join(folder, MARKER), encoding="utf-8") as f:
            marker = json.load(f)
    except (OSError, ValueError):
        return None
    python = env_python(folder)
    wanted = sorted(REQUIREMENTS if requirements is None else requirements)
    current = marker.get("ok") and sorted(marker.get("requirements", wanted)) == wanted
    return python if current and os.path.isfile(python) else None


def check_code(requirements: list[str]) -> str:
    """Python that imports every requirement (the environment's last step checks it works)."""
    names = [re.split(r"[<>=!~\[ ]", r, maxsplit=1)[0] for r in requirements]
    return "; ".join(f"import {_IMPORT_NAMES.get(n, n)}" for n in names) + "; print('zerograds-env-ok')"


def pip_arguments(requirements: list[str]) -> list[str]:
    args = ["-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"]
    if sys.platform != "darwin" and any(r.startswith("torch") for r in requirements):
        args += ["--extra-index-url", TORCH_CPU_INDEX]
    return args + list(requirements)


class SetupJob:
    """Build the environment on a helper thread; ``fraction``/``text`` for a progress bar."""

    def __init__(self, folder: str, base_python: str | None = None, requirements: list[str] | None = None):
        self.folder = folder
        self.base_python = base_python or sys.executable
        self.requirements = list(REQUIREMENTS if requirements is None else requirements)
        self.log_path = os.path.join(folder + "-setup.log")
        self.fraction = 0.0
        self.text = "starting"
        self.done = False
        self.error: str | None = None
        self.started = time.monotonic()
        self._process: subprocess.Popen | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, name="zerograds-setup", daemon=True)

    def start(self) -> SetupJob:
        global _current
        _current = self
        self._thread.start()
        return self

    def wait(self, timeout_s: float | None = None) -> bool:
        self._thread.join(timeout_s)
        return self.done

    def cancel(self) -> None:
        self._cancelled = True
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()

    # --- the steps ------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.folder)), exist_ok=True)
            with open(self.log_path, "w", encoding="utf-8") as log:
                self._step(log, 0.02, "creating the environment", [self.base_python, "-m", "venv", self.folder])
                python = env_python(self.folder)
                self._step(
                    log, 0.05, "installing the optimizer's packages", [python, *pip_arguments(self.requirements)]
                )
                self._step(log, 0.95, "checking the installation", [python, "-c", check_code(self.requirements)])
            with open(os.path.join(self.folder, MARKER), "w", encoding="utf-8") as f:
                json.dump({"ok": True, "requirements": self.requirements, "base_python": self.base_python}, f)
            self.fraction, self.text = 1.0, f"ready ({time.monotonic() - self.started:.0f} s)"
        except Exception as exc:  # reported in the panel; the log has the whole story
            self.error = f"{exc}\n(log: {self.log_path})"
            self.text = "failed"
        finally:
            self.done = True

    def _step(self, log, fraction: float, text: str, command: list[str]) -> None:
        if self._cancelled:
            raise RuntimeError("set-up cancelled")
        self.fraction, self.text = fraction, text
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1", PYTHONNOUSERSITE="1"),
        )
        tail: list[str] = []
        for line in self._process.stdout:
            log.write(line)
            tail = (tail + [line.rstrip()])[-12:]
            self._progress(line)
        code = self._process.wait()
        if code != 0:
            raise RuntimeError(f"{text} failed (exit code {code}):\n" + "\n".join(tail))

    _COLLECTING = re.compile(r"^\s*(Collecting|Downloading|Using cached|Processing)\s+(\S+)")

    def _progress(self, line: str) -> None:
        """pip's own lines → fraction: downloads up to 70 %, installing to 95 %."""
        match = self._COLLECTING.match(line)
        if match:
            name = os.path.basename(match.group(2)).split("-")[0]
            self.fraction = min(0.7, self.fraction + 0.03)
            self.text = f"downloading {name}"
        elif line.startswith("Installing collected packages"):
            self.fraction, self.text = 0.75, "installing (this takes a minute)"
        elif line.startswith("Successfully installed"):
            self.fraction, self.text = 0.93, "installed"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blender_addon.setup_env", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=os.environ.get(ENV_VAR), required=ENV_VAR not in os.environ)
    args = parser.parse_args(argv)
    print(f"building {args.dir} (about {DOWNLOAD_MB} MB to download, {DISK_MB / 1000:.1f} GB on disk)")
    job = SetupJob(args.dir).start()
    shown = ""
    while not job.wait(0.5):
        line = f"{100 * job.fraction:3.0f} %  {job.text}"
        if line != shown:
            print(line, flush=True)
            shown = line
    if job.error:
        print(f"error: {job.error}", file=sys.stderr)
        return 2
    print(f"ready: {env_python(args.dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

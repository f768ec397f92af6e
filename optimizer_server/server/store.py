"""A job's directory on disk. Every file is replaced atomically (temp file + fsync + os.replace),
so a server killed at any moment leaves the previous complete checkpoint behind.

    JOB_DIR/job.npz     the submitted job: config (JSON tree), target image and mask when known
    JOB_DIR/state.npz   checkpoint: job state, method state_dict (with its pending batch), history

Both are ``state_io`` files: JSON tree + numpy arrays, loaded without pickle. Checkpoints are
serialised on the serve loop (a consistent snapshot) and written by :class:`CheckpointWriter`
on a background thread, so a slow fsync never holds up the workers.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import numpy as np

from ..state_io import dumps_state, load_state, save_state, write_atomically
from ..wire.errors import StateError
from ..wire.protocol import JOB_STATES

log = logging.getLogger("zerograds.server.store")

JOB_FORMAT = "zerograds-job/1"
CHECKPOINT_FORMAT = "zerograds-checkpoint/1"


class CheckpointWriter:
    """Writes files atomically on one background thread; only the newest bytes per path are kept."""

    def __init__(self):
        self._pending: dict[str, bytes] = {}
        self._writing = False
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="zerograds-checkpoints", daemon=True)
        self._thread.start()

    def submit(self, path: str, data: bytes) -> None:
        with self._cond:
            self._pending[path] = data  # an older, unwritten checkpoint of this path is superseded
            self._cond.notify_all()

    def flush(self) -> None:
        """Wait until everything submitted is on disk."""
        with self._cond:
            self._cond.wait_for(lambda: not self._pending and not self._writing)

    def close(self) -> None:
        self.flush()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closed)
                if not self._pending:
                    return
                path, data = self._pending.popitem()
                self._writing = True
            try:
                write_atomically(path, data)
            except OSError as exc:  # disk full, permissions: keep serving, the next checkpoint retries
                log.error("could not write checkpoint %s: %s", path, exc)
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()


class JobStore:
    def __init__(self, directory: str, writer: CheckpointWriter | None = None, owner: str | None = None):
        self.directory = os.path.abspath(directory)
        self.job_path = os.path.join(self.directory, "job.npz")
        self.state_path = os.path.join(self.directory, "state.npz")
        self.writer = writer
        self.owner = owner
        """Who submitted the job (its CurveZMQ public key; None: unauthenticated). Saved in job.npz."""

    def exists(self) -> bool:
        return os.path.isfile(self.job_path)

    def save_job(self, config: dict[str, Any], target: np.ndarray | None, mask: np.ndarray | None) -> None:
        os.makedirs(self.directory, exist_ok=True)
        job = {"format": JOB_FORMAT, "config": config, "target": target, "mask": mask, "owner": self.owner}
        save_state(self.job_path, job)

    def load_job(self) -> dict[str, Any]:
        if not self.exists():
            raise StateError(
                f"{self.directory} is not a job directory (no job.npz); pass the directory "
                "the server printed for the job, e.g. ~/.cache/zerograds/jobs/<job id>"
            )
        job = load_state(self.job_path)
        if job.get("format") != JOB_FORMAT:
            raise StateError(f"{self.job_path} has format {job.get('format')!r}, expected {JOB_FORMAT!r}")
        _expect(self.job_path, job, "config", dict)
        for key in ("target", "mask"):
            _expect(self.job_path, job, key, (np.ndarray, type(None)), required=False)
        _expect(self.job_path, job, "owner", (str, type(None)), required=False)
        self.owner = job.get("owner")
        return job

    def save_checkpoint(self, checkpoint: dict[str, Any], wait: bool = False) -> None:
        """Snapshot now; write now (``wait`` or no writer) or on the writer thread."""
        data = dumps_state(dict(checkpoint, format=CHECKPOINT_FORMAT))
        if self.writer is None:
            write_atomically(self.state_path, data)
            return
        self.writer.submit(self.state_path, data)
        if wait:
            self.writer.flush()

    def load_checkpoint(self, torch_device=None) -> dict[str, Any] | None:
        """The last checkpoint, or None when the job never finished an iteration."""
        if not os.path.isfile(self.state_path):
            return None
        state = load_state(self.state_path, torch_device=torch_device)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise StateError(f"{self.state_path} has format {state.get('format')!r}, expected {CHECKPOINT_FORMAT!r}")
        check_checkpoint(self.state_path, state)
        return state


def check_checkpoint(path: str, state: dict[str, Any]) -> None:
    """The checkpoint's own fields: a known job state, a history, whole-number counters."""
    _expect(path, state, "state", str)
    if state["state"] not in JOB_STATES:
        raise StateError(f"{path}: job state {state['state']!r} is not one of {', '.join(JOB_STATES)}")
    _expect(path, state, "message", str, required=False)
    _expect(path, state, "history", dict)
    method = _expect(path, state, "method", dict)
    counters = {}
    for key in ("iteration", "evaluations", "budget"):
        value = method.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise StateError(f"{path}: the method's {key!r} must be a whole number >= 0, got {value!r}")
        counters[key] = value
    if counters["iteration"] > counters["evaluations"]:
        raise StateError(f"{path}: {counters['iteration']} iterations cannot take {counters['evaluations']} renders")


def check_counters(path: str, method, budget: int) -> None:
    """A loaded method's counters against its job's budget (load_state_dict took them from the file)."""
    if method.budget != budget or not 0 <= method.iteration <= method.evaluations <= budget:
        raise StateError(
            f"{path}: iteration {method.iteration}, {method.evaluations} renders of a budget of {method.budget} "
            f"do not fit the job (budget {budget}); the checkpoint is damaged or not this job's"
        )


def _expect(path: str, tree: dict[str, Any], key: str, types, required: bool = True):
    if key not in tree:
        if required:
            raise StateError(f"{path} has no {key!r} (a damaged or foreign file)")
        return None
    if not isinstance(tree[key], types):
        raise StateError(f"{path}: {key!r} has the wrong type ({type(tree[key]).__name__})")
    return tree[key]

"""One optimisation run seen from Blender's side: server, render workers, client, job (no bpy).

Both the add-on (driven by a ``bpy.app.timers`` callback) and the batch runner (a plain loop)
use it the same way::

    run = Run(blend, workers=2, server_python="", address=None)
    run.start(space, method, budget=..., target_image=..., settings=..., ...)
    while not run.finished:
        for event in run.poll():   # never blocks long; restarts dead workers
            ...                    # "progress" / "done" bodies
    run.stop()

Errors surface as project exceptions with a message a user can act on.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from optimizer_server.wire.errors import ServerUnavailableError

from . import jobspec, worker_processes
from ._deps import ZeroGradsError
from .local_server import LocalServer


class RunError(RuntimeError, ZeroGradsError):
    """The run cannot go on (server gone, job failed, workers crash-looping)."""


_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _blender_binary() -> str:
    """The Blender executable this process runs in, or "" (the bpy module, or no Blender)."""
    try:
        import bpy

        binary = bpy.app.binary_path
    except ImportError:
        return ""
    return binary if binary and "python" not in os.path.basename(binary).lower() else ""


def default_worker_command(address: str, blend: str, threads: int) -> list[str]:
    """Inside a Blender executable: that Blender; with the bpy module: this Python."""
    binary = _blender_binary()
    if binary:
        import zmq

        zmq_parent = os.path.dirname(os.path.dirname(zmq.__file__))
        return worker_processes.blender_command(address, blend, threads, blender=binary, extra_paths=[zmq_parent])
    return worker_processes.module_command(address, blend, threads, python=sys.executable)


class Run:
    def __init__(
        self,
        blend: str,
        worker_count: int = 1,
        address: str | None = None,
        server_python: str = "",
        work_dir: str | None = None,
        threads_per_worker: int | None = None,
        client_timeout_s: float = 15.0,
        server_args: list[str] | None = None,
        worker_command: Callable[[str, str, int], list[str]] | None = None,
        resume_hint: str = "",
        worker_args: list[list[str]] | None = None,
        ship_scene: bool = False,
        ray: dict[str, Any] | None = None,
    ):
        """``worker_args``: extra arguments of each local worker (e.g. its GPU); ``ship_scene``: the job
        carries the scene as content (packed, uploaded by hash) for workers without the file; ``ray``:
        {address, gpus_per_worker?, cpus_per_worker?}: the workers are Ray actors instead of local
        processes (they fetch the scene)."""
        self.blend = os.path.abspath(blend)
        self.worker_count = max(0, int(worker_count))  # 0: only workers started elsewhere serve the job
        self.worker_args = [list(a) for a in worker_args or []]
        self.ship_scene = ship_scene or ray is not None
        self.ray = ray
        self.scene: dict[str, Any] | None = None  # the shipped scene: {sha256, size, name}
        self.scene_bytes_uploaded = 0
        self.address = address
        self.server_python = server_python
        self.work_dir = work_dir or tempfile.mkdtemp(prefix="zerograds_run_")
        os.makedirs(self.work_dir, exist_ok=True)
        cores = os.cpu_count() or 1
        self.threads = threads_per_worker if threads_per_worker is not None else max(1, cores // max(1, worker_count))
        # A dead server is noticed after this much silence; generous because a busy 2-core box has
        # starved the server's replies for > 5 s (seen once in the end-to-end tests).
        self.client_timeout_s = client_timeout_s
        self.server_args = list(server_args or [])  # extra `serve` options, e.g. --heartbeat-timeout
        self.worker_command = worker_command or default_worker_command  # (address, blend, threads) -> argv
        # how a user continues the job after this process lost its server ({job_dir} is filled in)
        self.resume_hint = resume_hint or "python -m optimizer_server serve --resume {job_dir}"
        self.server: LocalServer | None = None
        self.workers: worker_processes.WorkerProcesses | None = None
        self.client = None
        self.job = None
        self.result: dict[str, Any] | None = None
        self.finished = False
        self.cancel_requested = False  # set from another thread while start() runs: stop as soon as we can
        self.started_at = 0.0
        self._last_heard = 0.0

    # --- life cycle ---------------------------------------------------------------------------------
    def start(self, space: dict[str, Any], method: str, resume: str | None = None, **submit) -> str:
        """Start server (unless ``address`` was given), workers and the job; returns the job id.
        ``resume``: instead of submitting, continue the job in this folder (a local server resumes it)."""
        from optimizer_server.wire.client import JobHandle, OptimizerClient

        try:
            if self.address is None:
                self.server = LocalServer(
                    self.server_python,
                    jobs_dir=os.path.join(self.work_dir, "jobs"),
                    log_path=os.path.join(self.work_dir, "server.log"),
                    extra_args=self.server_args + (["--resume", os.path.abspath(resume)] if resume else []),
                )
                self.address = self.server.launch()
            # Workers load Blender and the scene while the server imports torch: both take seconds.
            self._start_workers()
            if self.server is not None:
                self.server.wait_ready(cancelled=lambda: self.cancel_requested)
            alive = self.server.running if self.server is not None else None
            self.client = OptimizerClient(self.address, timeout_s=self.client_timeout_s, alive=alive)
            if self.ship_scene and not resume:
                self.scene = self._upload_scene()
            if resume:
                job_dir = os.path.abspath(resume)
                self.job = JobHandle(self.client, os.path.basename(job_dir), job_dir)
                self.client.status(self.job.id, follow=True)  # unknown_job when the server could not resume it
            else:
                requires = dict(submit.pop("requires", {}) or {})
                requires.setdefault("scene", jobspec.scene_id(self.blend))
                requires.setdefault("renderer", jobspec.RENDERER)
                self.job = self.client.submit(space, method, requires=requires, scene=self.scene, **submit)
            if self.cancel_requested:
                self.job.cancel()
        except Exception:
            self.stop()
            raise
        self.started_at = self._last_heard = time.monotonic()
        return self.job.id

    def _start_workers(self) -> None:
        if self.ray is not None:
            try:  # the whole package (a batch run); the installed add-on has only its wire part
                from optimizer_server.farm import RayWorkers, worker_command
            except ImportError:
                raise RunError("workers on Ray need the optimizer_server package: run the job as a batch job") from None

            extra = ["--threads", str(self.threads)] + (self.worker_args[0] if self.worker_args else [])
            self.workers = RayWorkers(
                self.ray["address"],
                self.worker_count,
                worker_command(self.address, "blender", extra),
                gpus_per_worker=float(self.ray.get("gpus_per_worker", 0)),
                cpus_per_worker=float(self.ray.get("cpus_per_worker", 1)),
                env={"PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))},
            ).start()
            return
        command = self.worker_command(self.address, self.blend, self.threads)
        args = self.worker_args or [[]]
        commands = [command + args[i % len(args)] for i in range(self.worker_count)]
        self.workers = worker_processes.WorkerProcesses(
            commands, log_dir=os.path.join(self.work_dir, "workers")
        ).start()

    def _upload_scene(self) -> dict[str, Any]:
        """Pack the scene (a cached copy when it is unchanged) and put it on the server by hash."""
        from . import scenepack

        binary = _blender_binary()
        packed = scenepack.packed_scene(self.blend, blender=binary)
        sent = self.client.scene_bytes_sent
        ref = self.client.upload_scene(packed["path"], name=packed["name"])
        self.scene_bytes_uploaded = self.client.scene_bytes_sent - sent  # 0 when the server had it
        return ref

    def stop(self) -> None:
        """Stop workers, client and the local server (safe to call twice)."""
        if self.workers is not None:
            self.workers.stop()
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.server is not None:
            self.server.stop()

    # --- while running ------------------------------------------------------------------------------
    def poll(self, timeout_s: float = 0.0) -> list[tuple[str, dict[str, Any]]]:
        """New ``(kind, body)`` events of the job; restarts dead workers; raises RunError if stuck."""
        if self.finished or self.client is None:
            return []
        self._check_server()
        if isinstance(self.workers, worker_processes.WorkerProcesses):  # Ray restarts its own
            self.workers.check()  # WorkerCrashLoop (a RunError-like ZeroGradsError) when a worker cannot start
        events = []
        try:
            return self._poll_events(events, timeout_s)
        except ServerUnavailableError:
            self._check_server()  # a dead local server is the reason: say so, and how to resume
            raise

    def _check_server(self) -> None:
        if self.server is not None and not self.server.running():
            raise RunError(
                "the local optimizer server stopped (its supervisor gave up):\n"
                + self.server.output_tail()
                + "\nThe job's state is saved; continue it with:\n  "
                + self.resume_hint.format(job_dir=self.job.job_dir)
            )

    def _poll_events(self, events: list, timeout_s: float) -> list[tuple[str, dict[str, Any]]]:
        for msg in self.client.poll(timeout_s):
            if msg.job != self.job.id:
                continue
            events.append((msg.kind, msg.body))
            if msg.kind == "done":
                self.finished = True
                self.result = msg.body
        now = time.monotonic()
        if events:
            self._last_heard = now
        elif now - self._last_heard > 2.0 and not self.finished:
            # Quiet for a while: ask (and re-follow, in case the server restarted). Raises
            # ServerUnavailableError after client_timeout_s when nobody answers.
            state = self.client.status(self.job.id, follow=True)["jobs"][0]
            self._last_heard = now
            if state["state"] in ("finished", "cancelled", "failed") and not self.finished:
                self.finished, self.result = True, state
                events.append(("done", state))
        return events

    def pause(self) -> None:
        self.job.pause()

    def resume(self) -> None:
        self.job.resume()

    def cancel(self) -> None:
        """Cancel the job; while start() still runs, as soon as the job exists (or before)."""
        self.cancel_requested = True
        if self.job is not None:
            self.job.cancel()

    @property
    def restarts(self) -> int:
        return getattr(self.workers, "restarts", 0)

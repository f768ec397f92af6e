"""Render workers on a Ray cluster: Ray places, starts and restarts them; ZeroMQ stays the data path.

    python -m optimizer_server workers --ray ADDRESS --count K --connect tcp://server:5555 \
        [--gpus-per-worker 1] [--cpus-per-worker 1] [-- WORKER ARGS]

Each worker is a Ray actor that runs one worker command as its child process (by default the Blender
worker, ``python -m blender_addon.worker --connect SERVER``, which fetches each job's scene from the
server) and connects back to the server like any other worker. The child dies with its actor (Linux:
``PR_SET_PDEATHSIG``), and the actor exits when its child does, so Ray's ``max_restarts`` restarts a
worker whatever died; the server re-dispatches the renders the dead one held (their task ids are gone,
so a late answer is ignored: no render counts twice). With ``--gpus-per-worker 1`` Ray gives each actor
its own GPU (``CUDA_VISIBLE_DEVICES``) and ``--device auto`` in the worker renders on it.

``ray`` is an optional extra (``pip install zerograds[ray]``); nothing else in the package imports it.
Under Slurm or Kubernetes no launcher is needed: run the same worker command per task or pod
(docs/scaling.md).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Sequence

from .wire.errors import ConfigError, ZeroGradsError

NAMESPACE = "zerograds"


class RayUnavailableError(ConfigError):
    """Ray is not installed (or too old) in this Python."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailableError(
            "workers on Ray need the `ray` package: pip install 'zerograds[ray]' (or pip install ray)"
        ) from None
    return ray


def worker_command(server: str, worker: str = "blender", extra: Sequence[str] = ()) -> list[str]:
    """The command each actor runs: the Blender worker (scenes travel with the jobs), or the analytic
    disc worker (``worker="disc"``: tests and benchmarks, no Blender)."""
    module = {"blender": "blender_addon.worker", "disc": "optimizer_server.problems.disc_worker"}.get(worker)
    if module is None:
        raise ConfigError(f"worker {worker!r} is not one of blender, disc")
    return [sys.executable, "-m", module, "--connect", server, *extra]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the actor still ends the child when it stops
        pass


class WorkerActor:
    """One render worker: its command as a child process, watched; ends its own process when the child
    ends, so that Ray restarts the actor (and with it a fresh worker)."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None, cwd: str | None = None):
        import subprocess
        import threading

        self.child = subprocess.Popen(
            command,
            env=dict(os.environ, **(env or {})),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        code = self.child.wait()
        if not getattr(self, "stopping", False):
            print(f"zerograds worker exited with code {code}: restarting", flush=True)
            os._exit(1)  # the actor dies with its worker: Ray restarts it

    def pids(self) -> tuple[int, int]:
        """(this actor's process, its worker's)."""
        return os.getpid(), self.child.pid

    def stop(self) -> int:
        """End the worker (it says bye to the server)."""
        self.stopping = True
        self.child.terminate()
        try:
            return self.child.wait(10)
        except Exception:
            self.child.kill()
            return self.child.wait()


class RayWorkers:
    """K worker actors on a Ray cluster (``address``: "auto", "HOST:PORT" or "ray://HOST:10001")."""

    def __init__(
        self,
        address: str,
        count: int,
        command: list[str],
        gpus_per_worker: float = 0.0,
        cpus_per_worker: float = 1.0,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        name_prefix: str = "zerograds-worker",
    ):
        if count < 1:
            raise ConfigError(f"--count must be 1 or more, got {count}")
        self.ray = import_ray()
        self.address, self.count, self.command = address, count, list(command)
        # restarted whenever they die; a call to a restarting actor waits for it
        self.options = {
            "num_gpus": gpus_per_worker,
            "num_cpus": cpus_per_worker,
            "max_restarts": -1,
            "max_task_retries": -1,
        }
        self.env, self.cwd, self.name_prefix = env, cwd, name_prefix
        self.actors: list = []
        self.first_pids: list[tuple[int, int]] = []
        self._restarts = 0  # counted when stopping

    def start(self) -> RayWorkers:
        ray = self.ray
        if not ray.is_initialized():
            ray.init(address=self.address, namespace=NAMESPACE, log_to_driver=False)
        remote = ray.remote(WorkerActor)
        for i in range(self.count):
            actor = remote.options(
                name=f"{self.name_prefix}-{i}", namespace=NAMESPACE, lifetime=None, **self.options
            ).remote(self.command + ["--name", f"{self.name_prefix}-{i}"], self.env, self.cwd)
            self.actors.append(actor)
        self.first_pids = self.pids()
        return self

    def pids(self, timeout_s: float = 120.0) -> list[tuple[int, int]]:
        """Each actor's (process, worker process), once all are placed and started."""
        return self.ray.get([a.pids.remote() for a in self.actors], timeout=timeout_s)

    @property
    def restarts(self) -> int:
        """How many of the actors Ray has restarted (their process is not the first one)."""
        if not self.actors:
            return self._restarts
        now = self.pids()
        return sum(1 for first, later in zip(self.first_pids, now) if first[0] != later[0])

    def stop(self) -> None:
        if self.actors:
            try:
                self._restarts = self.restarts
            except Exception:  # an actor that cannot answer any more: its restarts are not counted
                pass
        ray = self.ray
        for actor in self.actors:
            try:
                ray.get(actor.stop.remote(), timeout=15)
            except Exception:  # dead or restarting: killing it is all that is left to do
                pass
            ray.kill(actor, no_restart=True)
        self.actors = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def add_workers_parser(sub) -> None:
    p = sub.add_parser(
        "workers",
        help="start render workers on a Ray cluster (they connect back to the server)",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument(
        "--ray", required=True, metavar="ADDRESS", help='the Ray cluster: "auto", HOST:PORT or ray://HOST:10001'
    )
    p.add_argument("--count", type=int, required=True, metavar="K", help="how many workers")
    p.add_argument("--connect", required=True, metavar="SERVER", help="the optimizer server, e.g. tcp://host:5555")
    p.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPUs Ray gives each worker (default 0)")
    p.add_argument("--cpus-per-worker", type=float, default=1.0, help="CPUs Ray reserves for each worker (default 1)")
    p.add_argument("--worker", default="blender", choices=("blender", "disc"), help="which worker (default blender)")
    p.add_argument("worker_args", nargs="*", metavar="WORKER_ARG", help="after --: passed to each worker")
    p.set_defaults(func=_cmd_workers)


def _cmd_workers(args) -> int:
    command = worker_command(args.connect, args.worker, args.worker_args)
    workers = RayWorkers(args.ray, args.count, command, args.gpus_per_worker, args.cpus_per_worker)
    try:
        workers.start()
        print(f"{args.count} workers on Ray ({args.ray}) for {args.connect}: {workers.pids()}", flush=True)
        while True:  # Ray keeps them running and restarts them; this command holds them until stopped
            time.sleep(1.0)
    except KeyboardInterrupt:
        return 0
    except ZeroGradsError:
        raise
    finally:
        if workers.actors:
            workers.stop()

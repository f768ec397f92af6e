"""OptimizerServer: one ROUTER socket for clients and workers, served by one thread.

The loop is ``poll -> handle messages -> timers -> dispatch -> checkpoint``; everything runs on
this one thread, so jobs and the pool need no locks. Whatever a peer sends, the worst it gets is
an ``error`` reply: handlers turn project errors into replies and unexpected exceptions into an
``internal_error`` reply plus a logged traceback, and the loop goes on.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import zmq

from ..device import resolve_device
from ..wire import protocol
from ..wire.errors import ConfigError, ProtocolError, RequestRejectedError, StateError, UnknownMethodError
from ..wire.protocol import Message
from .access import Access, keys_dir_for, owner_of
from .client_side import ClientSide
from .config import ServerConfig
from .jobs import Job
from .peers import open_peers
from .replies import peek_seq
from .roster import WorkerRoster
from .scene_side import SceneSide
from .scenes import SceneStore
from .store import CheckpointWriter, JobStore, check_counters
from .worker_side import WorkerSide

log = logging.getLogger("zerograds.server")

_TIMER_PERIOD_S = 0.05
_DRAIN_BATCH = 500  # messages handled before timers and dispatch get a turn
_PROGRESS_LOG_PERIOD_S = 5.0  # the serve log shows each job's progress this often (every iteration with -v)


class OptimizerServer(ClientSide, WorkerSide, SceneSide):
    """Serve optimisation jobs to clients, renders to workers. See docs/protocol.md."""

    def __init__(self, config: ServerConfig | None = None):
        self.config = config or ServerConfig()
        self.device = resolve_device(self.config.device)
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        c = self.config
        self.roster = WorkerRoster(c.heartbeat_timeout_s, c.worker_failure_limit, c.tries_per_worker)
        self.access = Access(c)
        self.scenes = SceneStore(os.path.join(c.jobs_dir, "scenes"), c.max_scene_bytes)
        self.endpoint: str | None = None
        self.counters = {
            "messages": 0,
            "rejected": 0,
            "ignored_results": 0,
            "reassigned_samples": 0,
            "worker_failures": 0,
            "peers_lost": 0,
            "scene_bytes_received": 0,  # scene uploads from clients
            "scene_bytes_sent": 0,  # scene chunks to workers
        }
        self.announce: Callable[[str, Job], None] | None = None
        """Called with ("job", job) when a job is accepted or resumed and ("end", job) when it ends
        (the `serve` command prints these for its supervisor)."""
        self._context = zmq.Context()
        self._peers = None  # peers.GatewayLink or peers.DirectRouter once started
        self._stop = threading.Event()
        self._writer = CheckpointWriter()
        self._outbox: list[tuple[Job, str, dict[str, Any], list]] = []
        self._progress_logged: dict[str, float] = {}
        self._seq = 0
        self._turn = 0  # round-robin offset over jobs
        self._next_timers = 0.0
        self._handlers = {
            "submit": self._on_submit,
            "pause": self._on_pause,
            "resume": self._on_resume,
            "cancel": self._on_cancel,
            "status": self._on_status,
            "ready": self._on_ready,
            "heartbeat": self._on_heartbeat,
            "result": self._on_result,
            "render_failed": self._on_render_failed,
            "bye": self._on_bye,
            "scene_put": self._on_scene_put,
            "scene_get": self._on_scene_get,
        }

    # --- life cycle -----------------------------------------------------------------------------------
    def start(self) -> str:
        """Bind the public socket (and start authentication); return the endpoint clients connect to."""
        c = self.config
        keys = keys_dir_for(c)
        self._peers = open_peers(self._context, c.bind, c.limits, keys, c.isolate_peers)
        self.endpoint = self._peers.endpoint
        log.info(
            "serving on %s (%s; %s), jobs in %s, losses on %s",
            self.endpoint,
            "no authentication" if keys is None else f"CurveZMQ keys in {keys}",
            f"gateway process {self.gateway_pid}" if self.gateway_pid else "socket in this process",
            c.jobs_dir,
            self.device,
        )
        return self.endpoint

    def resume_job(self, job_dir: str) -> Job:
        """Load a stopped job from its directory and continue it from its last checkpoint.
        Raises StateError (naming the file and the problem) for anything it cannot trust."""
        store = JobStore(job_dir, self._writer)
        store.load_job()  # a job folder at all? (StateError naming the file)
        if not os.path.isfile(store.state_path):
            raise StateError(
                f"{store.state_path} is missing, so job {os.path.basename(store.directory)} cannot continue "
                "where it stopped (every job is checkpointed when it is accepted); restore the file, "
                "or submit the job again to start it over"
            )
        try:
            job = Job.load(store, self.device, self._emit, self._sends_per_sample(), self._ready_workers)
        except (StateError, ConfigError) as exc:
            raise StateError(f"cannot resume {store.directory}: {exc}") from exc
        except Exception as exc:  # whatever a damaged file makes the method's loader raise
            raise StateError(f"cannot resume {store.directory}: {type(exc).__name__}: {exc}") from exc
        check_counters(store.state_path, job.method, job.config.budget)
        if job.id in self.jobs:
            raise ConfigError(f"job {job.id} is already loaded")
        self.jobs[job.id] = job
        if self.announce is not None:  # before start(): a finished job announces its end at once
            self.announce("job", job)
        job.start()
        log.info("resumed job %s at iteration %d (%s)", job.id, job.method.iteration, job.state)
        return job

    def _sends_per_sample(self) -> int:
        """How often one sample may be sent at all (failures are judged by the roster's rules; this
        bounds re-sends that nobody is blamed for, e.g. workers leaving)."""
        return 4 * self.config.max_attempts * self.config.tries_per_worker

    def serve_forever(self) -> None:
        """Run the loop until :meth:`stop`; closes the socket on the way out."""
        if self._peers is None:
            self.start()
        try:
            while not self._stop.is_set():
                try:
                    self._turn_once()
                except Exception:  # a bug in one job's bookkeeping must not stop the others
                    log.exception("internal error in the serve loop; continuing")
                    time.sleep(_TIMER_PERIOD_S)
        finally:
            self.close()

    def _turn_once(self) -> None:
        if self._peers.poll(int(1000 * _TIMER_PERIOD_S)):
            self._drain()
        now = time.monotonic()
        if now >= self._next_timers:
            self._check_timers(now)
            self._next_timers = now + _TIMER_PERIOD_S
        self._dispatch()  # renders first: workers must not wait for bookkeeping
        self._flush_outbox()
        for job in list(self.jobs.values()):
            job.save_if_changed()

    def stop(self) -> None:
        """Thread-safe: the loop returns within ~50 ms."""
        self._stop.set()

    def close(self) -> None:
        """Release the socket, the gateway and the context; flush checkpoints. Idempotent."""
        if self._peers is not None:
            self._peers.close()
            self._peers = None
        for job in list(self.jobs.values()):
            try:
                job.save_if_changed(force=True)  # a checkpoint deferred for spacing is written now
            except Exception:  # one job's state must not keep the others' from disk
                log.exception("could not checkpoint job %s on shutdown", job.id)
        self._writer.close()
        if not self._context.closed:
            self._context.term()

    @property
    def gateway_pid(self) -> int | None:
        """The gateway process (None when the socket lives in this process)."""
        return getattr(self._peers, "pid", None)

    # --- receiving -------------------------------------------------------------------------------
    def _drain(self) -> None:
        for _ in range(_DRAIN_BATCH):
            event = self._peers.recv()
            if event is None:
                return
            kind, identity, user, frames = event
            if kind == "gone":
                self._peer_gone(identity)
            else:
                self._handle(identity, owner_of(user), frames)

    def _handle(self, identity: bytes, owner: str | None, frames: Sequence[Any]) -> None:
        self.counters["messages"] += 1
        try:
            msg = protocol.decode(frames, limits=self.config.limits, accept=protocol.TO_SERVER)
        except ProtocolError as exc:
            self._reject(identity, exc.code, str(exc), re=peek_seq(frames))
            return
        try:
            self._handlers[msg.kind](identity, owner, msg)
        except RequestRejectedError as exc:
            self._reject(identity, exc.code, str(exc), msg)
        except (ProtocolError, ConfigError, UnknownMethodError) as exc:
            self._reject(identity, getattr(exc, "code", "bad_request"), str(exc), msg)
        except Exception as exc:  # a bug must not take the server (and every other job) down
            log.exception("internal error while handling %s from a peer", msg.kind)
            self._reject(
                identity,
                "internal_error",
                f"internal server error while handling '{msg.kind}': {type(exc).__name__}: {exc}; "
                "the server keeps running - please report this",
                msg,
            )

    def _reject(
        self, identity: bytes, code: str, message: str, msg: Message | None = None, re: int | None = None
    ) -> None:
        self.counters["rejected"] += 1
        log.warning("rejected a message: %s", message[:500])
        if msg is not None:
            re = msg.seq
        self._send(
            identity, "error", {"code": code, "message": message[:4000]}, job=None if msg is None else msg.job, re=re
        )

    def _peer_gone(self, identity: bytes) -> None:
        """The gateway could not deliver to this peer: it disconnected or stopped reading."""
        for job in self.jobs.values():
            if identity in job.listeners:
                job.listeners.remove(identity)
        worker = self.roster.workers.get(identity)
        if worker is not None:
            log.warning("worker %s is gone: its renders go elsewhere", worker.name)
            self._give_back(self.roster.remove(identity), f"worker {worker.name} disconnected")

    # --- sending -----------------------------------------------------------------------------------
    def _send(
        self,
        identity: bytes,
        kind: str,
        body: dict[str, Any],
        *,
        job: str | None = None,
        re: int | None = None,
        arrays=(),
    ) -> bool:
        """Send without blocking; False when the peer is gone or not reading (then it is dropped).
        A body that cannot be encoded (a bug: NaN where a number must be) is logged and, for a
        reply, answered with an internal_error instead; it never stops the loop or other replies."""
        self._seq += 1
        try:
            frames = protocol.encode(kind, body, job=job, seq=self._seq, re=re, arrays=arrays)
        except ProtocolError as exc:
            log.error("could not encode a %s message for job %s: %s", kind, job, exc)
            if re is None or kind == "error":
                return True
            return self._send(identity, "error", {"code": "internal_error", "message": f"{exc}"[:4000]}, re=re)
        if self._peers.send(identity, frames):
            return True
        log.warning("a peer is gone or not reading; dropped a %s message", kind)
        return False

    def _emit(self, job: Job, kind: str, body: dict[str, Any], arrays=()) -> None:
        """Queue a job's progress/done message for its followers (sent after the next dispatch)."""
        if kind == "done":
            for identity, tasks in self.roster.drop_job(job).items():
                self._send(identity, "abort", {"tasks": tasks})  # stop rendering for a job that ended
            if self.announce is not None:
                self.announce("end", job)
            log.info(
                "job %s %s after %d evaluations (best loss %s)%s",
                job.id,
                job.state,
                job.method.evaluations,
                body.get("best_loss"),
                f": {job.message}" if job.message else "",
            )
        else:
            now = time.monotonic()
            quiet = now - self._progress_logged.get(job.id, 0.0) < _PROGRESS_LOG_PERIOD_S
            log.log(
                logging.DEBUG if quiet else logging.INFO,
                "job %s: iteration %d, %d/%d renders, loss %.4g, best %.4g",
                job.id,
                body["iteration"],
                body["evaluations"],
                body["budget"],
                body["loss"],
                body["best_loss"],
            )
            if not quiet:
                self._progress_logged[job.id] = now
        self._outbox.append((job, kind, body, list(arrays)))

    def _flush_outbox(self) -> None:
        outbox, self._outbox = self._outbox, []
        for job, kind, body, arrays in outbox:
            job.listeners = [peer for peer in job.listeners if self._send(peer, kind, body, job=job.id, arrays=arrays)]

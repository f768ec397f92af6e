"""OptimizerServer: one ROUTER socket for clients and workers, served by one thread.

The loop is ``poll -> handle messages -> timers -> dispatch -> checkpoint``; everything runs on
this one thread, so jobs and the pool need no locks. Whatever a peer sends, the worst it gets is
an ``error`` reply: handlers turn project errors into replies and unexpected exceptions into an
``internal_error`` reply plus a logged traceback, and the loop goes on.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import zmq

from ..device import resolve_device
from ..wire import protocol
from ..wire.errors import ConfigError, ProtocolError, RequestRejectedError, UnknownMethodError
from ..wire.protocol import Message
from ..wire.space import Space
from .auth import ServerAuth, is_loopback
from .config import ServerConfig
from .jobparts import JobConfig
from .jobs import Job
from .roster import RenderTask, Worker, WorkerRoster, rotate
from .store import CheckpointWriter, JobStore

log = logging.getLogger("zerograds.server")

_TIMER_PERIOD_S = 0.05
_MAX_LISTENERS = 16
_DRAIN_BATCH = 500  # messages handled before timers and dispatch get a turn
_FLOAT32_VALUES_ABOVE = 1024  # parameters; larger samples go to the workers as float32 (protocol.py)
_PROGRESS_LOG_PERIOD_S = 5.0  # the serve log shows each job's progress this often (every iteration with -v)


class OptimizerServer:
    """Serve optimisation jobs to clients, renders to workers. See docs/protocol.md."""

    def __init__(self, config: ServerConfig | None = None):
        self.config = config or ServerConfig()
        self.device = resolve_device(self.config.device)
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.roster = WorkerRoster(self.config.heartbeat_timeout_s)
        self.endpoint: str | None = None
        self.counters = {"messages": 0, "rejected": 0, "ignored_results": 0, "reassigned_samples": 0}
        self._context = zmq.Context()
        self._socket: zmq.Socket | None = None
        self._auth: ServerAuth | None = None
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
        }

    # --- life cycle -----------------------------------------------------------------------------------
    def start(self) -> str:
        """Bind the socket (and start authentication); return the endpoint clients connect to."""
        c = self.config
        authenticate = c.require_auth or not is_loopback(c.bind)
        if authenticate and not c.keys_dir:
            raise ConfigError(
                f"{c.bind} is reachable from other machines, so the server must authenticate its peers: "
                "pass --keys DIR with a CurveZMQ key directory (create one with "
                "`python -m optimizer_server keys DIR --peer NAME`), or bind tcp://127.0.0.1:PORT"
            )
        sock = self._context.socket(zmq.ROUTER)
        sock.linger = 0
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # sending to a vanished peer raises instead of vanishing
        sock.setsockopt(zmq.MAXMSGSIZE, c.limits.socket_max_msg_size())
        if authenticate:
            self._auth = ServerAuth(self._context, c.keys_dir)
            self._auth.apply(sock)
        try:
            sock.bind(c.bind)
        except zmq.ZMQError as exc:
            sock.close()
            self._stop_auth()
            raise ConfigError(f"cannot bind {c.bind}: {exc} (another server running? pick another port)") from exc
        self._socket = sock
        self.endpoint = sock.getsockopt(zmq.LAST_ENDPOINT).decode()
        log.info(
            "serving on %s (%s), jobs in %s, losses on %s",
            self.endpoint,
            "CurveZMQ" if authenticate else "loopback, no authentication",
            c.jobs_dir,
            self.device,
        )
        return self.endpoint

    def resume_job(self, job_dir: str) -> Job:
        """Load a stopped job from its directory and continue it from its last checkpoint."""
        job = Job.load(JobStore(job_dir, self._writer), self.device, self._emit, self.config.max_attempts)
        if job.id in self.jobs:
            raise ConfigError(f"job {job.id} is already loaded")
        self.jobs[job.id] = job
        job.start()
        log.info("resumed job %s at iteration %d (%s)", job.id, job.method.iteration, job.state)
        return job

    def serve_forever(self) -> None:
        """Run the loop until :meth:`stop`; closes the socket on the way out."""
        if self._socket is None:
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
        if self._socket.poll(int(1000 * _TIMER_PERIOD_S)):
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
        """Release the socket, the authenticator and the context; flush checkpoints. Idempotent."""
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
        self._stop_auth()
        for job in list(self.jobs.values()):
            try:
                job.save_if_changed(force=True)  # a checkpoint deferred for spacing is written now
            except Exception:  # one job's state must not keep the others' from disk
                log.exception("could not checkpoint job %s on shutdown", job.id)
        self._writer.close()
        if not self._context.closed:
            self._context.term()

    def _stop_auth(self) -> None:
        if self._auth is not None:
            self._auth.stop()
            self._auth = None

    # --- receiving -------------------------------------------------------------------------------
    def _drain(self) -> None:
        for _ in range(_DRAIN_BATCH):
            try:
                frames = self._socket.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            self._handle(frames[0].bytes, frames[1:])

    def _handle(self, identity: bytes, frames: Sequence[Any]) -> None:
        self.counters["messages"] += 1
        try:
            msg = protocol.decode(frames, limits=self.config.limits, accept=protocol.TO_SERVER)
        except ProtocolError as exc:
            self._reject(identity, exc.code, str(exc), re=_peek_seq(frames))
            return
        try:
            self._handlers[msg.kind](identity, msg)
        except RequestRejectedError as exc:
            self._reject(identity, exc.code, str(exc), msg)
        except (ProtocolError, ConfigError, UnknownMethodError) as exc:
            self._reject(identity, getattr(exc, "code", "bad_request"), str(exc), msg)
        except Exception as exc:  # a bug must not take the server (and every other job) down
            log.exception("internal error while handling %s from %r", msg.kind, identity)
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
        log.warning("rejected a message from %r: %s", identity, message)
        if msg is not None:
            re = msg.seq
        self._send(
            identity, "error", {"code": code, "message": message[:4000]}, job=None if msg is None else msg.job, re=re
        )

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
        """Send without blocking; False when the peer is gone or not reading (then it is dropped)."""
        self._seq += 1
        frames = protocol.encode(kind, body, job=job, seq=self._seq, re=re, arrays=arrays)
        try:
            self._socket.send_multipart([identity] + frames, flags=zmq.NOBLOCK, copy=False)
            return True
        except zmq.Again:
            log.warning("peer %r is not reading; dropped a %s message", identity, kind)
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
        return False

    def _emit(self, job: Job, kind: str, body: dict[str, Any], arrays=()) -> None:
        """Queue a job's progress/done message for its followers (sent after the next dispatch)."""
        if kind == "done":
            self.roster.drop_job(job)
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

    # --- client requests -----------------------------------------------------------------------------
    def _on_submit(self, identity: bytes, msg: Message) -> None:
        job_id = msg.job or f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        self._make_room()
        store = JobStore(os.path.join(self.config.jobs_dir, job_id), self._writer)
        if job_id in self.jobs or store.exists():
            raise RequestRejectedError(
                f"a job called {job_id!r} exists already; choose another id or leave it out to get a fresh one",
                code="bad_request",
            )
        body = dict(msg.body)
        body["space"] = Space.from_dict(body["space"]).to_dict()  # validates every spec (ConfigError)
        config = JobConfig.from_dict(body)
        if msg.arrays_named("start"):  # the start as a whole vector (big array blocks)
            config.start_vector = config.checked_vector(msg.array("start"), "start")
        if msg.arrays_named("target_values"):  # so are the target values
            config.target_vector = config.checked_vector(msg.array("target_values"), "target values")
        target = mask = None
        if config.target["kind"] == "image":
            target = np.array(msg.array("target"))  # copy: the frame is released after this call
        if msg.arrays_named("mask"):
            mask = np.array(msg.array("mask"))
        job = Job.create(
            job_id, config, store, self.device, self._emit, self.config.max_attempts, target=target, mask=mask
        )
        self.jobs[job_id] = job
        job.listeners.append(identity)
        self._send(
            identity,
            "accepted",
            {"job": job_id, "job_dir": store.directory, "state": job.state},
            job=job_id,
            re=msg.seq,
        )
        log.info("job %s submitted: %s, %d parameters, budget %d", job_id, config.method, config.space.n, config.budget)
        job.start()

    def _make_room(self) -> None:
        if len(self.jobs) < self.config.max_jobs:
            return
        for job_id, job in list(self.jobs.items()):
            if job.final:  # its files stay; only the in-memory copy goes
                del self.jobs[job_id]
                return
        raise RequestRejectedError(
            f"the server already runs {len(self.jobs)} jobs (the limit); cancel one or wait for one to finish",
            code="server_busy",
        )

    def _job(self, msg: Message) -> Job:
        if msg.job is None:
            raise RequestRejectedError(f"'{msg.kind}' needs the job id in the header field 'job'")
        job = self.jobs.get(msg.job)
        if job is None:
            raise RequestRejectedError(
                f"no job {msg.job!r} on this server (known: {', '.join(self.jobs) or 'none'})", code="unknown_job"
            )
        return job

    def _on_pause(self, identity: bytes, msg: Message) -> None:
        job = self._job(msg)
        job.pause()
        self._reply_state(identity, msg, [job])

    def _on_resume(self, identity: bytes, msg: Message) -> None:
        job = self._job(msg)
        job.resume()
        self._reply_state(identity, msg, [job])

    def _on_cancel(self, identity: bytes, msg: Message) -> None:
        job = self._job(msg)
        self._follow(job, identity)  # the canceller gets the final `done`
        job.cancel()
        self._reply_state(identity, msg, [job])

    def _on_status(self, identity: bytes, msg: Message) -> None:
        jobs = [self._job(msg)] if msg.job is not None else list(self.jobs.values())
        self._reply_state(identity, msg, jobs)
        if msg.body.get("follow") and msg.job is not None:
            job = jobs[0]
            self._follow(job, identity)
            if job.final:  # a client re-attaching after the end still learns the result
                self._send(identity, "done", job.result(), job=job.id, arrays=job.vector_frames("done"))

    def _follow(self, job: Job, identity: bytes) -> None:
        if identity not in job.listeners:
            job.listeners = (job.listeners + [identity])[-_MAX_LISTENERS:]

    def _reply_state(self, identity: bytes, msg: Message, jobs: list[Job]) -> None:
        self._send(
            identity,
            "job_state",
            {"jobs": [j.summary() for j in jobs], "workers": self.roster.summary()},
            job=msg.job,
            re=msg.seq,
        )

    # --- workers ---------------------------------------------------------------------------------------
    def _on_ready(self, identity: bytes, msg: Message) -> None:
        worker, orphaned = self.roster.register(identity, msg.body["capabilities"], time.monotonic())
        self._give_back(orphaned, f"worker {worker.name} restarted")
        self._send(
            identity,
            "welcome",
            {"worker": worker.name, "heartbeat_interval_s": self.config.heartbeat_interval_s},
            re=msg.seq,
        )
        log.info("worker %s joined (%d workers)", worker.name, len(self.roster.workers))

    def _worker(self, identity: bytes, msg: Message) -> Worker | None:
        worker = self.roster.seen(identity, time.monotonic())
        if worker is None:  # e.g. this server restarted while the worker kept running
            self._send(
                identity,
                "error",
                {"code": "not_registered", "message": "unknown worker: send 'ready' first"},
                re=msg.seq,
            )
        return worker

    def _on_heartbeat(self, identity: bytes, msg: Message) -> None:
        self._worker(identity, msg)

    def _on_result(self, identity: bytes, msg: Message) -> None:
        worker = self._worker(identity, msg)
        if worker is None:  # declared dead meanwhile: its tasks went elsewhere
            self.counters["ignored_results"] += 1
            return
        task = self.roster.answered(msg.body["task"], worker)
        if task is None:
            self.counters["ignored_results"] += 1
            log.debug("ignored a late/duplicate result of task %s from %s", msg.body["task"], worker.name)
            return
        images = msg.arrays_named("image")
        problem = task.job.check_images(images, len(task.indices))
        if problem is not None:
            worker.setups.pop(task.job.id, None)
            self._give_back([task], f"worker {worker.name}: {problem}")
            return
        worker.images_rendered += len(images)
        render_s = float(msg.body["render_s"])
        wire_s = max(0.0, time.monotonic() - task.sent_at - render_s)
        task.job.accept(task.batch, task.indices, images, render_s, wire_s)

    def _on_render_failed(self, identity: bytes, msg: Message) -> None:
        worker = self._worker(identity, msg)
        if worker is None:
            return
        task = self.roster.answered(msg.body["task"], worker)
        if task is not None:
            worker.setups.pop(task.job.id, None)  # resend the setup with the retry (it may be what was missing)
            self._give_back([task], f"worker {worker.name} failed: {msg.body['message']}")

    def _on_bye(self, identity: bytes, msg: Message) -> None:
        worker = self.roster.workers.get(identity)
        self._give_back(self.roster.remove(identity), "worker left")
        if worker is not None:
            log.info("worker %s left (%d workers)", worker.name, len(self.roster.workers))

    def _give_back(self, tasks: Sequence[RenderTask], reason: str) -> None:
        for task in tasks:
            self.counters["reassigned_samples"] += len(task.indices)
            task.job.give_back(task.batch, task.indices, reason)

    # --- timers and dispatch ---------------------------------------------------------------------------
    def _check_timers(self, now: float) -> None:
        for worker in self.roster.expired(now):
            log.warning(
                "worker %s sent nothing for %.1f s: declared dead, its renders go elsewhere",
                worker.name,
                now - worker.last_seen,
            )
            self._give_back(
                self.roster.remove(worker.identity),
                f"worker {worker.name} stopped answering (no heartbeat for {self.config.heartbeat_timeout_s:g} s)",
            )
        for task in self.roster.overdue(now):
            log.warning(
                "task %d (%d renders) overdue on worker %r: re-sending elsewhere",
                task.id,
                len(task.indices),
                task.worker,
            )
            self._give_back(
                [task],
                f"a render took longer than the render timeout "
                f"({task.deadline - task.sent_at:.1f} s) on a worker that still heartbeats",
            )

    def _dispatch(self) -> None:
        if not self.roster.workers or not self.jobs:
            return
        jobs = rotate(self.jobs.values(), self._turn)
        for worker, job, count in self.roster.plan(jobs, self._images_per_message):
            self._send_render(worker, job, job.take(count))
            self._turn += 1

    def _images_per_message(self, job: Job) -> int:
        """How many of a job's images fit in one result message under our limits."""
        limits = self.config.limits
        if job.loss is None:
            return 1  # the target render: one image
        image_bytes = max(1, int(np.prod(job.loss.shape)) * 4)
        return max(1, min(limits.max_frames - 1, (limits.max_message_bytes - limits.max_header_bytes) // image_bytes))

    def _send_render(self, worker: Worker, job: Job, indices: list[int]) -> None:
        batch = job.batch
        now = time.monotonic()
        per_image = job.config.render_timeout_s or self.config.render_timeout_s
        task = self.roster.add_task(job, batch, indices, worker, now, per_image * len(indices))
        body: dict[str, Any] = {"task": task.id, "seeds": batch.seeds[indices].tolist()}
        if worker.setups.get(job.id) != batch.purpose:  # settings and specs travel once per worker and job
            body["setup"] = {"settings": batch.settings, "params": job.space.to_dict()["params"]}
            worker.setups[job.id] = batch.purpose
        values = batch.values[indices]
        if job.space.n > _FLOAT32_VALUES_ABOVE:  # what a scene holds is float32 anyway: half the bytes
            values = values.astype(np.float32)
        if not self._send(worker.identity, "render", body, job=job.id, arrays=[("values", values)]):
            log.warning("worker %s is gone: its renders go elsewhere", worker.name)
            self._give_back(self.roster.remove(worker.identity), f"worker {worker.name} disconnected")


def _peek_seq(frames: Sequence[Any]) -> int | None:
    """The request's seq for the error reply, when the header is readable enough to have one."""
    try:
        head = frames[0].bytes if hasattr(frames[0], "bytes") else bytes(frames[0])
        if len(head) <= protocol.DEFAULT_LIMITS.max_header_bytes:
            seq = json.loads(head).get("seq")
            if isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq <= protocol.MAX_SEED:
                return seq
    except Exception:  # unreadable header: the reply just carries no 're'
        pass
    return None

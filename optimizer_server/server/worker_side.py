"""The serve loop's side facing render workers: registration, results and failures, timers, dispatch.

A part of :class:`~optimizer_server.server.core.OptimizerServer` (a mixin: the same object, the
same single thread). What a worker did wrong is recorded against it (``roster.record_failure``):
a worker that keeps failing one job's renders is quarantined for that job, and a job fails only
when every worker able to render a sample failed it, with each worker's error text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..wire.protocol import Message
from .jobs import Job
from .roster import RenderTask, Worker, rotate

log = logging.getLogger("zerograds.server")
_FLOAT32_VALUES_ABOVE = 1024  # parameters; larger samples go to the workers as float32 (protocol.py)


class WorkerSide:
    # --- messages from workers ------------------------------------------------------------------------
    def _on_ready(self, identity: bytes, owner: str | None, msg: Message) -> None:
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

    def _on_heartbeat(self, identity: bytes, owner: str | None, msg: Message) -> None:
        self._worker(identity, msg)

    def _on_result(self, identity: bytes, owner: str | None, msg: Message) -> None:
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
        problem = task.job.check_images(images, len(task.indices)) or _non_finite(images)
        if problem is not None:
            worker.setups.pop(task.job.id, None)
            self._worker_failed(task, worker, f"{problem}")
            return
        worker.images_rendered += len(images)
        render_s = float(msg.body["render_s"])
        wire_s = max(0.0, time.monotonic() - task.sent_at - render_s)
        task.job.accept(task.batch, task.indices, images, render_s, wire_s)

    def _on_render_failed(self, identity: bytes, owner: str | None, msg: Message) -> None:
        worker = self._worker(identity, msg)
        if worker is None:
            return
        task = self.roster.answered(msg.body["task"], worker)
        if task is None:  # a late answer, or a task it was told to abort
            self.counters["ignored_results"] += 1
            return
        worker.setups.pop(task.job.id, None)  # resend the setup with the retry (it may be what was missing)
        self._worker_failed(task, worker, msg.body["message"])

    def _on_bye(self, identity: bytes, owner: str | None, msg: Message) -> None:
        worker = self.roster.workers.get(identity)
        self._give_back(self.roster.remove(identity), "worker left")
        if worker is not None:
            log.info("worker %s left (%d workers)", worker.name, len(self.roster.workers))

    # --- taking renders back ----------------------------------------------------------------------------
    def _give_back(self, tasks: Sequence[RenderTask], reason: str) -> None:
        """Re-queue renders nobody is to blame for (a worker left or re-registered)."""
        for task in tasks:
            self.counters["reassigned_samples"] += len(task.indices)
            task.job.give_back(task.batch, task.indices, reason)

    def _worker_failed(self, task: RenderTask, worker: Worker, reason: str) -> None:
        """A render that ``worker`` failed (error, unusable images, timeout, death): re-queue it, or
        fail the job when no worker is left that has not failed the sample."""
        self.counters["worker_failures"] += 1
        if task.batch is not task.job.batch or task.job.final:
            return  # a step that is over
        verdict = self.roster.record_failure(task, worker, reason, self.config.max_attempts)
        if worker.failures[task.job.id] == self.roster.worker_failure_limit:
            log.warning("worker %s failed %d renders of job %s: it gets no more of them", *_who(worker, task))
        if verdict is not None:
            task.job.fail(verdict)
            return
        self.counters["reassigned_samples"] += len(task.indices)
        task.job.give_back(task.batch, task.indices, f"worker {worker.name}: {reason}")

    # --- timers and dispatch ---------------------------------------------------------------------------
    def _check_timers(self, now: float) -> None:
        if self._peers.check(now):  # the gateway died: every peer is gone, and reconnects to the new one
            self.counters["peers_lost"] += 1
            for worker in list(self.roster.workers.values()):
                self._give_back(self.roster.remove(worker.identity), "the server's gateway restarted")
            for job in self.jobs.values():
                job.listeners = []
        for worker in self.roster.expired(now):
            log.warning(
                "worker %s sent nothing for %.1f s: declared dead, its renders go elsewhere",
                worker.name,
                now - worker.last_seen,
            )
            reason = f"the worker stopped answering (no heartbeat for {self.config.heartbeat_timeout_s:g} s)"
            for task in self.roster.remove(worker.identity):
                self._worker_failed(task, worker, reason)
        for task in self.roster.overdue(now):
            worker = self.roster.workers.get(task.worker)
            log.warning("task %d (%d renders) overdue: re-sending elsewhere", task.id, len(task.indices))
            reason = f"a render took longer than the render timeout ({task.deadline - task.sent_at:.1f} s)"
            if worker is None:
                self._give_back([task], reason)
            else:
                self._send(worker.identity, "abort", {"tasks": [task.id]})  # it may still stop, if not hung
                self._worker_failed(task, worker, reason)

    def _dispatch(self) -> None:
        if not self.roster.workers or not self.jobs:
            return
        jobs = rotate(self.jobs.values(), self._turn)
        for worker, job, count in self.roster.plan(jobs, self._images_per_message):
            self._send_render(worker, job, job.take(count))
            self._turn += 1

    def _ready_workers(self, job: Job) -> int:
        """Workers ready for ``job``'s renders (able, allowed, not stuck), shared with the other running
        jobs they could render: what the job's method is told before each ask (``set_parallel``)."""
        able = [w for w in self.roster.workers.values() if self.roster.may_render(w, job) and self.roster.healthy(w)]
        sharing = 1 + sum(
            1
            for other in self.jobs.values()
            if other is not job and other.state == "running" and any(self.roster.may_render(w, other) for w in able)
        )
        return max(1, len(able) // sharing)

    def _images_per_message(self, job: Job) -> int:
        """How many of a job's samples fit in one render message (their values) and in one result
        message (their images) under our limits."""
        limits = self.config.limits
        fit_values = max(1, limits.max_array_bytes // (8 * job.space.n))
        if job.loss is None:
            return 1  # the target render: one image
        image_bytes = max(1, int(np.prod(job.loss.shape)) * 4)
        fit_images = (limits.max_message_bytes - limits.max_header_bytes) // image_bytes
        return max(1, min(limits.max_frames - 1, fit_images, fit_values))

    def _send_render(self, worker: Worker, job: Job, indices: list[int]) -> None:
        batch = job.batch
        now = time.monotonic()
        per_image = job.config.render_timeout_s or self.config.render_timeout_s
        task = self.roster.add_task(job, batch, indices, worker, now, per_image * len(indices))
        body: dict[str, Any] = {"task": task.id, "seeds": batch.seeds[indices].tolist()}
        if worker.setups.get(job.id) != batch.purpose:  # settings and specs travel once per worker and job
            body["setup"] = {"settings": batch.settings, "params": job.space.to_dict()["params"]}
            if job.config.scene is not None:  # a worker without it fetches it (scene_get)
                body["setup"]["scene"] = job.config.scene
            worker.setups[job.id] = batch.purpose
        values = batch.values[indices]
        if job.space.n > _FLOAT32_VALUES_ABOVE:  # what a scene holds is float32 anyway: half the bytes
            values = values.astype(np.float32)
        if not self._send(worker.identity, "render", body, job=job.id, arrays=[("values", values)]):
            log.warning("worker %s is gone: its renders go elsewhere", worker.name)
            self._give_back(self.roster.remove(worker.identity), f"worker {worker.name} disconnected")


def _who(worker: Worker, task: RenderTask) -> tuple[str, int, str]:
    return worker.name, worker.failures[task.job.id], task.job.id


def _non_finite(images: Sequence[np.ndarray]) -> str | None:
    bad = [i for i, image in enumerate(images) if not np.isfinite(image).all()]
    if bad:
        return f"non-finite pixels (NaN/inf) in image(s) {bad} of the result"
    return None

"""The roster of connected render workers: who is alive, what each one is rendering, how work is split.

A *task* is one ``render`` message: a chunk of one job's current batch sent to one worker. The
pool remembers, per task, which samples it carries and when it is overdue; per worker, the ids
it has not answered yet. Nothing here talks to sockets or jobs' internals.

Why tasks are removed rather than marked: once a task is reassigned (worker dead, timed out or
failed), its id is gone from ``tasks``, so a late or duplicate ``result`` for it finds nothing
and is ignored — the samples are never counted twice.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Worker:
    identity: bytes
    name: str
    capabilities: dict[str, Any]
    max_batch: int
    last_seen: float
    inflight: set[int] = field(default_factory=set)
    """RenderTask ids sent and not answered, including abandoned ones (timed out, or of a job that
    ended): a worker still busy with one gets nothing new until it answers."""
    setups: dict[str, str] = field(default_factory=dict)
    """job id -> which setup ('target' or 'samples') this worker holds for it."""
    images_rendered: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    """job id -> renders of that job this worker failed (quarantined at the roster's limit)."""
    last_error: dict[str, str] = field(default_factory=dict)
    """job id -> what went wrong the last time this worker failed one of that job's renders."""
    scene_bytes: int = 0
    """Scene bytes sent to this worker (each scene once: it caches them by hash)."""

    @property
    def idle(self) -> bool:
        return not self.inflight

    def can_render(self, requires: dict[str, Any], scene: dict[str, Any] | None = None) -> bool:
        """Capabilities match; a worker that fetches scenes (``scene_fetch``) takes any job that carries
        its scene, whatever scene it has loaded."""
        if scene is not None and self.capabilities.get("scene_fetch") is True:
            requires = {k: v for k, v in requires.items() if k != "scene"}
        return all(self.capabilities.get(k) == v for k, v in requires.items())


@dataclass
class RenderTask:
    id: int
    job: Any  # server.jobs.Job
    batch: Any  # server.jobparts.RenderBatch
    indices: list[int]
    worker: bytes
    sent_at: float
    deadline: float


class WorkerRoster:
    def __init__(self, heartbeat_timeout_s: float, worker_failure_limit: int = 3, tries_per_worker: int = 2):
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.worker_failure_limit = worker_failure_limit
        self.tries_per_worker = tries_per_worker
        self.workers: dict[bytes, Worker] = {}
        self.tasks: dict[int, RenderTask] = {}
        # Tasks of a job that ended, which their worker was told to abort: id -> the task's deadline.
        # Until then the worker counts as about to be free (it stops within one render), not as stuck.
        self._ending: dict[int, float] = {}
        self._next_task_id = 1
        self._next_worker = 1
        # batch -> sample index -> worker -> failures; forgotten with the batch
        self._sample_failures: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    # --- membership ------------------------------------------------------------------------------
    def register(self, identity: bytes, capabilities: dict[str, Any], now: float) -> tuple[Worker, list[RenderTask]]:
        """Add a worker. A worker that registers again (it restarted or reconnected) loses its
        tasks: they are returned for re-queueing."""
        orphaned = self.remove(identity) if identity in self.workers else []
        # never the routing id: it would tell peers the ROUTER's id counter (see gateway.py)
        name = str(capabilities.get("name") or f"worker-{self._next_worker}")
        self._next_worker += 1
        worker = Worker(
            identity=identity,
            name=name,
            capabilities=dict(capabilities),
            max_batch=int(capabilities.get("max_batch", 1)),
            last_seen=now,
        )
        self.workers[identity] = worker
        return worker, orphaned

    def remove(self, identity: bytes) -> list[RenderTask]:
        """Forget a worker; return its outstanding tasks (to re-queue)."""
        worker = self.workers.pop(identity, None)
        if worker is None:
            return []
        for t in worker.inflight:
            self._ending.pop(t, None)
        return [self.tasks.pop(t) for t in sorted(worker.inflight) if t in self.tasks]

    def seen(self, identity: bytes, now: float) -> Worker | None:
        worker = self.workers.get(identity)
        if worker is not None:
            worker.last_seen = now
        return worker

    def expired(self, now: float) -> list[Worker]:
        return [w for w in self.workers.values() if now - w.last_seen > self.heartbeat_timeout_s]

    # --- tasks ---------------------------------------------------------------------------------------
    def add_task(self, job, batch, indices: list[int], worker: Worker, now: float, timeout_s: float) -> RenderTask:
        task = RenderTask(
            id=self._next_task_id,
            job=job,
            batch=batch,
            indices=list(indices),
            worker=worker.identity,
            sent_at=now,
            deadline=now + timeout_s,
        )
        self._next_task_id += 1
        self.tasks[task.id] = task
        worker.inflight.add(task.id)
        return task

    def answered(self, task_id: int, worker: Worker) -> RenderTask | None:
        """The task a worker's result/failure answers, or None when it is late, duplicate or not
        this worker's (then the answer is ignored)."""
        worker.inflight.discard(task_id)
        self._ending.pop(task_id, None)
        task = self.tasks.get(task_id)
        if task is None or task.worker != worker.identity:
            return None
        return self.tasks.pop(task_id)

    def overdue(self, now: float) -> list[RenderTask]:
        """Tasks past their deadline, removed (their worker stays busy until it answers)."""
        late = [t for t in self.tasks.values() if now > t.deadline]
        for t in late:
            del self.tasks[t.id]
        for task_id in [i for i, deadline in self._ending.items() if now > deadline]:
            del self._ending[task_id]  # its worker did not stop: from now on it counts as stuck
        return late

    def drop_job(self, job) -> dict[bytes, list[int]]:
        """Forget the tasks of a cancelled or finished job. Returns, per worker, the ids of those it is
        still rendering (to tell it to abort them; it stays busy until it answers)."""
        dropped: dict[bytes, list[int]] = {}
        for task in [t for t in self.tasks.values() if t.job is job]:
            del self.tasks[task.id]
            self._ending[task.id] = task.deadline
            dropped.setdefault(task.worker, []).append(task.id)
        for worker in self.workers.values():
            worker.failures.pop(job.id, None)
            worker.last_error.pop(job.id, None)
        return dropped

    # --- quarantine ------------------------------------------------------------------------------------
    def may_render(self, worker: Worker, job) -> bool:
        """Able to (capabilities) and allowed to (not quarantined for this job)."""
        return worker.can_render(job.config.requires, job.config.scene) and not self.quarantined(worker, job)

    def quarantined(self, worker: Worker, job) -> bool:
        return worker.failures.get(job.id, 0) >= self.worker_failure_limit

    def record_failure(self, task: RenderTask, worker: Worker, reason: str, max_workers: int) -> str | None:
        """Note that ``worker`` failed ``task`` (an error, unusable images, a timeout, or its death:
        then it is no longer in the roster). Returns why the task's job must fail, or None while some
        worker may still render every sample of it.

        A worker that fails a job's renders ``worker_failure_limit`` times gets no more of them; a
        sample fails its job once every connected worker able to render it failed it
        ``tries_per_worker`` times (or is quarantined), or once ``max_workers`` different workers
        failed it (workers that died on it count: a sample that crashes every renderer)."""
        name = worker.name
        worker.failures[task.job.id] = worker.failures.get(task.job.id, 0) + 1
        worker.last_error[task.job.id] = reason
        present = self.workers.get(worker.identity) is worker
        ledger = self._sample_failures.setdefault(task.batch, {})
        candidates = [w for w in self.workers.values() if self.may_render(w, task.job)]
        for index in task.indices:
            failed = ledger.setdefault(index, {})  # routing id -> (worker name, failures, last message)
            _, count, _ = failed.get(worker.identity, (name, 0, ""))
            failed[worker.identity] = (name, count + 1, reason)
            remaining = [w for w in candidates if failed.get(w.identity, (0, 0))[1] < self.tries_per_worker]
            if (present and not remaining) or len(failed) >= max_workers:
                texts = [f"{who} ({n}×): {text}" for who, n, text in failed.values()]
                texts += self._quarantined_texts(task.job, failed)
                who = "every worker able to render it" if not remaining else f"{len(failed)} different workers"
                return f"sample {index} of iteration {task.batch.iteration} failed on {who}: {'; '.join(texts)}"
        return None

    def _quarantined_texts(self, job, failed: dict[bytes, Any]) -> list[str]:
        """The workers that failed other samples of ``job`` so often that they get none of it."""
        return [
            f"{w.name} (no more of this job after {w.failures[job.id]} failed renders): {w.last_error.get(job.id, '')}"
            for w in self.workers.values()
            if w.identity not in failed
            and w.can_render(job.config.requires, job.config.scene)
            and self.quarantined(w, job)
        ]

    # --- scheduling ------------------------------------------------------------------------------------
    def healthy(self, worker: Worker) -> bool:
        """Not stuck on an abandoned task (one that timed out; a task of an ended job is being aborted)."""
        return all(t in self.tasks or t in self._ending for t in worker.inflight)

    def plan(self, jobs: list[Any], message_cap: Callable[[Any], int]) -> Iterator[tuple[Worker, Any, int]]:
        """(worker, job, chunk size) for every idle worker that has something to render.

        All samples of an iteration go out at once: the pending samples of a job are split evenly
        over the healthy workers able to render it (idle or about to be), capped by each worker's
        max_batch and by ``message_cap(job)`` (how many of its images fit in one result message).
        Jobs take turns (the caller rotates ``jobs``) so one job cannot starve another.
        """
        served: dict[int, int] = {}  # id(job) -> workers given a share of it in this round
        for worker in [w for w in self.workers.values() if w.idle]:
            for job in jobs:
                if not job.has_work() or not self.may_render(worker, job):
                    continue
                able = sum(1 for w in self.workers.values() if self.may_render(w, job) and self.healthy(w))
                sharers = max(1, able - served.get(id(job), 0))  # this worker and those still to come
                chunk = math.ceil(len(job.batch.unassigned) / sharers)
                served[id(job)] = served.get(id(job), 0) + 1
                yield worker, job, max(1, min(worker.max_batch, message_cap(job), chunk))
                break

    def summary(self) -> dict[str, Any]:
        return {
            "count": len(self.workers),
            "busy": sum(1 for w in self.workers.values() if not w.idle),
            "names": [w.name for w in self.workers.values()][:64],
            "tasks": len(self.tasks),
            "scene_bytes": sum(w.scene_bytes for w in self.workers.values()),  # sent to these workers
        }


def rotate(items: Iterable[Any], start: int) -> list[Any]:
    items = list(items)
    if not items:
        return items
    start %= len(items)
    return items[start:] + items[:start]

"""The serve loop's handling of client requests: submit, pause, resume, cancel, status (a mixin of
OptimizerServer, one thread). Every request names a job its client may act on (``access``); a
submit is checked, given a checkpoint and announced before the client hears it was accepted.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid

import numpy as np

from ..wire.errors import RequestRejectedError
from ..wire.protocol import Message
from ..wire.space import Space
from .jobparts import JobConfig
from .jobs import Job
from .replies import reportable
from .store import JobStore

log = logging.getLogger("zerograds.server")

_MAX_LISTENERS = 16  # clients following one job's progress


class ClientSide:
    def _on_submit(self, identity: bytes, owner: str | None, msg: Message) -> None:
        job_id = msg.job or f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        self.access.check_submit(self.jobs.values(), owner, msg.body, msg.arrays)
        self._make_room()
        store = JobStore(os.path.join(self.config.jobs_dir, job_id), self._writer, owner=owner)
        if job_id in self.jobs or store.exists():
            raise RequestRejectedError(
                f"a job called {job_id!r} exists already; choose another id or leave it out to get a fresh one",
                code="bad_request",
            )
        body = dict(msg.body)
        body["space"] = Space.from_dict(body["space"]).to_dict()  # validates every spec (ConfigError)
        config = JobConfig.from_dict(body)
        self._require_scene(config)
        if msg.arrays_named("start"):  # the start as a whole vector (big array blocks)
            config.start_vector = config.checked_vector(msg.array("start"), "start")
        if msg.arrays_named("target_values"):  # so are the target values
            config.target_vector = config.checked_vector(msg.array("target_values"), "target values")
        target = mask = None
        if config.target["kind"] == "image":
            target = np.array(msg.array("target"))  # copy: the frame is released after this call
        if msg.arrays_named("mask"):
            mask = np.array(msg.array("mask"))
        sends, ready = self._sends_per_sample(), self._ready_workers
        job = Job.create(job_id, config, store, self.device, self._emit, sends, target=target, mask=mask, ready=ready)
        try:
            self.access.check_batch(job.method.batch_size, config.method)
        except RequestRejectedError:
            shutil.rmtree(store.directory, ignore_errors=True)
            raise
        self.jobs[job_id] = job
        job.listeners.append(identity)
        job.start()
        job.save(wait=True)  # every accepted job has a checkpoint: a resume never starts one over silently
        if self.announce is not None:  # before the client hears of it: a supervisor must never lose it
            self.announce("job", job)
        reply = {"job": job_id, "job_dir": store.directory, "state": job.state}
        self._send(identity, "accepted", reply, job=job_id, re=msg.seq)
        log.info("job %s submitted: %s, %d parameters, budget %d", job_id, config.method, config.space.n, config.budget)

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

    def _on_pause(self, identity: bytes, owner: str | None, msg: Message) -> None:
        job = self.access.job(self.jobs, msg.job, msg.kind, owner)
        job.pause()
        self._reply_state(identity, msg, [job])

    def _on_resume(self, identity: bytes, owner: str | None, msg: Message) -> None:
        job = self.access.job(self.jobs, msg.job, msg.kind, owner)
        job.resume()
        self._reply_state(identity, msg, [job])

    def _on_cancel(self, identity: bytes, owner: str | None, msg: Message) -> None:
        job = self.access.job(self.jobs, msg.job, msg.kind, owner)
        self._follow(job, identity)  # the canceller gets the final `done`
        job.cancel()
        self._reply_state(identity, msg, [job])

    def _on_status(self, identity: bytes, owner: str | None, msg: Message) -> None:
        if msg.job is not None:
            jobs = [self.access.job(self.jobs, msg.job, msg.kind, owner)]
        else:
            jobs = self.access.mine(self.jobs.values(), owner)
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
        body = {"jobs": [reportable(j) for j in jobs], "workers": self.roster.summary()}
        self._send(identity, "job_state", body, job=msg.job, re=msg.seq)

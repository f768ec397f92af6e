"""One optimisation job: its method, target, the renders of the current step, history and files.

A job moves through these steps, each one a :class:`RenderBatch` the worker pool fills::

    [the target rendered twice with two noise seeds, when it is given as parameter values]
    ask -> samples rendered (any worker, any order) -> losses -> tell -> checkpoint -> ask ...
    the answer rendered (twice for an image target) -> the verdict -> done

The budget counts the method's renders; the target's and the verdict's come on top (two or three).

It stops before its budget is spent only when a sample already renders like the target within the
noise between the target's two renders (``wire.verdict``); every finished job carries a verdict.

The job knows nothing about sockets: it hands out sample indices (``take``), takes them back
when a worker fails (``give_back``), consumes images (``accept``) and reports through ``emit``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Sequence

import numpy as np

from ..evaluation import Evaluation, Loop, Pending
from ..methods import Capabilities, create_method
from ..methods.base import render_seeds
from ..wire.errors import ConfigError, ProtocolError, StateError, ZeroGradsError
from ..wire.imageloss import ImageLoss
from ..wire.protocol import check_job_id
from ..wire.verdict import Verdict, match_threshold
from .jobparts import JobConfig, RenderBatch
from .jobrecords import JobRecords
from .store import JobStore

log = logging.getLogger("zerograds.server.jobs")
# every job's loss is an image loss, so each render's residual image can always reach the method
IMAGE_LOSS = Capabilities(residuals=True)

Emit = Callable[..., None]  # emit(job, kind, body, arrays=()): a progress or done message for the job's followers
ReadyWorkers = Callable[["Job"], int]
"""How many workers are ready to render a job's samples now (the server's roster)."""
_HISTORY_KEYS = ("iteration", "evaluations", "loss", "loss_min", "best_loss", "sigma", "wall_s")


class Job(JobRecords):
    def __init__(
        self,
        job_id: str,
        config: JobConfig,
        store: JobStore,
        device,
        emit: Emit,
        max_attempts: int,
        ready: ReadyWorkers | None = None,
    ):
        self.id = job_id
        self.config = config
        self.space = config.space
        self.store = store
        self.device = device
        self._emit = emit
        self.max_attempts = max_attempts
        self.state = "running"
        self.message = ""
        self.listeners: list[bytes] = []
        self.loss: ImageLoss | None = None
        self.mask: np.ndarray | None = None
        self.batch: RenderBatch | None = None
        self.history: dict[str, list] = {k: [] for k in _HISTORY_KEYS + ("current",)}
        self.persist_ms = 0.0
        self._dirty = False
        self._next_save = 0.0  # monotonic time before which a changed state is not checkpointed again
        self._pending: Pending | None = None  # the loop's ask behind self.batch
        self.noise_floor: float | None = None  # the loss between two renders of the target
        self.verdict: Verdict | None = None
        self._ready = ready or (lambda job: 1)
        self.method = self._build_method()
        self.loop = Loop(self.method, self.space)

    # --- construction ----------------------------------------------------------------------------
    def _build_method(self):
        c = self.config
        method = create_method(
            c.method,
            self.space,
            budget=c.budget,
            seed=c.seed,
            x0=c.start_unit(),
            device=self.device,
            capabilities=dataclasses.replace(IMAGE_LOSS, parallel=self._ready(self)),
            **c.options,
        )
        if method.done:
            raise ConfigError(
                f"budget {c.budget} is too small for even one iteration of {c.method!r} "
                f"({method.batch_size} renders); raise the budget"
            )
        return method

    @classmethod
    def create(cls, job_id, config, store, device, emit, max_attempts, target=None, mask=None, ready=None) -> Job:
        """A new job; raises ConfigError/ProtocolError before anything is written."""
        job = cls(job_id, config, store, device, emit, max_attempts, ready)
        job.mask = mask
        if config.target["kind"] == "values":
            config.target_values()  # validate the names now, not when the target render comes back
        else:
            job.loss = ImageLoss(target, mask)
        store.save_job(config.to_dict(), target, mask)
        return job

    @classmethod
    def load(cls, store: JobStore, device, emit, max_attempts, ready=None) -> Job:
        """A job from its directory, at its last checkpoint."""
        saved = store.load_job()
        try:
            config = JobConfig.from_dict(saved["config"])
            job_id = check_job_id(os.path.basename(store.directory.rstrip(os.sep)), "the job directory's name")
        except (KeyError, TypeError, ProtocolError) as exc:
            raise StateError(f"{store.job_path} does not describe a job: {exc}") from exc
        job = cls(job_id, config, store, device, emit, max_attempts, ready)
        job.mask = saved.get("mask")
        if saved.get("target") is not None:
            job.loss = ImageLoss(saved["target"], job.mask)
        checkpoint = store.load_checkpoint(torch_device=device)
        if checkpoint is not None:
            try:
                job.method.load_state_dict(checkpoint["method"])
            except (KeyError, TypeError) as exc:
                raise StateError(f"{store.state_path} does not hold a method state: {exc}") from exc
            job.history = {k: list(np.asarray(v).tolist()) for k, v in checkpoint["history"].items()}
            job.state = checkpoint["state"]
            job.message = checkpoint.get("message", "")
            floor, verdict = checkpoint.get("noise_floor"), checkpoint.get("verdict")
            job.noise_floor = None if floor is None else float(floor)
            job.verdict = None if verdict is None else Verdict.from_dict(verdict)
        if job.state == "failed":  # resuming is the retry: start again from the last good state
            job.state, job.message = "running", ""
        return job

    # --- life cycle --------------------------------------------------------------------------------
    def start(self) -> None:
        """Begin (or continue after loading) by queueing the next renders."""
        if self.state in ("finished", "cancelled"):
            self._emit(self, "done", self.result(), self.vector_frames("done"))
        elif self.loss is None:
            if self.state != "paused":
                self.state = "waiting_for_target"
            t = self.config.target
            settings = dict(self.config.settings, **t.get("settings", {}))
            seed = t.get("seed", self.config.seed)  # the second render is only for the noise floor
            self.batch = RenderBatch(
                "target",
                -1,
                np.repeat(self.config.target_values(), 2, axis=0),
                np.array([seed, (seed + 1) & 0x7FFFFFFF]),
                settings,
            )
        elif self.state in ("running", "waiting_for_target"):  # the latter: stopped right after the target render
            self.state = "running"
            self._next_step()

    def pause(self) -> None:
        """No new iteration starts; the renders of the current one still complete."""
        if self.state in ("running", "waiting_for_target"):
            self.state = "paused"
            self._dirty = True

    def resume(self) -> None:
        if self.state != "paused":
            return
        self.state = "running"
        self._dirty = True
        if self.loss is None:
            if self.batch is None:
                self.start()
            else:
                self.state = "waiting_for_target"
        elif self.batch is None:
            self._next_step()

    def cancel(self) -> None:
        if self.final:
            return
        self.state, self.message = "cancelled", "cancelled by a client"
        self.batch = None
        self._finish()

    @property
    def final(self) -> bool:
        return self.state in ("finished", "cancelled", "failed")

    # --- renders ---------------------------------------------------------------------------------
    def has_work(self) -> bool:
        return self.batch is not None and bool(self.batch.unassigned) and not self.final

    def take(self, count: int) -> list[int]:
        """Up to ``count`` sample indices nobody is rendering."""
        b = self.batch
        out = [b.unassigned.popleft() for _ in range(min(count, len(b.unassigned)))]
        b.attempts[out] += 1
        return out

    def give_back(self, batch: RenderBatch, indices: Sequence[int], reason: str) -> None:
        """Renders that will not come back (worker died, hung, failed): queue them again."""
        if batch is not self.batch or self.final:
            return
        exhausted = [i for i in indices if batch.attempts[i] >= self.max_attempts]
        if exhausted:
            i = exhausted[0]
            self.fail(
                f"sample {i} of iteration {batch.iteration} (values {batch.values[i].tolist()}) was sent "
                f"to workers {batch.attempts[i]} times without a usable result; last problem: {reason}"
            )
            return
        batch.unassigned.extendleft(sorted(indices, reverse=True))  # retried first, in order

    def check_images(self, images: Sequence[np.ndarray], count: int) -> str | None:
        """Why a result cannot be used, or None."""
        if len(images) != count:
            return f"the result holds {len(images)} images for a batch of {count}"
        expected = self.loss.shape if self.loss is not None else None
        for img in images:
            if expected is not None and tuple(img.shape) != expected:
                return (
                    f"the worker rendered images of shape {tuple(img.shape)} but the target is {expected}; "
                    "render at the target's resolution and channel count"
                )
        return None

    def accept(
        self,
        batch: RenderBatch,
        indices: Sequence[int],
        images: Sequence[np.ndarray],
        render_s: float,
        wire_s: float = 0.0,
    ) -> None:
        """Use rendered images (checked with ``check_images``) of the samples ``indices``."""
        if batch is not self.batch or self.final:
            return  # a late result of a step that is over
        batch.render_s += render_s
        batch.wire_s += wire_s
        batch.messages += 1
        if batch.purpose in ("target", "final"):
            for i, image in zip(indices, images):
                batch.images[i] = np.array(image)  # own the pixels: the received frame is released later
                batch.received[i] = True
            if batch.complete:
                (self._accept_target if batch.purpose == "target" else self._judge)(batch.images)
            return
        t0 = time.perf_counter()
        losses = self.loss(images)
        batch.loss_s += time.perf_counter() - t0
        finite = np.isfinite(losses)
        indices = np.asarray(indices)
        if not finite.all():
            bad = indices[~finite].tolist()
            self.give_back(batch, bad, f"non-finite pixels (NaN/inf) in the render of sample(s) {bad}")
            if self.final:
                return
        batch.losses[indices[finite]] = losses[finite]
        if self.method.wants_residuals and finite.any():
            t0 = time.perf_counter()
            residuals = self.loss.residuals([image for image, ok in zip(images, finite) if ok])
            if batch.residuals is None:
                batch.residuals = np.zeros((len(batch), residuals.shape[1]), dtype=np.float64)
            batch.residuals[indices[finite]] = residuals
            batch.loss_s += time.perf_counter() - t0
        batch.received[indices[finite]] = True
        if batch.complete:
            self._finish_iteration()

    def _accept_target(self, images: list[np.ndarray]) -> None:
        image = images[0]
        try:
            self.loss = ImageLoss(image, self.mask)
        except ConfigError as exc:  # deterministic (bad mask, NaN target): retrying cannot help
            self.fail(f"the rendered target is unusable: {exc}")
            return
        self.noise_floor = self.loss.loss(images[1])
        self.store.save_job(self.config.to_dict(), image, self.mask)
        self.batch = None
        if self.state == "waiting_for_target":
            self.state = "running"
            self._next_step()

    def _next_step(self) -> None:
        """The next iteration, or the verdict's renders when the budget is spent or a sample matched."""
        matched = self.noise_floor is not None and self.method.best_loss <= match_threshold(self.noise_floor)
        if not (self.method.done or matched):
            self._ask_next()
            return
        answer = self.space.from_unit(self.method.best_x if matched else self.method.current)[None]
        seed = render_seeds(self.config.seed, self.method.iteration + 1, 1, True)[0]
        count = 1 if self.noise_floor is not None else 2
        seeds = np.array([seed, (seed + 1) & 0x7FFFFFFF][:count])
        self.batch = RenderBatch(
            "final", self.method.iteration, np.repeat(answer, count, axis=0), seeds, self.config.settings
        )
        self._dirty = True

    def _judge(self, images: list[np.ndarray]) -> None:
        """The answer's renders are in: the verdict, then done."""
        if self.noise_floor is None:  # an image target: the noise between two renders of the answer
            self.noise_floor = ImageLoss(images[0], self.mask).loss(images[1])
        self.verdict = Verdict.judge(self.loss.loss(images[0]), self.noise_floor, self.method.best_loss)
        self.state, self.message = "finished", self.verdict.text()
        self.batch = None
        self._finish()

    # --- iterations ------------------------------------------------------------------------------
    def _ask_next(self) -> None:
        # the ready workers, so that a method that can use more samples keeps them all busy
        self.method.set_parallel(self._ready(self))
        pending = self._pending = self.loop.ask()
        self.batch = RenderBatch(
            "samples", pending.batch.iteration, pending.values, pending.seeds, self.config.settings
        )
        self._dirty = True  # the checkpoint holds the pending batch, so a resume re-renders exactly it

    def _finish_iteration(self) -> None:
        batch = self.batch
        try:
            step = self.loop.tell(self._pending, Evaluation(batch.losses, batch.residuals), batch.render_s)
        except ZeroGradsError as exc:  # the method refused; its state is unchanged
            self.fail(f"the method rejected the losses of iteration {batch.iteration}: {exc}")
            return
        self._record(batch, step)
        self.batch = None
        if self.state == "running":
            self._next_step()
        else:
            self._dirty = True  # paused: keep the told state

    def fail(self, message: str) -> None:
        log.error("job %s failed: %s", self.id, message)
        self.state, self.message = "failed", message
        self.batch = None
        self._finish()

    def _finish(self) -> None:
        self.save(wait=True)  # on disk before anyone hears `done`
        self._emit(self, "done", self.result(), self.vector_frames("done"))

"""What a job reports and keeps: its per-iteration record and progress message, its result and
summary, and its checkpoints (``Job`` inherits these; they read its state and change nothing else)."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..evaluation import Step
from .jobparts import RenderBatch

_MAX_HISTORY_DIMS = 256  # keep per-iteration parameter values only for small problems
# after a checkpoint that took t seconds to serialise, the next one waits at least this many t
_CHECKPOINT_SPACING = 9.0


class JobRecords:
    """Reporting and checkpoints of a ``Job``."""

    def _record(self, batch: RenderBatch, step: Step) -> None:
        wall_s = time.perf_counter() - batch.started
        entry = {
            "iteration": step.iteration,
            "evaluations": step.evaluations,
            "loss": step.loss,
            "loss_min": step.loss_min,
            "best_loss": step.best_loss,
            "sigma": float("nan") if step.sigma is None else step.sigma,
            "wall_s": wall_s,
        }
        for key, value in entry.items():
            self.history[key].append(value)
        if self.space.n <= _MAX_HISTORY_DIMS:
            self.history["current"].append(self.space.from_unit(step.current).tolist())
        result = self.result()
        self._emit(
            self,
            "progress",
            {
                "state": self.state,
                "iteration": step.iteration,
                "evaluations": step.evaluations,
                "budget": self.config.budget,
                "loss": entry["loss"],
                "loss_min": entry["loss_min"],
                "best_loss": entry["best_loss"],
                "current": result["current"],
                "best": result["best"] or {},
                "sigma": step.sigma,
                "timings": {
                    "iteration_s": wall_s,
                    "render_s": batch.render_s,
                    "loss_ms": 1e3 * batch.loss_s,
                    "optimizer_ms": 1e3 * step.optimizer_s,
                    "wire_ms": 1e3 * batch.wire_s / max(1, batch.messages),
                    "persist_ms": self.persist_ms,
                },  # of the previous checkpoint
            },
        )

    def result(self) -> dict[str, Any]:
        """The body of `done` (also the core of `progress` and of the job summaries)."""
        m = self.method
        return {
            "state": self.state,
            "iteration": m.iteration,
            "evaluations": m.evaluations,
            "best_loss": m.best_loss if math.isfinite(m.best_loss) else None,
            "best": None if m.best_x is None else self.space.named(self.space.from_unit(m.best_x)),
            "current": self.space.named(self.space.from_unit(m.current)),
            "message": self.message,
            "job_dir": self.store.directory,
            "noise_floor": self.noise_floor,
            "verdict": None if self.verdict is None else self.verdict.to_dict(),
        }

    def summary(self) -> dict[str, Any]:
        s = self.result()
        s.update(
            job=self.id,
            name=self.config.name,
            method=self.config.method,
            budget=self.config.budget,
            rendering=0 if self.batch is None else int(len(self.batch) - self.batch.received.sum()),
        )
        return s

    def save_if_changed(self, force: bool = False) -> None:
        """Checkpoint a changed state, at most as often as keeps checkpointing under a tenth of the
        serve loop's time: a big model (gauss_newton on a texture keeps ~1 GB of probe images) is not
        serialised after every iteration. A crash then resumes a few iterations back, consistently:
        each checkpoint holds its own pending batch. `force`: now (on shutdown)."""
        if self._dirty and (force or time.monotonic() >= self._next_save):
            self.save()

    def save(self, wait: bool = False) -> None:
        t0 = time.perf_counter()
        self._dirty = False  # before writing: a failing save is retried at the next change, not in a loop
        history = {k: np.asarray(v, dtype=np.float64) for k, v in self.history.items()}
        self.store.save_checkpoint(
            {
                "state": self.state,
                "message": self.message,
                "method": self.method.state_dict(),
                "history": history,
                "noise_floor": self.noise_floor,
                "verdict": None if self.verdict is None else self.verdict.to_dict(),
            },
            wait=wait,
        )
        self.persist_ms = 1e3 * (time.perf_counter() - t0)
        self._next_save = time.monotonic() + _CHECKPOINT_SPACING * self.persist_ms / 1e3

"""The one ask → evaluate → tell loop, for every caller of a method.

``minimize`` (Python objectives), the server's jobs (renders that come back from workers piecemeal),
the efficiency benchmark (analytic problems) and the scene harness (in-process Cycles renders) differ
only in how a batch is evaluated. They share this loop's bookkeeping: the points in parameter units
(``Space.from_unit``: clipped, discrete kinds rounded), the hand-over of losses and residual images,
the per-iteration record and its timings.

Synchronous callers give an *evaluator* and call :meth:`Loop.run`::

    loop = Loop(method, space)
    steps = loop.run(evaluate)          # evaluate(values, seeds, residuals) -> Evaluation

A caller whose evaluations arrive later (the server) uses the two halves itself: ``pending =
loop.ask()`` ... ``step = loop.tell(pending, Evaluation(losses, residuals))``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the loop needs no torch: analytic problems and workers import this module
    from .methods.base import Batch, Method
    from .wire.space import Space


@dataclass(frozen=True)
class Evaluation:
    """What evaluating one batch gives back."""

    losses: np.ndarray
    """(B,) float losses, one per point."""
    residuals: np.ndarray | None = None
    """(B, P) residual vectors whose squares sum to the losses (an image loss's weighted pixel
    differences); needed when the method ``wants_residuals``, ignored otherwise."""


Evaluator = Callable[[np.ndarray, np.ndarray, bool], Evaluation]
"""``evaluate(values, seeds, residuals)``: (B, n) points in parameter units, their (B,) render seeds,
and whether residual vectors are wanted → :class:`Evaluation`."""


@dataclass(frozen=True)
class Pending:
    """A batch asked for and not told yet."""

    batch: Batch
    values: np.ndarray
    """(B, n) the batch in parameter units, as the objective or renderer gets it."""
    ask_s: float

    @property
    def seeds(self) -> np.ndarray:
        return self.batch.seeds


@dataclass(frozen=True)
class Step:
    """The record of one told iteration."""

    iteration: int
    """Iterations completed (the method's count after the tell)."""
    evaluations: int
    loss: float
    """Mean loss of the batch."""
    loss_min: float
    best_loss: float
    """Best single sample so far."""
    sigma: float | None
    current: np.ndarray
    """The method's estimate after the tell, unit cube."""
    optimizer_s: float
    """Time inside ask and tell."""
    evaluate_s: float
    seeds: np.ndarray
    """The batch's render seeds."""


class Loop:
    """ask → evaluate → tell for one method over one space (see the module docstring)."""

    def __init__(self, method: Method, space: Space):
        self.method = method
        self.space = space

    @property
    def done(self) -> bool:
        return self.method.done

    def ask(self) -> Pending:
        t0 = time.perf_counter()
        batch = self.method.ask()
        values = self.space.from_unit(batch.x)
        return Pending(batch, values, time.perf_counter() - t0)

    def tell(self, pending: Pending, evaluation: Evaluation, evaluate_s: float = 0.0) -> Step:
        """Tell the method; raises the method's TellError (its state untouched) on bad losses."""
        t0 = time.perf_counter()
        m = self.method
        m.tell(pending.batch, evaluation.losses, evaluation.residuals if m.wants_residuals else None)
        tell_s = time.perf_counter() - t0
        losses = np.asarray(evaluation.losses, dtype=np.float64)
        return Step(
            iteration=m.iteration,
            evaluations=m.evaluations,
            loss=float(losses.mean()),
            loss_min=float(losses.min()),
            best_loss=float(m.best_loss),
            sigma=None if m.sigma is None else float(m.sigma),
            current=m.current,
            optimizer_s=pending.ask_s + tell_s,
            evaluate_s=evaluate_s,
            seeds=pending.seeds,
        )

    def run(self, evaluate: Evaluator, on_step: Callable[[Step], bool | None] | None = None) -> list[Step]:
        """Iterate until the method is done, or ``on_step(step)`` returns True."""
        steps = []
        while not self.method.done:
            pending = self.ask()
            t0 = time.perf_counter()
            evaluation = evaluate(pending.values, pending.seeds, self.method.wants_residuals)
            step = self.tell(pending, evaluation, time.perf_counter() - t0)
            steps.append(step)
            if on_step is not None and on_step(step) is True:
                break
        return steps

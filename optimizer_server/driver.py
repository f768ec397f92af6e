"""``minimize``: run any registered method on a Python objective in parameter units."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .methods import create_method
from .wire.errors import ConfigError, TellError
from .wire.space import Space


@dataclass
class Result:
    """The outcome of :func:`minimize`. Values are in parameter units (discrete kinds rounded)."""

    x: np.ndarray
    """The method's final estimate."""
    loss: float
    """``f(x)``, evaluated once at the end (counted in ``evaluations``)."""
    evaluations: int
    history: list[dict[str, Any]]
    """Per iteration: iteration, evaluations, loss (mean of the batch), best_loss, x, sigma,
    f_seconds (inside ``f``), optimizer_seconds (inside ask + tell)."""
    best_x: np.ndarray | None = None
    """The best point among all evaluated samples (not necessarily ``x``)."""
    best_loss: float = float("inf")
    x_named: dict[str, Any] = field(default_factory=dict)
    method: str = ""
    seed: int = 0


def minimize(
    f: Callable,
    space: Space,
    method: str = "auto",
    budget: int = 1000,
    seed: int = 0,
    x0=None,
    callback: Callable[[dict[str, Any]], Any] | None = None,
    device=None,
    **options,
) -> Result:
    """Minimise ``f`` over ``space`` with ``method`` using at most ``budget`` evaluations of ``f``.

    ``f`` maps a ``(B, n)`` array in parameter units (discrete kinds rounded, values clipped to the
    bounds) to ``B`` losses, or to ``(B, P)`` residual vectors (e.g. image - target per pixel) whose
    squares sum to the losses: methods that use them (``gauss_newton``; ``auto`` given
    ``residuals=True``) need that form. If ``f`` takes a ``seeds`` keyword it also gets the
    per-sample render seeds. ``x0`` is the start in parameter units (default: the centre of the box). One evaluation
    of the budget is kept to score the final point. ``callback(info)`` runs after every iteration
    with that iteration's history entry; returning True stops the run.
    """
    if not isinstance(space, Space):
        raise ConfigError(f"space must be an optimizer_server.Space, got {type(space).__name__}")
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 2:
        raise ConfigError(f"budget must be an integer >= 2 (evaluations of f), got {budget!r}")
    x0_unit = None if x0 is None else space.to_unit(np.asarray(x0, dtype=np.float64))
    opt = create_method(
        method,
        n=space.n,
        budget=int(budget) - 1,
        seed=seed,
        x0=x0_unit,
        device=device,
        resolution=space.resolution,
        **options,
    )
    wants_seeds = "seeds" in inspect.signature(f).parameters

    def evaluate(x_unit: np.ndarray, seeds: np.ndarray):
        """(losses, residuals or None) of the points."""
        values = space.from_unit(x_unit)
        out = np.asarray(f(values, seeds=seeds) if wants_seeds else f(values), dtype=np.float64)
        if out.ndim == 2 and out.shape[0] == len(values) and out.shape[1] > 1:
            return (out * out).sum(axis=1), out
        losses = out.reshape(-1)
        if losses.shape != (len(values),):
            raise TellError(
                f"f returned an array of shape {out.shape} for a batch of {len(values)} points; "
                "it must return one loss per row, or one residual vector per row"
            )
        if opt.wants_residuals:
            raise TellError(
                f"method {method!r} needs residual vectors: f must return a ({len(values)}, P) "
                "array (e.g. image - target per pixel), not one loss per point"
            )
        return losses, None

    history: list[dict[str, Any]] = []
    while not opt.done:
        t0 = time.perf_counter()
        batch = opt.ask()
        t1 = time.perf_counter()
        losses, residuals = evaluate(batch.x, batch.seeds)
        t2 = time.perf_counter()
        opt.tell(batch, losses, residuals)
        t3 = time.perf_counter()
        entry = {
            "iteration": batch.iteration,
            "evaluations": opt.evaluations,
            "loss": float(losses.mean()),
            "best_loss": opt.best_loss,
            "x": space.from_unit(opt.current).tolist(),
            "sigma": opt.sigma,
            "f_seconds": t2 - t1,
            "optimizer_seconds": (t1 - t0) + (t3 - t2),
        }
        history.append(entry)
        if callback is not None and callback(entry) is True:
            break
    x_unit = opt.current
    final_seed = np.array([batch.seeds[0] if history else seed], dtype=np.int64)
    final_loss = float(evaluate(x_unit[None], final_seed)[0][0])
    x = space.from_unit(x_unit)
    return Result(
        x=x,
        loss=final_loss,
        evaluations=opt.evaluations + 1,
        history=history,
        best_x=None if opt.best_x is None else space.from_unit(opt.best_x),
        best_loss=opt.best_loss,
        x_named=space.named(x),
        method=method,
        seed=seed,
    )

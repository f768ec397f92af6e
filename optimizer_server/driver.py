"""``minimize``: run any registered method on a Python objective in parameter units."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .evaluation import Evaluation, Loop, Step
from .methods import Capabilities, create_method
from .wire.errors import ConfigError, TellError
from .wire.space import Space
from .wire.verdict import Verdict, match_threshold


@dataclass
class Result:
    """The outcome of :func:`minimize`. Values are in parameter units (discrete kinds rounded)."""

    x: np.ndarray
    """The answer: the method's final estimate, or the sample that matched the target."""
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
    verdict: Verdict | None = None
    """Whether the run found the target: ``loss`` (or the best sample) within the noise floor."""


def minimize(
    f: Callable,
    space: Space,
    method: str = "auto",
    budget: int = 1000,
    seed: int = 0,
    x0=None,
    callback: Callable[[dict[str, Any]], Any] | None = None,
    device=None,
    residuals: bool = False,
    noise_floor: float = 0.0,
    **options,
) -> Result:  # (over 60 lines for its docstring: the contract of f)
    """Minimise ``f`` over ``space`` with ``method`` (a method or configuration name, e.g.
    ``"zerograds:efficient"``) using at most ``budget`` evaluations of ``f``.

    ``f`` maps a ``(B, n)`` array in parameter units (discrete kinds rounded, values clipped to the
    bounds) to ``B`` losses, or, with ``residuals=True``, to ``(B, P)`` residual vectors (e.g. image -
    target per pixel) whose squares sum to the losses: methods that use them (``gauss_newton``, and
    ``auto`` above 100 continuous parameters) need that form. If ``f`` takes a ``seeds`` keyword it
    also gets the per-sample render seeds. ``x0`` is the start in parameter units (default: the centre
    of the box). One evaluation of the budget is kept to score the final point. ``callback(info)`` runs
    after every iteration with that iteration's history entry; returning True stops the run.

    ``noise_floor`` is the loss a perfect answer shows (for a rendered image: the loss between two
    renders of the target with different seeds; 0 for a noise-free objective). The run stops early
    only when a sample's loss is within it (``wire.verdict``), and ``Result.verdict`` says whether
    the target was found.
    """
    _check_call(space, budget)
    x0_unit = None if x0 is None else space.to_unit(np.asarray(x0, dtype=np.float64))
    capabilities = Capabilities(residuals=bool(residuals))
    opt = create_method(
        method,
        space,
        budget=int(budget) - 1,
        seed=seed,
        x0=x0_unit,
        device=device,
        capabilities=capabilities,
        **options,
    )
    evaluate = _objective(f, residuals)
    history: list[dict[str, Any]] = []
    matched = match_threshold(noise_floor)
    record = _recorder(space, history, callback)
    steps = Loop(opt, space).run(evaluate, lambda step: record(step) or step.best_loss <= matched)
    # the answer: the sample that matched, else the method's estimate
    x_unit = opt.best_x if opt.best_loss <= matched else opt.current
    final_seed = np.array([steps[-1].seeds[0] if steps else seed], dtype=np.int64)
    x = space.from_unit(x_unit)
    final_loss = float(evaluate(x[None], final_seed, False).losses[0])
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
        verdict=Verdict.judge(final_loss, noise_floor, opt.best_loss),
    )


def _check_call(space, budget) -> None:
    if not isinstance(space, Space):
        raise ConfigError(f"space must be an optimizer_server.Space, got {type(space).__name__}")
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 2:
        raise ConfigError(f"budget must be an integer >= 2 (evaluations of f), got {budget!r}")


def _recorder(space: Space, history: list, callback) -> Callable[[Step], bool]:
    """The loop's per-step hook: append the history entry, run the user's callback (True stops)."""

    def record(step: Step) -> bool:
        entry = {
            "iteration": step.iteration - 1,
            "evaluations": step.evaluations,
            "loss": step.loss,
            "best_loss": step.best_loss,
            "x": space.from_unit(step.current).tolist(),
            "sigma": step.sigma,
            "f_seconds": step.evaluate_s,
            "optimizer_seconds": step.optimizer_s,
        }
        history.append(entry)
        return callback is not None and callback(entry) is True

    return record


def _objective(f: Callable, residuals: bool):
    """``f`` as an evaluator of the one loop: losses, or residual vectors and their squared sums."""
    wants_seeds = "seeds" in inspect.signature(f).parameters

    def evaluate(values: np.ndarray, seeds: np.ndarray, want_residuals: bool) -> Evaluation:
        out = np.asarray(f(values, seeds=seeds) if wants_seeds else f(values), dtype=np.float64)
        if out.ndim == 2 and out.shape[0] == len(values) and (out.shape[1] > 1 or residuals):
            return Evaluation((out * out).sum(axis=1), out)  # residual vectors: the loss is their squared sum
        if residuals:
            raise TellError(
                f"f returned an array of shape {out.shape} for a batch of {len(values)} points; with "
                "residuals=True it must return one residual vector per row, shape (B, P)"
            )
        losses = out.reshape(-1)
        if losses.shape != (len(values),):
            raise TellError(
                f"f returned an array of shape {out.shape} for a batch of {len(values)} points; it must return "
                "one loss per row (or pass residuals=True and return one residual vector per row)"
            )
        return Evaluation(losses)

    return evaluate

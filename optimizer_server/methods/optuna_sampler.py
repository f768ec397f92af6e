"""Optuna as a method (optional extra): the general tool many users already have for black-box
search, here as a peer the benchmarks run beside ``auto`` on the same budget.

Its default is the multivariate TPE sampler (a Parzen-estimator model of good versus bad samples);
``sampler="gp"`` uses Optuna's Gaussian-process sampler (it needs torch, which the server has). Every
parameter is one float in the unit cube; the Space rounds discrete kinds when values are applied.
A batch of ``batch_size`` trials is asked before any is told, with TPE's constant liar so the batch
spreads out (renders of one iteration run in parallel). The state is the replayable history of told
batches (``blackbox.ReplayMethod``): Optuna's samplers are deterministic given their seed.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..wire.errors import ConfigError
from .base import CommonOptions
from .blackbox import ReplayMethod
from .registry import register

SAMPLERS = ("tpe", "gp")


@dataclass
class OptunaOptions(CommonOptions):
    sampler: str = "tpe"
    """tpe: multivariate TPE (Optuna's Parzen-estimator sampler, constant liar for batches) | gp: Optuna's
    Gaussian-process sampler (cubic cost in the number of trials: for a few hundred renders)."""
    batch_size: int = 4
    """Trials asked per iteration (renders that run in parallel)."""
    startup_trials: int = 10
    """Random trials before the sampler's model takes over (Optuna's n_startup_trials)."""
    max_dimension: int = 200
    """Refuse larger problems: TPE models every parameter's density from all trials."""

    GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {
        "sampling": ("sampler", "batch_size", "startup_trials", "max_dimension")
    }
    BASIC: ClassVar[tuple[str, ...]] = ("sampler", "batch_size")

    def validate(self, name: str) -> None:
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"{name}: sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        if self.batch_size < 1 or self.startup_trials < 1:
            raise ConfigError(f"{name}: need batch_size >= 1 and startup_trials >= 1")


@register
class OptunaMethod(ReplayMethod):
    name = "optuna"
    description = "Optuna's multivariate TPE (or its GP sampler): the general black-box tool, as a peer; optional extra"
    Options = OptunaOptions
    presets = {"gp": {"sampler": "gp", "batch_size": 1}}
    preset_notes = {"gp": "Optuna's Gaussian-process sampler, one trial at a time"}

    def _build(self) -> None:
        try:
            import optuna
        except ImportError as exc:
            raise ConfigError(
                "method 'optuna' needs the optional package: pip install 'zerograds[baselines]' (or pip install optuna)"
            ) from exc
        o = self.options
        if self.n > o.max_dimension:
            raise ConfigError(f"optuna: n={self.n} exceeds max_dimension={o.max_dimension}; use auto or zerograds")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        logging.getLogger("optuna").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental-feature warnings (multivariate, constant_liar)
            if o.sampler == "tpe":
                sampler = optuna.samplers.TPESampler(
                    seed=self.seed, multivariate=True, constant_liar=o.batch_size > 1, n_startup_trials=o.startup_trials
                )
            else:
                sampler = optuna.samplers.GPSampler(seed=self.seed, n_startup_trials=o.startup_trials)
            self.study = optuna.create_study(sampler=sampler, direction="minimize")
        self.distributions = {f"x{i}": optuna.distributions.FloatDistribution(0.0, 1.0) for i in range(self.n)}
        x0 = {f"x{i}": float(v) for i, v in enumerate(self.x0)}
        self.study.enqueue_trial(x0)  # the user's start is the first trial, as for the other methods
        self._asked = None

    def _batch_size(self) -> int:
        return self.options.batch_size

    @property
    def current(self) -> np.ndarray:
        """The best trial so far (TPE has no other estimate), the start before any is told."""
        done = [t for t in self.study.trials if t.value is not None]
        if not done:
            return self.x0.copy()
        best = min(done, key=lambda t: t.value)
        return np.array([best.params[f"x{i}"] for i in range(self.n)])

    def _ask(self) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._asked = [self.study.ask(self.distributions) for _ in range(self.options.batch_size)]
        return np.array([[t.params[f"x{i}"] for i in range(self.n)] for t in self._asked], dtype=np.float64)

    def _tell_library(self, losses: np.ndarray) -> None:
        for trial, loss in zip(self._asked, losses):
            self.study.tell(trial, float(loss))
        self._asked = None

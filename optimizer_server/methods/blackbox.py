"""General black-box optimisers through the same ask/tell shape: CMA-ES (the `cma` package) and
Nevergrad (optional extra).

Their internal states are large object graphs that their libraries would pickle. We never pickle,
so ``state_dict`` records every told batch instead, and ``load_state_dict`` replays them into a
fresh optimiser built with the same seed. Both libraries are deterministic given their random
source, so the replay reproduces the state exactly (a test checks it) at a cost of one tell per
recorded iteration — negligible next to a render.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..wire.errors import ConfigError, MethodFailedError, StateError
from .base import CommonOptions, Method
from .registry import register
from .rounds import rounds_batch


class ReplayMethod(Method):
    """Base for wrapped libraries: records told batches and rebuilds by replay."""

    def _setup(self) -> None:
        self._told: list[dict[str, np.ndarray]] = []
        self._build()

    def _build(self) -> None:
        raise NotImplementedError

    def _tell(self, x: np.ndarray, losses: np.ndarray) -> None:
        self._tell_library(losses)
        self._told.append({"x": np.array(x), "losses": np.array(losses)})

    def _state_dict(self) -> dict[str, Any]:
        return {"told": [dict(t) for t in self._told]}

    def _load_state_dict(self, s: dict[str, Any]) -> None:
        self._build()
        self._told = []
        for record in s["told"]:
            self._replay_ask(record["x"])
            self._tell(record["x"], np.asarray(record["losses"], dtype=np.float64))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if self._pending is not None:  # the library must have the pending batch asked, too
            self._replay_ask(self._pending.x)

    def _replay_ask(self, expected: np.ndarray) -> None:
        if not np.array_equal(self._ask(), expected):
            raise StateError(
                f"{self.name}: replaying the saved history gave different points; the "
                "state was saved by a different library version or seed"
            )


@dataclass
class CMAESOptions(CommonOptions):
    sigma0: float = 0.25
    """Initial step size in unit-cube units."""
    popsize: int | None = None
    """Samples per iteration; default cma's 4 + 3 ln n."""
    max_dimension: int = 5000
    """Refuse larger problems: CMA-ES keeps an n×n covariance (memory n², time n³ per update)."""

    GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {"sampling": ("sigma0", "popsize", "max_dimension")}
    BASIC: ClassVar[tuple[str, ...]] = ("sigma0", "popsize")

    def validate(self, name: str) -> None:
        if not self.sigma0 > 0:
            raise ConfigError(f"{name}: sigma0 must be positive")
        if self.popsize is not None and (not isinstance(self.popsize, int) or self.popsize < 2):
            raise ConfigError(f"{name}: popsize must be an integer >= 2")


@register
class CMAES(ReplayMethod):
    name = "cmaes"
    description = "CMA-ES (the `cma` package): covariance-matrix adaptation, strong in low dimension (n² memory)"
    Options = CMAESOptions

    def _build(self) -> None:
        if self.n > self.options.max_dimension:
            raise ConfigError(
                f"cmaes: n={self.n} exceeds max_dimension={self.options.max_dimension} "
                f"(an n×n covariance of {self.n**2 * 8 / 2**30:.1f} GiB); use zerograds or prdpt"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cma warns that matplotlib is missing
            import cma
        rng = np.random.Generator(np.random.PCG64(self.seed))
        opts = {
            "bounds": [0.0, 1.0],
            "seed": math.nan,  # nan: leave numpy's global RNG alone
            "randn": lambda lam, n: rng.standard_normal((lam, n)),
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
            "tolflatfitness": 10**9,  # plateaus are the point here: keep going, cma widens σ on flat fitness
            "maxfevals": self.budget,
        }
        if self.options.popsize is not None:
            opts["popsize"] = self.options.popsize
        elif self.parallel > 1:  # k workers: a population of whole rounds over them, at least cma's 4
            default = 4 + int(3 * math.log(max(2, self.n)))
            opts["popsize"] = max(rounds_batch(default, self.parallel), self.parallel * math.ceil(4 / self.parallel))
        # cma cannot run in 1-D (its bound handling needs n >= 2): pad with an inert coordinate
        x0 = self.x0.tolist() + [0.5] * max(0, 2 - self.n)
        self.es = cma.CMAEvolutionStrategy(x0, self.options.sigma0, opts)
        self._asked = None

    def _batch_size(self) -> int:
        return int(self.es.popsize)

    def set_parallel(self, count: int) -> None:
        """CMA-ES's population is fixed when it is made (``Capabilities.parallel``); later counts are ignored."""

    @property
    def current(self) -> np.ndarray:
        return np.clip(np.asarray(self.es.result.xfavorite, dtype=np.float64)[: self.n], 0.0, 1.0)

    @property
    def sigma(self) -> float:
        return float(self.es.sigma)

    def _converged(self) -> bool:
        stop = {k: v for k, v in self.es.stop().items() if k not in ("maxfevals", "tolflatfitness")}
        return bool(stop)

    def _ask(self) -> np.ndarray:
        self._asked = self.es.ask()
        return np.array(self._asked, dtype=np.float64)[:, : self.n]

    def _tell_library(self, losses: np.ndarray) -> None:
        self.es.tell(self._asked, losses.tolist())
        self._asked = None


@dataclass
class NevergradOptions(CommonOptions):
    optimizer: str = "NGOpt"
    """Name of a Nevergrad optimiser (NGOpt picks one from the budget and dimension)."""
    batch_size: int = 4
    """Candidates asked per iteration (Nevergrad's num_workers): renders that run in parallel."""

    GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {"sampling": ("optimizer", "batch_size")}
    BASIC: ClassVar[tuple[str, ...]] = ("optimizer",)

    def validate(self, name: str) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"{name}: batch_size must be >= 1")


@register
class NevergradMethod(ReplayMethod):
    name = "nevergrad"
    description = "A Nevergrad optimiser (default NGOpt), the general-purpose black-box choice; optional extra"
    Options = NevergradOptions

    def _build(self) -> None:
        try:
            import nevergrad as ng
        except ImportError as exc:
            raise ConfigError(
                "method 'nevergrad' needs the optional package: pip install 'zerograds[baselines]' "
                "(or pip install nevergrad)"
            ) from exc
        try:
            opt_cls = ng.optimizers.registry[self.options.optimizer]
        except KeyError:
            raise ConfigError(f"nevergrad has no optimiser named {self.options.optimizer!r}") from None
        param = ng.p.Array(init=self.x0.copy(), lower=0.0, upper=1.0)
        param.random_state = np.random.RandomState(self.seed)
        self.ng_opt = opt_cls(parametrization=param, budget=self.budget, num_workers=self.options.batch_size)
        self._asked = None

    def _batch_size(self) -> int:
        return self.options.batch_size

    @property
    def current(self) -> np.ndarray:
        rec = self.ng_opt.provide_recommendation()
        return np.asarray(rec.value, dtype=np.float64)

    def _ask(self) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NGOpt's inner cma warns about its own batching; harmless
            try:
                self._asked = [self.ng_opt.ask() for _ in range(self.options.batch_size)]
            except RuntimeError as exc:  # seen: NGOpt's inner CMA (TPA) at n ≈ 1,000 with batches
                raise MethodFailedError(
                    f"nevergrad's {self.options.optimizer} failed to propose a batch ({exc.args[0].splitlines()[0]}); "
                    "try batch_size=1 or another optimizer= (e.g. 'TwoPointsDE')"
                ) from exc
        return np.array([c.value for c in self._asked], dtype=np.float64)

    def _tell_library(self, losses: np.ndarray) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for cand, loss in zip(self._asked, losses):
                self.ng_opt.tell(cand, float(loss))
        self._asked = None

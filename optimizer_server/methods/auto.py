"""``auto``: the most render-frugal method measured for the problem's size (docs/efficiency.md):
CMA-ES for small n, ZeroGrads with its "efficient" preset for large n, where CMA-ES cannot follow
(its n×n covariance, its slow adaptation)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict

import numpy as np

from ..errors import ConfigError
from .base import CommonOptions, Method
from .registry import get_method_class, register, resolve_preset


@dataclass
class AutoOptions(CommonOptions):
    cmaes_up_to: int = 100
    """Use CMA-ES for problems with at most this many parameters, ZeroGrads (preset "efficient") above."""

    def validate(self, name: str) -> None:
        if self.cmaes_up_to < 0:
            raise ConfigError(f"{name}: cmaes_up_to must be >= 0, got {self.cmaes_up_to}")


@register
class Auto(Method):
    name = "auto"
    description = "Picks by size what measured best: CMA-ES up to 100 parameters, ZeroGrads (efficient) above"
    Options = AutoOptions

    def _setup(self) -> None:
        self.chosen = "cmaes" if self.n <= self.options.cmaes_up_to else "zerograds"
        cls = get_method_class(self.chosen)
        options = resolve_preset(cls, None if self.chosen == "cmaes" else "efficient",
                                 {"common_random_numbers": self.options.common_random_numbers})
        self.inner = cls(n=self.n, budget=self.budget, seed=self.seed, x0=self.x0, device=self.device,
                         resolution=self.resolution, **options)

    # the inner method does the work; its public ask/tell keep its own bookkeeping in step with ours
    def _batch_size(self) -> int:
        return self.inner._batch_size()

    def _converged(self) -> bool:
        return self.inner._converged()

    @property
    def current(self) -> np.ndarray:
        return self.inner.current

    @property
    def sigma(self):
        return self.inner.sigma

    def _ask(self) -> np.ndarray:
        return self.inner.ask().x

    def _tell(self, x: np.ndarray, losses: np.ndarray) -> None:
        self.inner.tell(self.inner.ask(), losses)

    def _state_dict(self) -> Dict[str, Any]:
        return {"chosen": self.chosen, "inner": self.inner.state_dict()}

    def _load_state_dict(self, s: Dict[str, Any]) -> None:
        self.inner.load_state_dict(s["inner"])

"""``auto``: the default. It picks what measured best for the problem (docs/efficiency.md):

* up to 100 parameters, ``blockwise``: a Sobol design, then global and local search block by block
  (whole-range samples per parameter cross plateaus and ridges, swaps undo objects matched to each
  other's targets), CMA-ES refinement and restarts until the budget is spent;
* above that, when the caller can pass each render's residual image (capability ``residuals``: the
  server always can) and every parameter is continuous, derivative-free Gauss-Newton on the pixels:
  fewest renders on every blurred texture (1,024-65,536 texels);
* otherwise ZeroGrads with its "efficient" preset for hundreds to a few thousand parameters (it alone
  solves the 336-bool LED panel), and PRDPT (paper settings) beyond.

No choice stops early: a run ends when its budget is spent, or when the caller sees the image match
the target within its noise (``wire.verdict``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..wire.errors import ConfigError
from .base import CommonOptions, Method
from .registry import get_method_class, register, resolve_preset


@dataclass
class AutoOptions(CommonOptions):
    blockwise_up_to: int = 100
    """Use `blockwise` (global and local search block by block, then CMA-ES) up to this many parameters."""
    zerograds_up_to: int = 2048
    """Above `blockwise_up_to` and up to this many parameters ZeroGrads (preset "efficient"), PRDPT (preset
    "paper") above: measured better at 1,024 and worse at 4,096 texels (docs/efficiency.md)."""

    GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {"step": ("blockwise_up_to", "zerograds_up_to")}

    def validate(self, name: str) -> None:
        if not 0 <= self.blockwise_up_to <= self.zerograds_up_to:
            raise ConfigError(
                f"{name}: need 0 <= blockwise_up_to <= zerograds_up_to, got {self.blockwise_up_to} and "
                f"{self.zerograds_up_to}"
            )


_PRESETS = {"blockwise": None, "cmaes": None, "gauss_newton": None, "zerograds": "efficient", "prdpt": "paper"}


@register
class Auto(Method):
    name = "auto"
    description = (
        "Picks what measured best: blockwise search (n <= 100: crosses plateaus and traps); above, Gauss-Newton "
        "on the pixels when residual images are passed and all parameters are continuous, else ZeroGrads "
        "efficient (n <= 2048), PRDPT"
    )
    Options = AutoOptions

    def _setup(self) -> None:
        o = self.options
        chosen = (
            "blockwise"
            if self.n <= o.blockwise_up_to
            else "gauss_newton"
            if self.capabilities.residuals and self.space.continuous
            else "zerograds"
            if self.n <= o.zerograds_up_to
            else "prdpt"
        )
        self._build_inner(chosen)

    def _build_inner(self, chosen: str) -> None:
        o = self.options
        self.chosen, preset = chosen, _PRESETS[chosen]
        cls = get_method_class(self.chosen)
        common = {"common_random_numbers": o.common_random_numbers, "fill_workers": o.fill_workers}
        options = resolve_preset(cls, preset, common)
        self.inner = cls(
            self.space,
            budget=self.budget,
            seed=self.seed,
            x0=self.x0,
            device=self.device,
            capabilities=dataclasses.replace(self.capabilities, parallel=self.parallel),
            **options,
        )
        self.wants_residuals = self.inner.wants_residuals  # per instance: depends on the method chosen

    # the inner method does the work; its public ask/tell keep its own bookkeeping in step with ours
    def _batch_size(self) -> int:
        return self.inner._batch_size()

    def _converged(self) -> bool:
        return self.inner._converged()

    def _parallel_changed(self) -> None:
        self.inner.set_parallel(self.parallel)

    @property
    def current(self) -> np.ndarray:
        return self.inner.current

    @property
    def sigma(self):
        return self.inner.sigma

    def _ask(self) -> np.ndarray:
        return self.inner.ask().x

    def _render_seeds(self, count: int) -> np.ndarray:
        return self.inner.ask().seeds.copy()  # the inner method's own (gauss_newton's probes have a seed apart)

    def _tell(self, x: np.ndarray, losses: np.ndarray, residuals=None) -> None:
        self.inner.tell(self.inner.ask(), losses, residuals)

    def _state_dict(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "inner": self.inner.state_dict()}

    def _load_state_dict(self, s: dict[str, Any]) -> None:
        if s["chosen"] != self.chosen:  # picked under other rules (an older version): continue as it was
            self._build_inner(s["chosen"])
        self.inner.load_state_dict(s["inner"])

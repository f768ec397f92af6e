"""Classic gradient-free baselines: central finite differences and SPSA (Spall 1992)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ..wire.errors import ConfigError
from .base import CommonOptions, Method
from .common import VectorAdam
from .registry import register


@dataclass
class FDOptions(CommonOptions):
    eps: float = 0.01
    """Half-width of the central difference in unit-cube units."""
    lr: float = 0.01
    """Adam learning rate for θ."""
    max_dimension: int = 4096
    """Refuse larger problems: one step asks for 2n points of n values (16·n² bytes)."""

    GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {"sampling": ("eps", "max_dimension"), "step": ("lr",)}
    BASIC: ClassVar[tuple[str, ...]] = ("eps", "lr")

    def validate(self, name: str) -> None:
        if not (0 < self.eps < 0.5 and self.lr > 0):
            raise ConfigError(f"{name}: need 0 < eps < 0.5 and lr > 0, got eps={self.eps}, lr={self.lr}")


@register
class FiniteDifferences(Method):
    name = "fd"
    description = "Central finite differences (2n renders per step) driving Adam"
    Options = FDOptions

    def _setup(self) -> None:
        if self.n > self.options.max_dimension:
            raise ConfigError(
                f"fd: n={self.n} exceeds max_dimension={self.options.max_dimension}: one step "
                f"needs {2 * self.n} renders; use zerograds, prdpt or spsa"
            )
        self.theta = torch.tensor(self.x0, dtype=torch.float64)
        self.adam = VectorAdam(self.theta, lr=self.options.lr)

    def _batch_size(self) -> int:
        return 2 * self.n

    @property
    def current(self) -> np.ndarray:
        return self.theta.numpy().copy()

    @property
    def sigma(self) -> float:
        return self.options.eps

    def _ask(self) -> np.ndarray:
        step = np.eye(self.n) * self.options.eps
        theta = self.theta.numpy()
        return np.concatenate([theta + step, theta - step])

    def _tell(self, x: np.ndarray, losses: np.ndarray) -> None:
        grad = (losses[: self.n] - losses[self.n :]) / (2 * self.options.eps)
        self.adam.step(self.theta, torch.from_numpy(grad))
        self.theta.clamp_(0.0, 1.0)

    def _state_dict(self) -> dict[str, Any]:
        return {"theta": self.theta.clone(), "adam": self.adam.state_dict()}

    def _load_state_dict(self, s: dict[str, Any]) -> None:
        self.theta.copy_(torch.as_tensor(s["theta"], dtype=torch.float64))
        self.adam.load_state_dict(s["adam"])


@dataclass
class SPSAOptions(CommonOptions):
    a: float = 0.05
    """Step gain a in a_k = a / (k + 1 + A)^alpha (unit-cube units per unit of loss slope)."""
    c: float = 0.05
    """Perturbation gain c in c_k = c / (k + 1)^gamma (unit-cube units)."""
    alpha: float = 0.602
    """Step decay exponent (Spall's recommended 0.602)."""
    gamma: float = 0.101
    """Perturbation decay exponent (Spall's recommended 0.101)."""
    stability: int | None = None
    """A in the step gain; default 10 % of the iterations the budget allows."""

    GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {"sampling": ("c", "gamma"), "step": ("a", "alpha", "stability")}
    BASIC: ClassVar[tuple[str, ...]] = ("a", "c")

    def validate(self, name: str) -> None:
        if not (self.a > 0 and self.c > 0):
            raise ConfigError(f"{name}: gains a and c must be positive")


@register
class SPSA(Method):
    name = "spsa"
    description = "SPSA: simultaneous-perturbation gradient (2 renders per step, Bernoulli ±1) with Spall's gains"
    Options = SPSAOptions

    def _setup(self) -> None:
        self.theta = self.x0.copy()
        self.rng = np.random.Generator(np.random.PCG64(self.seed))
        self._delta = None
        self._ck = None

    def _batch_size(self) -> int:
        return 2

    @property
    def current(self) -> np.ndarray:
        return self.theta.copy()

    def _gains(self):
        o, k = self.options, self.iteration
        big_a = o.stability if o.stability is not None else 0.1 * (self.budget // 2)
        return o.a / (k + 1 + big_a) ** o.alpha, o.c / (k + 1) ** o.gamma

    @property
    def sigma(self) -> float:
        return self._gains()[1]

    def _ask(self) -> np.ndarray:
        self._delta = self.rng.integers(0, 2, self.n) * 2.0 - 1.0
        _, self._ck = self._gains()
        return np.stack([self.theta + self._ck * self._delta, self.theta - self._ck * self._delta])

    def _tell(self, x: np.ndarray, losses: np.ndarray) -> None:
        ak, _ = self._gains()
        grad = (losses[0] - losses[1]) / (2 * self._ck) * self._delta  # 1/Δ_d == Δ_d for ±1
        self.theta = np.clip(self.theta - ak * grad, 0.0, 1.0)

    def _state_dict(self) -> dict[str, Any]:
        return {"theta": self.theta.copy(), "rng": self.rng.bit_generator.state, "delta": self._delta, "ck": self._ck}

    def _load_state_dict(self, s: dict[str, Any]) -> None:
        self.theta = np.asarray(s["theta"], dtype=np.float64).copy()
        self.rng.bit_generator.state = s["rng"]
        self._delta = None if s["delta"] is None else np.asarray(s["delta"], dtype=np.float64)
        self._ck = s["ck"]

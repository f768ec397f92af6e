"""ZeroGrads: a learned local surrogate of the Gaussian-smoothed loss (thesis Ch. 5, Alg. 5-6, App. C.1).

Per iteration:
  1. outer offsets ε ~ N(0, σ_o²)ⁿ, antithetic ±ε, sample points ρ = θ - ε (locality kernel λ);
  2. inner smoothing τ ~ N(0, σ_i²)ⁿ with σ_i = 0.15 σ_o, render f_i = f(ρ_i - τ_i) (no extra renders);
  3. k_θ Adam steps of θ along ∂h/∂θ, the surrogate's gradient at θ (autograd through h);
  4. k_φ Adam steps of the surrogate on mean_i (h(ρ_i) - f_i)² over the batch just rendered.
The paper's order (3 before 4) is the default; `refit_first` swaps it.
Ablations: NoSmooth (`smooth=False`), NoLocal (`local=False`: ρ uniform in the unit cube),
NoNN (`surrogate="quadratic"`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict

import numpy as np
import torch

from ..errors import ConfigError
from .base import CommonOptions, Method
from .prdpt import annealed_sigma
from .common import (VectorAdam, generator_state, load_torch_optimizer_state, make_adam, make_generator,
                     resolve_device, set_generator_state, torch_optimizer_state)
from .registry import register
from .surrogates import build_surrogate

SURROGATES = ("auto", "mlp", "mlp_large", "quadratic")


@dataclass
class ZeroGradsOptions(CommonOptions):
    samples: int = 2
    """N: renders per iteration (N/2 antithetic pairs when `antithetic`)."""
    sigma: float = 0.33
    """σ_o: spread of the locality kernel in unit-cube units (paper: 0.33; 0.025 for high-dimensional, interlinked problems)."""
    inner_ratio: float = 0.15
    """σ_i / σ_o: the inner smoothing kernel's spread relative to σ_o (thesis: 0.15)."""
    smooth: bool = True
    """Smooth the loss with the inner kernel (False: the NoSmooth ablation)."""
    local: bool = True
    """Sample around θ (False: the NoLocal ablation, samples uniform over the unit cube)."""
    antithetic: bool = True
    """Pair every outer offset ε with -ε."""
    surrogate: str = "auto"
    """auto | mlp (3×64) | mlp_large (8×128 + positional encoding) | quadratic (the NoNN ablation)."""
    lr: float = 1e-3
    """Adam learning rate for θ."""
    surrogate_lr: float = 1e-3
    """Adam learning rate for the surrogate's weights φ."""
    theta_steps: int = 1
    """k_θ: Adam steps of θ per iteration."""
    surrogate_steps: int = 3
    """k_φ: Adam steps of the surrogate per iteration (on the batch just rendered; no new renders)."""
    refit_first: bool = False
    """Refit the surrogate on the new batch before stepping θ (the reference code steps first)."""
    anneal: bool = False
    """Decay σ_o linearly to `sigma_min` after `warm_fraction` of the run, as PRDPT does (not in the
    ZeroGrads paper; off by default)."""
    sigma_min: float = 0.01
    """σ_o at the last iteration when `anneal` is on."""
    warm_fraction: float = 0.5
    """Fraction of the iterations spent at the initial σ_o before annealing starts."""
    lr_follows_sigma: bool = False
    """Scale θ's learning rate by σ_o(t)/σ_o(0), so steps shrink with the sampling region."""
    high_dim_threshold: int = 50
    """`surrogate="auto"` picks the large MLP from this many dimensions on."""
    pe_frequencies: int = 6
    """Positional-encoding frequencies of the large MLP."""

    def validate(self, name: str) -> None:
        if self.samples < 1 or (self.antithetic and self.local and self.samples % 2):
            raise ConfigError(f"{name}: samples must be a positive even number with antithetic pairs, "
                              f"got {self.samples}")
        if self.surrogate not in SURROGATES:
            raise ConfigError(f"{name}: surrogate must be one of {', '.join(SURROGATES)}, got {self.surrogate!r}")
        for key in ("sigma", "lr", "surrogate_lr"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"{name}: {key} must be positive, got {getattr(self, key)}")
        if self.inner_ratio < 0:
            raise ConfigError(f"{name}: inner_ratio must be >= 0, got {self.inner_ratio}")
        if self.anneal and not 0 < self.sigma_min <= self.sigma:
            raise ConfigError(f"{name}: need 0 < sigma_min <= sigma when annealing")
        if self.theta_steps < 1 or self.surrogate_steps < 0:
            raise ConfigError(f"{name}: need theta_steps >= 1 and surrogate_steps >= 0")


@register
class ZeroGrads(Method):
    name = "zerograds"
    description = "ZeroGrads: a local neural surrogate of the smoothed loss, fitted online and differentiated (Ch. 5)"
    Options = ZeroGradsOptions
    presets = {  # App. Tab. C.1 (samples = N), and the ablations of Tab. 5.2
        "wicker": dict(sigma=0.33, samples=2, lr=1e-3, surrogate_lr=1e-3),
        "brdf": dict(sigma=0.33, samples=2, lr=1e-3, surrogate_lr=1e-3),
        "cbox": dict(sigma=0.10, samples=2, lr=5e-4, surrogate_lr=1e-3),
        "gravity": dict(sigma=0.20, samples=2, lr=1e-3, surrogate_lr=1e-3),
        "rocket": dict(sigma=0.33, samples=2, lr=1e-3, surrogate_lr=5e-4),
        "node_graph": dict(sigma=0.20, samples=2, lr=1e-3, surrogate_lr=1e-3),
        "led": dict(sigma=0.33, samples=2, lr=1e-3, surrogate_lr=1e-3),
        "mosaic": dict(sigma=0.025, samples=16, lr=5e-4, surrogate_lr=1e-3),
        "caustic": dict(sigma=0.013, samples=20, lr=2e-4, surrogate_lr=1e-4),
        "mesh": dict(sigma=0.025, samples=20, lr=2e-3, surrogate_lr=1e-4),
        "texture": dict(sigma=0.025, samples=20, lr=1e-5, surrogate_lr=1e-4),
        "nosmooth": dict(smooth=False),
        "nonn": dict(surrogate="quadratic"),
        "nolocal": dict(local=False),
    }

    def _setup(self) -> None:
        o = self.options
        self.dev = resolve_device(self.device)
        self.gen = make_generator(self.dev, self.seed)
        init_gen = make_generator(torch.device("cpu"), self.seed + 0x5EED)  # weights: CPU init, then moved
        self.surrogate = build_surrogate(o.surrogate, self.n, init_gen, o.high_dim_threshold,
                                         o.pe_frequencies).to(self.dev)
        self.surrogate_opt = make_adam(self.surrogate.parameters(), o.surrogate_lr)
        self.theta = torch.tensor(self.x0, dtype=torch.float32, device=self.dev)
        self.adam = VectorAdam(self.theta, lr=o.lr)
        self._rho = None  # sample centres of the pending batch (the surrogate is fitted at ρ)

    def _batch_size(self) -> int:
        return self.options.samples

    @property
    def current(self) -> np.ndarray:
        return self.theta.double().cpu().numpy()

    @property
    def iterations(self) -> int:
        return max(1, self.budget // self.options.samples)

    @property
    def sigma(self) -> float:
        o = self.options
        if not o.anneal:
            return o.sigma
        return annealed_sigma(o.sigma, o.sigma_min, self.iteration, self.iterations, o.warm_fraction)

    def _ask(self) -> np.ndarray:
        o = self.options
        sigma = self.sigma
        shape = (o.samples, self.n)
        if not o.local:
            rho = torch.rand(shape, generator=self.gen, device=self.dev)
        elif o.antithetic:
            eps = torch.randn((o.samples // 2, self.n), generator=self.gen, device=self.dev) * sigma
            rho = torch.cat([self.theta - eps, self.theta + eps])
        else:
            rho = self.theta - torch.randn(shape, generator=self.gen, device=self.dev) * sigma
        points = rho
        if o.smooth and o.inner_ratio > 0:
            points = rho - torch.randn(shape, generator=self.gen, device=self.dev) * (o.inner_ratio * sigma)
        self._rho = rho
        return points.double().cpu().numpy()

    def surrogate_gradient(self) -> torch.Tensor:
        """∂h/∂θ at the current θ."""
        theta = self.theta.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(self.surrogate(theta.unsqueeze(0)).sum(), theta)
        return grad

    def _step_theta(self) -> None:
        o = self.options
        lr = o.lr * self.sigma / o.sigma if o.lr_follows_sigma else o.lr
        for _ in range(o.theta_steps):
            self.adam.step(self.theta, self.surrogate_gradient(), lr=lr)
            self.theta.clamp_(0.0, 1.0)

    def _fit_surrogate(self, rho: torch.Tensor, losses: torch.Tensor) -> None:
        for _ in range(self.options.surrogate_steps):
            self.surrogate_opt.zero_grad(set_to_none=False)  # reuse the grad buffers: no big allocations per step
            fit = torch.mean((self.surrogate(rho) - losses) ** 2)
            fit.backward()
            self.surrogate_opt.step()

    def _tell(self, x: np.ndarray, losses: np.ndarray) -> None:
        f = torch.as_tensor(losses, dtype=torch.float32, device=self.dev)
        if self.options.refit_first:
            self._fit_surrogate(self._rho, f)
            self._step_theta()
        else:
            self._step_theta()
            self._fit_surrogate(self._rho, f)
        self._rho = None

    def _state_dict(self) -> Dict[str, Any]:
        return {
            "theta": self.theta.clone(), "adam": self.adam.state_dict(), "rng": generator_state(self.gen),
            "surrogate": {k: v.detach().clone() for k, v in self.surrogate.state_dict().items()},
            "surrogate_opt": torch_optimizer_state(self.surrogate_opt),
            "rho": None if self._rho is None else self._rho.clone(),
        }

    def _load_state_dict(self, s: Dict[str, Any]) -> None:
        self.theta.copy_(s["theta"])
        self.adam.load_state_dict(s["adam"])
        set_generator_state(self.gen, s["rng"])
        self.surrogate.load_state_dict({k: torch.as_tensor(v) for k, v in s["surrogate"].items()})
        load_torch_optimizer_state(self.surrogate_opt, s["surrogate_opt"])
        self._rho = None if s["rho"] is None else torch.as_tensor(s["rho"]).to(self.dev)

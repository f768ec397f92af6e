"""PRDPT: perturbation gradients of the Gaussian-smoothed loss (thesis Ch. 4, Eq. 4.6-4.11, Alg. 4).

    ∂Q/∂θ = ∫ κ'(τ) P(θ - τ) dτ,  κ'(τ) = -τ/σ² κ(τ)

Importance sampling of |κ'| per dimension by the inverse CDF, |τ| = sqrt(-2σ² log ξ), with an
independent sign per dimension, so κ'(τ)/p(τ) = -sign(τ)·c with c = 2/(σ√(2π)). Antithetic pairs
(τ, -τ) give, per dimension d,

    g_d = (c/N) Σ_pairs sign(τ_jd) · (P(θ + τ_j) - P(θ - τ_j)).

σ stays at σ0 for a warm-up fraction of the run, then decays linearly to σ_min (App. B.1).
θ is stepped by Adam and clamped to the unit cube.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ..wire.errors import ConfigError
from .base import CommonOptions, Method
from .common import VectorAdam, generator_state, make_generator, resolve_device, set_generator_state
from .registry import register
from .rounds import rounds_batch
from .structured import block_noise, structured_normal


@dataclass
class PRDPTOptions(CommonOptions):
    samples: int = 2
    """N: renders per iteration (N/2 antithetic pairs when `antithetic`)."""
    sigma: float = 0.5
    """σ0: initial spread of the smoothing kernel in unit-cube units (paper's default ≈ 0.5 of the domain)."""
    sigma_min: float = 0.01
    """σ at the last iteration when `anneal` is on."""
    lr: float = 0.02
    """Adam learning rate for θ (unit-cube units)."""
    anneal: bool = True
    """Adaptive bandwidth: keep σ0 for `warm_fraction` of the run, then decay linearly to σ_min."""
    warm_fraction: float = 0.5
    """Fraction of the iterations spent at σ0 before annealing starts."""
    importance_sampling: bool = True
    """Sample τ ∝ |κ'| (False: τ ~ κ, weight -τ/σ², the paper's 'noIS' ablation)."""
    antithetic: bool = True
    """Pair every τ with -τ (False: the paper's 'noAT' ablation)."""
    smooth_samples: bool = False
    """Perturb image and mesh blocks smoothly (on the image grid, along the mesh edges; τ ~ N(0, σ²C)
    there, ``structured.py``), weighted -τ/σ² (no importance sampling there): the gradient comes out
    smoothed by C, which a camera resolves better than per-texel noise. Measured in
    docs/results-highdim.md."""

    GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {
        "sampling": (
            "samples",
            "sigma",
            "sigma_min",
            "anneal",
            "warm_fraction",
            "importance_sampling",
            "antithetic",
            "smooth_samples",
        ),
        "step": ("lr",),
    }
    BASIC: ClassVar[tuple[str, ...]] = ("samples", "sigma", "lr")

    def validate(self, name: str) -> None:
        if self.samples < 1 or (self.antithetic and self.samples % 2):
            raise ConfigError(
                f"{name}: samples must be a positive even number with antithetic pairs, got {self.samples}"
            )
        if not 0 < self.sigma_min <= self.sigma:
            raise ConfigError(
                f"{name}: need 0 < sigma_min <= sigma, got sigma={self.sigma}, sigma_min={self.sigma_min}"
            )
        if not self.lr > 0:
            raise ConfigError(f"{name}: lr must be positive, got {self.lr}")
        if not 0 <= self.warm_fraction <= 1:
            raise ConfigError(f"{name}: warm_fraction must lie in [0, 1], got {self.warm_fraction}")


def annealed_sigma(sigma0: float, sigma_min: float, iteration: int, iterations: int, warm_fraction: float) -> float:
    """σ at ``iteration`` (0-based) of ``iterations``: flat at σ0, then linear down to σ_min at the last."""
    start = warm_fraction * iterations
    last = iterations - 1
    if iteration <= start or last <= start:
        return sigma0
    t = min(1.0, (iteration - start) / (last - start))
    return sigma0 + t * (sigma_min - sigma0)


@register
class PRDPT(Method):
    name = "prdpt"
    description = "PRDPT: importance-sampled antithetic perturbation gradients of the Gaussian-smoothed loss (Ch. 4)"
    Options = PRDPTOptions
    presets = {  # App. Tab. B.1 (samples = N); "paper": the recommended defaults (docs/methods.md)
        "paper": dict(
            samples=2,
            sigma=0.5,
            lr=0.02,
            anneal=True,
            warm_fraction=0.5,
            sigma_min=0.01,
            importance_sampling=True,
            antithetic=True,
        ),
        "cup": dict(samples=2, sigma=0.25, lr=0.01),
        "shadows": dict(samples=2, sigma=0.5, lr=0.02),
        "occlusion": dict(samples=2, sigma=0.8, lr=0.02),
        "global_illumination": dict(samples=4, sigma=0.125, lr=0.05),
        "sort": dict(samples=16, sigma=0.5, lr=0.01),
        "caustic": dict(samples=4, sigma=0.125, lr=0.01),
        "disc": dict(samples=8, sigma=0.2, lr=0.01),
        "smooth": dict(smooth_samples=True),
    }
    preset_notes = {
        "paper": "the thesis's recommended PRDPT: σ0 0.5, N 2, Adam lr 0.02, σ held half the run then decayed",
        **{
            task: f"the thesis's settings for {title} (App. Tab. B.1)"
            for task, title in (
                ("cup", "CUP"),
                ("shadows", "SHADOWS"),
                ("occlusion", "OCCLUSION"),
                ("global_illumination", "GLOBAL ILL."),
                ("sort", "SORT"),
                ("caustic", "CAUSTIC"),
            )
        },
        "disc": "σ0 0.2, N 8, lr 0.01: the settings measured on the authors' code for the analytic disc",
        "smooth": "the defaults with samples smooth on image grids and along mesh edges (array parameters)",
    }

    def _setup(self) -> None:
        o = self.options
        self.dev = resolve_device(self.device)
        self.theta = torch.tensor(self.x0, dtype=torch.float32, device=self.dev)
        self.adam = VectorAdam(self.theta, lr=o.lr)
        self.gen = make_generator(self.dev, self.seed)
        self._tau = None  # the perturbations of the pending batch
        self._c = None
        self.noise = block_noise(self.space, o.smooth_samples)
        # entries perturbed smoothly: plain Gaussian weights there (importance sampling is per entry)
        self.smooth = None if self.noise is None else torch.as_tensor(self.noise.structured, device=self.dev)

    def _batch_size(self) -> int:
        # with k workers, more antithetic pairs per step: a whole number of rounds over them
        o = self.options
        pairs = 2 if o.antithetic else 1
        return rounds_batch(o.samples, self.parallel, pairs, left=self.budget - self.evaluations, least=2 * pairs)

    @property
    def iterations(self) -> int:
        """Iterations the budget allows (the σ schedule spans them)."""
        return max(1, self.budget // self.options.samples)

    @property
    def current(self) -> np.ndarray:
        return self.theta.double().cpu().numpy()

    @property
    def sigma(self) -> float:
        o = self.options
        if not o.anneal:
            return o.sigma
        # progress in renders spent (the iteration count when every batch has `samples`)
        return annealed_sigma(o.sigma, o.sigma_min, self.evaluations / o.samples, self.iterations, o.warm_fraction)

    def _draw_tau(self, count: int, sigma: float) -> torch.Tensor:
        shape = (count, self.n)
        if self.options.importance_sampling:
            # 1 - U(0,1) lies in (0, 1], so the log is finite
            xi = 1.0 - torch.rand(shape, generator=self.gen, device=self.dev)
            magnitude = torch.sqrt(-2.0 * sigma * sigma * torch.log(xi))
            sign = torch.randint(0, 2, shape, generator=self.gen, device=self.dev).mul_(2).sub_(1)
            tau = magnitude * sign
            if self.smooth is not None:
                smooth = structured_normal(self.noise, count, self.n, self.gen, self.dev) * sigma
                tau = torch.where(self.smooth, smooth, tau)
            return tau
        return structured_normal(self.noise, count, self.n, self.gen, self.dev) * sigma

    def _ask(self) -> np.ndarray:
        o = self.options
        sigma = self.sigma
        samples = self._batch_size()
        if o.antithetic:
            tau = self._draw_tau(samples // 2, sigma)
            points = torch.cat([self.theta + tau, self.theta - tau])
        else:
            tau = self._draw_tau(samples, sigma)
            points = self.theta - tau
        self._tau, self._sigma_used = tau, sigma
        return points.double().cpu().numpy()

    def _gradient(self, losses: torch.Tensor) -> torch.Tensor:
        o, tau, sigma = self.options, self._tau, self._sigma_used
        samples = len(losses)  # `samples`, or more with k workers
        if o.antithetic:
            half = len(tau)
            f = (losses[:half] - losses[half:]).unsqueeze(1)  # P(θ+τ) - P(θ-τ)
            sign = 1.0
        else:
            f = losses.unsqueeze(1)  # points were θ - τ, weight κ'(τ)/p(τ)
            sign = -1.0
        gaussian = sign * (tau * f).sum(0) / (samples * sigma * sigma)
        if not o.importance_sampling:
            return gaussian
        c = 2.0 / (sigma * math.sqrt(2.0 * math.pi))
        weighted = sign * (c / samples) * (torch.sign(tau) * f).sum(0)
        return weighted if self.smooth is None else torch.where(self.smooth, gaussian, weighted)

    def gradient_estimate(self, losses) -> np.ndarray:
        """The gradient estimate for the pending batch's ``losses`` (does not step; for tests)."""
        return self._gradient(torch.as_tensor(losses, dtype=torch.float32, device=self.dev)).double().cpu().numpy()

    def _tell(self, x: np.ndarray, losses: np.ndarray) -> None:
        grad = self._gradient(torch.as_tensor(losses, dtype=torch.float32, device=self.dev))
        if len(losses) == self.options.samples:
            self.adam.step(self.theta, grad)
        else:  # κ times the samples average κ times less noise: Adam's square-root rule, lr·√κ
            kappa = len(losses) / self.options.samples
            self.adam.step(self.theta, grad, lr=self.options.lr * math.sqrt(kappa))
        self.theta.clamp_(0.0, 1.0)
        self._tau = None

    def _state_dict(self) -> dict[str, Any]:
        return {
            "theta": self.theta.clone(),
            "adam": self.adam.state_dict(),
            "rng": generator_state(self.gen),
            "tau": None if self._tau is None else self._tau.clone(),
            "sigma_used": getattr(self, "_sigma_used", None),
        }

    def _load_state_dict(self, s: dict[str, Any]) -> None:
        self.theta.copy_(s["theta"])
        self.adam.load_state_dict(s["adam"])
        set_generator_state(self.gen, s["rng"])
        self._tau = None if s["tau"] is None else s["tau"].to(self.dev)
        self._sigma_used = s["sigma_used"]

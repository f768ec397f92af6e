"""ZeroGrads: a learned local surrogate of the Gaussian-smoothed loss (thesis Ch. 5, Alg. 5-6, App. C.1).

Per iteration:
  1. outer offsets ε ~ N(0, σ_o²)ⁿ, antithetic ±ε, sample points ρ = θ - ε (locality kernel λ);
  2. inner smoothing τ ~ N(0, σ_i²)ⁿ with σ_i = 0.15 σ_o, render f_i = f(ρ_i - τ_i) (no extra renders);
  3. k_θ Adam steps of θ along ∂h/∂θ, the surrogate's gradient at θ (autograd through h);
  4. k_φ Adam steps of the surrogate on mean_i (h(ρ_i) - f_i)² over the batch just rendered.
The authors' code steps θ first (3 before 4), and that is the default; the thesis's Alg. 5 refits
first, which `refit_first` does.
Ablations: NoSmooth (`smooth=False`), NoLocal (`local=False`: ρ uniform in the unit cube),
NoNN (`surrogate="quadratic"`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ..wire.errors import ConfigError
from .base import CommonOptions, Method
from .common import (
    VectorAdam,
    generator_state,
    load_torch_optimizer_state,
    make_adam,
    make_generator,
    resolve_device,
    set_generator_state,
    torch_optimizer_state,
)
from .prdpt import annealed_sigma
from .registry import register
from .rounds import rounds_batch
from .structured import block_noise, structured_normal
from .surrogates import build_surrogate, replay_log_weights
from .zerograds_presets import PRESET_NOTES, PRESETS

SURROGATES = ("auto", "auto_lean", "mlp", "mlp_large", "lean", "quadratic")
STEP_CONTROLS = ("adam", "trust")


@dataclass
class ZeroGradsOptions(CommonOptions):
    samples: int = 2
    """N: renders per iteration (N/2 antithetic pairs when `antithetic`)."""
    sigma: float = 0.33
    """σ_o: spread of the locality kernel in unit-cube units (paper: 0.33; 0.025 for high-dimensional,
    interlinked problems)."""
    inner_ratio: float = 0.15
    """σ_i / σ_o: the inner smoothing kernel's spread relative to σ_o (thesis: 0.15)."""
    smooth: bool = True
    """Smooth the loss with the inner kernel (False: the NoSmooth ablation)."""
    local: bool = True
    """Sample around θ (False: the NoLocal ablation, samples uniform over the unit cube)."""
    antithetic: bool = True
    """Pair every outer offset ε with -ε."""
    surrogate: str = "auto"
    """auto | auto_lean | mlp (3×64) | mlp_large (8×128 + positional encoding) | lean (linear term + MLP on a
    learned low-rank projection; memory ∝ n) | quadratic (the NoNN ablation). auto_lean: mlp below
    `high_dim_threshold`, lean above."""
    lr: float = 1e-3
    """Adam learning rate for θ."""
    surrogate_lr: float = 1e-3
    """Adam learning rate for the surrogate's weights φ."""
    theta_steps: int = 1
    """k_θ: Adam steps of θ per iteration."""
    surrogate_steps: int = 3
    """k_φ: Adam steps of the surrogate per iteration (on the batch just rendered; no new renders)."""
    fit_budget: float = 0.0
    """Upper bound on (fitted samples × n × surrogate steps) per iteration: a fitting step's time grows with
    samples × n, so at very large n the steps are cut to stay within it (at least one). 0: no bound."""
    refit_first: bool = False
    """Refit the surrogate on the new batch before stepping θ (as the thesis's Alg. 5; the authors' code steps
    first)."""
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
    lean_threshold: int = 1000
    """`surrogate="auto"` picks the lean surrogate from this many dimensions on: the large MLP's encoded
    first layer (13·n·128 weights) makes every Adam step memory-bound there (docs/efficiency.md has the
    times). The paper preset sets it out of reach."""
    pe_frequencies: int = 6
    """Positional-encoding frequencies of the large MLP."""
    lean_rank: int = 16
    """Width of the learned projection of the lean surrogate."""
    replay: int = 0
    """Keep the samples of this many past iterations and refit on them too, each weighted by
    λ(ρ; θ_now, σ_now) / q(ρ) (q: the Gaussian it was drawn from), self-normalised. 0: only the new batch."""
    replay_max_log_ratio: float = 4.0
    """Importance weights below exp(-this) of the largest are dropped (in high dimension raw λ/q
    weights degenerate to a single sample; this keeps the nearest samples instead)."""
    standardize_losses: bool = False
    """Fit the surrogate to (f - mean)/std of the fitted samples: its learning rate then means the
    same on every loss scale, and a flat batch (a plateau) is recognised as such."""
    local_inputs: bool = False
    """Feed the surrogate (x - θ)/(3σ) instead of the absolute position: its input always spans the
    sampled neighbourhood, however small σ gets."""
    step_control: str = "adam"
    """adam: θ follows Adam on ∂h/∂θ (the paper). trust: θ moves by `trust_step`·σ per coordinate (RMS)
    along -∂h/∂θ, so the step is tied to the sampled region instead of Adam's normalised gradient."""
    trust_step: float = 1.0
    """Step length of `step_control="trust"` in units of σ (per-coordinate RMS)."""
    discrete_sigma: float = 0.0
    """Per-parameter σ for discrete parameters (int, bool, enum, link): sample each with a spread of at
    least this many value spacings (σ_j ≥ discrete_sigma / (hi - lo) in unit-cube units), so a bool is
    not sampled on one side of its threshold only. Steps still follow σ. 0: one σ for all."""
    flat_widen: float = 1.0
    """Plateau awareness: when a batch's losses are all equal (a plateau: nothing to fit or step along),
    multiply σ by this instead of stepping, and divide it back as batches inform again (continuation from
    coarse to fine). 1: off (the paper)."""
    discrete_sigma_min: float = 0.0
    """With `anneal` and `discrete_sigma`: the discrete parameters' σ floor follows σ's annealing from
    `discrete_sigma` down to this many value spacings (a bool at a bound then flips in fewer samples:
    about 24 % of them at 0.7 spacings, 8 % at 0.35). 0: the floor stays at `discrete_sigma`. Ignored
    when `discrete_sigma` is 0."""

    smooth_samples: bool = False
    """Draw the samples' offsets smooth on image and mesh blocks (on the image grid, along the mesh
    edges, ``structured.py``; unit variance per entry, so σ keeps its meaning) instead of independent
    per texel or vertex. Measured in docs/results-highdim.md."""

    GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {
        "sampling": (
            "smooth_samples",
            "flat_widen",
            "samples",
            "sigma",
            "inner_ratio",
            "smooth",
            "local",
            "antithetic",
            "discrete_sigma",
            "discrete_sigma_min",
            "anneal",
            "sigma_min",
            "warm_fraction",
        ),
        "surrogate": (
            "surrogate",
            "surrogate_lr",
            "surrogate_steps",
            "fit_budget",
            "refit_first",
            "replay",
            "replay_max_log_ratio",
            "standardize_losses",
            "local_inputs",
            "high_dim_threshold",
            "lean_threshold",
            "pe_frequencies",
            "lean_rank",
        ),
        "step": ("step_control", "lr", "trust_step", "theta_steps", "lr_follows_sigma"),
    }
    BASIC: ClassVar[tuple[str, ...]] = ("samples", "sigma", "lr")

    def validate(self, name: str) -> None:
        if self.samples < 1 or (self.antithetic and self.local and self.samples % 2):
            raise ConfigError(
                f"{name}: samples must be a positive even number with antithetic pairs, got {self.samples}"
            )
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
        if self.step_control not in STEP_CONTROLS:
            raise ConfigError(
                f"{name}: step_control must be one of {', '.join(STEP_CONTROLS)}, got {self.step_control!r}"
            )
        if self.discrete_sigma < 0:
            raise ConfigError(f"{name}: discrete_sigma must be >= 0, got {self.discrete_sigma}")
        if self.discrete_sigma_min < 0 or 0 < self.discrete_sigma < self.discrete_sigma_min:
            raise ConfigError(
                f"{name}: need 0 <= discrete_sigma_min <= discrete_sigma, got "
                f"{self.discrete_sigma_min} and {self.discrete_sigma}"
            )
        if self.fit_budget < 0:
            raise ConfigError(f"{name}: fit_budget must be >= 0, got {self.fit_budget}")
        if self.replay < 0 or self.lean_rank < 1:
            raise ConfigError(f"{name}: need replay >= 0 and lean_rank >= 1")
        if not self.trust_step > 0:
            raise ConfigError(f"{name}: need trust_step > 0, got {self.trust_step}")


@register
class ZeroGrads(Method):
    name = "zerograds"
    description = "ZeroGrads: a local neural surrogate of the smoothed loss, fitted online and differentiated (Ch. 5)"
    Options = ZeroGradsOptions
    presets = PRESETS
    preset_notes = PRESET_NOTES

    def _setup(self) -> None:
        o = self.options
        self.dev = resolve_device(self.device)
        self.gen = make_generator(self.dev, self.seed)
        init_gen = make_generator(torch.device("cpu"), self.seed + 0x5EED)  # weights: CPU init, then moved
        self.surrogate = build_surrogate(
            o.surrogate, self.n, init_gen, o.high_dim_threshold, o.pe_frequencies, o.lean_rank, o.lean_threshold
        ).to(self.dev)
        self.surrogate_opt = make_adam(self.surrogate.parameters(), o.surrogate_lr)
        self.theta = torch.tensor(self.x0, dtype=torch.float32, device=self.dev)
        self.adam = VectorAdam(self.theta, lr=o.lr)
        self._rho = None  # sample centres of the pending batch (the surrogate is fitted at ρ)
        self._sigma_used = None  # (n,) σ the pending batch was drawn with
        self.noise = block_noise(self.space, o.smooth_samples)
        self._buffer = []  # replay: per past iteration {"rho", "f", "theta", "sigma"}
        self._resolution = torch.as_tensor(self.resolution, dtype=torch.float32, device=self.dev)
        self._widen = 1.0  # σ's factor from flat batches (flat_widen)

    def _batch_size(self) -> int:
        # with k workers, a whole number of rounds over them (pairs stay whole): a bigger population
        o = self.options
        pairs = 2 if o.antithetic and o.local else 1
        return rounds_batch(o.samples, self.parallel, pairs, left=self.budget - self.evaluations, least=2 * pairs)

    @property
    def current(self) -> np.ndarray:
        return self.theta.double().cpu().numpy()

    @property
    def iterations(self) -> int:
        return max(1, self.budget // self.options.samples)

    @property
    def sigma(self) -> float:
        return min(self._annealed_sigma() * self._widen, 0.5)

    def _annealed_sigma(self) -> float:
        o = self.options
        if not o.anneal:
            return o.sigma
        # progress in renders spent (the iteration count when every batch has `samples`), so a bigger
        # batch per iteration (more workers) anneals as far per render as the method's own
        progress = self.evaluations / o.samples
        return annealed_sigma(o.sigma, o.sigma_min, progress, self.iterations, o.warm_fraction)

    def sigma_vector(self) -> torch.Tensor:
        """(n,) per-parameter σ: the scalar σ, raised to `discrete_sigma` value spacings for discrete ones."""
        o = self.options
        sigma = torch.full((self.n,), float(self.sigma), device=self.dev)
        if o.discrete_sigma > 0:
            spacings = o.discrete_sigma
            if o.anneal and o.discrete_sigma_min > 0 and o.sigma > o.sigma_min:
                progress = (o.sigma - self._annealed_sigma()) / (o.sigma - o.sigma_min)  # 0 → 1 as σ anneals
                spacings = o.discrete_sigma + progress * (o.discrete_sigma_min - o.discrete_sigma)
            sigma = torch.maximum(sigma, spacings * self._resolution)
        return sigma

    def _ask(self) -> np.ndarray:
        o = self.options
        sigma = self.sigma_vector()
        samples = self._batch_size()
        shape = (samples, self.n)
        if not o.local:
            rho = torch.rand(shape, generator=self.gen, device=self.dev)
        elif o.antithetic:
            eps = structured_normal(self.noise, samples // 2, self.n, self.gen, self.dev) * sigma
            rho = torch.cat([self.theta - eps, self.theta + eps])
        else:
            rho = self.theta - structured_normal(self.noise, samples, self.n, self.gen, self.dev) * sigma
        points = rho
        if o.smooth and o.inner_ratio > 0:
            points = rho - torch.randn(shape, generator=self.gen, device=self.dev) * (o.inner_ratio * sigma)
        self._rho, self._sigma_used = rho, sigma
        return points.double().cpu().numpy()

    # --- the surrogate ---------------------------------------------------------------------------
    def _surrogate_input(self, points: torch.Tensor) -> torch.Tensor:
        """Absolute unit-cube points, or with `local_inputs` (x - θ)/(3σ) (the surrogate maps its
        input x to 2x - 1, so ±3σ around θ spans [-1, 1])."""
        if not self.options.local_inputs:
            return points
        return 0.5 + (points - self.theta) / (6.0 * self.sigma_vector())

    def surrogate_gradient(self) -> torch.Tensor:
        """∂h/∂θ at the current θ."""
        theta = self.theta.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(self.surrogate(self._surrogate_input(theta).unsqueeze(0)).sum(), theta)
        return grad

    def _step_theta(self) -> None:
        o = self.options
        for _ in range(o.theta_steps):
            grad = self.surrogate_gradient()
            if o.step_control == "trust":
                # a step of trust_step·σ per coordinate (RMS) along -∂h/∂θ, whatever the slope's size:
                # the sampled region, not a tiny or huge surrogate slope, decides how far θ moves
                rms = grad.pow(2).mean().sqrt()
                if not rms > 0:
                    return
                self.theta.sub_(grad, alpha=float(o.trust_step * self.sigma / rms))
            else:
                lr = o.lr * self.sigma / o.sigma if o.lr_follows_sigma else o.lr
                self.adam.step(self.theta, grad, lr=lr)
            self.theta.clamp_(0.0, 1.0)

    def _training_set(self, rho: torch.Tensor, losses: torch.Tensor):
        """The new batch, plus (with `replay`) earlier ones weighted by λ(ρ; θ, σ)/q(ρ)."""
        o = self.options
        if not o.replay or not self._buffer:
            return rho, losses, None
        sigma = self.sigma_vector()
        all_rho = [rho] + [b["rho"] for b in self._buffer]
        all_f = [losses] + [b["f"] for b in self._buffer]
        log_w = [replay_log_weights(rho, self.theta, sigma, self.theta, sigma)]  # the new batch: θ, σ unchanged
        log_w += [replay_log_weights(b["rho"], self.theta, sigma, b["theta"], b["sigma"]) for b in self._buffer]
        log_w = torch.cat(log_w)
        log_w = log_w - log_w.max()
        keep = log_w > -o.replay_max_log_ratio
        weights = torch.exp(log_w[keep])
        return torch.cat(all_rho)[keep], torch.cat(all_f)[keep], weights / weights.mean()

    def _fit_surrogate(self, rho: torch.Tensor, losses: torch.Tensor) -> None:
        o = self.options
        rho, target, weights = self._training_set(rho, losses)
        if o.standardize_losses:
            spread = target.std() if len(target) > 1 else target.new_tensor(0.0)
            target = (target - target.mean()) / (spread if spread > 0 else 1.0)
        inputs = self._surrogate_input(rho)
        steps = o.surrogate_steps
        if o.fit_budget > 0:
            steps = min(steps, max(1, int(o.fit_budget // (len(rho) * self.n))))
        for _ in range(steps):
            self.surrogate_opt.zero_grad(set_to_none=False)  # reuse the grad buffers: no big allocations per step
            residual = (self.surrogate(inputs) - target) ** 2
            fit = torch.mean(residual) if weights is None else torch.mean(weights * residual)
            fit.backward()
            self.surrogate_opt.step()

    def _remember(self, rho: torch.Tensor, losses: torch.Tensor, sigma: torch.Tensor) -> None:
        if self.options.replay:
            self._buffer.append({"rho": rho, "f": losses, "theta": self.theta.clone(), "sigma": sigma.clone()})
            del self._buffer[: -self.options.replay]

    def _tell(self, x: np.ndarray, losses: np.ndarray) -> None:
        o = self.options
        f = torch.as_tensor(losses, dtype=torch.float32, device=self.dev)
        rho, sigma_used = self._rho, self._sigma_used
        if o.flat_widen > 1:
            if float(f.max() - f.min()) <= 1e-6 * max(float(f.abs().max()), 1e-30):
                self._widen *= o.flat_widen  # a plateau: look wider, do not step on nothing
                self._rho = None
                return
            self._widen = max(1.0, self._widen / o.flat_widen)
        if o.refit_first:
            self._fit_surrogate(rho, f)
            self._step_theta()
        else:
            self._step_theta()
            self._fit_surrogate(rho, f)
        self._remember(rho, f, sigma_used)
        self._rho = None

    def _state_dict(self) -> dict[str, Any]:
        return {
            "theta": self.theta.clone(),
            "widen": self._widen,
            "adam": self.adam.state_dict(),
            "rng": generator_state(self.gen),
            "surrogate": {k: v.detach().clone() for k, v in self.surrogate.state_dict().items()},
            "surrogate_opt": torch_optimizer_state(self.surrogate_opt),
            "rho": None if self._rho is None else self._rho.clone(),
            "sigma_used": None if self._sigma_used is None else self._sigma_used.clone(),
            "buffer": [
                {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in b.items()} for b in self._buffer
            ],
        }

    def _load_state_dict(self, s: dict[str, Any]) -> None:
        self.theta.copy_(s["theta"])
        self._widen = float(s.get("widen", 1.0))
        self.adam.load_state_dict(s["adam"])
        set_generator_state(self.gen, s["rng"])
        self.surrogate.load_state_dict({k: torch.as_tensor(v) for k, v in s["surrogate"].items()})
        load_torch_optimizer_state(self.surrogate_opt, s["surrogate_opt"])
        self._rho = None if s["rho"] is None else torch.as_tensor(s["rho"]).to(self.dev)
        self._sigma_used = (
            None if s["sigma_used"] is None else torch.as_tensor(s["sigma_used"], dtype=torch.float32).to(self.dev)
        )
        self._buffer = [
            {key: torch.as_tensor(b[key], dtype=torch.float32).to(self.dev) for key in ("rho", "f", "theta", "sigma")}
            for b in s["buffer"]
        ]

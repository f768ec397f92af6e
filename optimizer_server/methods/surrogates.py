"""Surrogates h(x; φ) of the smoothed loss for ZeroGrads (thesis Sec. 5.3, App. C.1).

Inputs are unit-cube points, mapped to [-1, 1] inside. Weights are initialised from the method's
own torch.Generator (PyTorch's default Linear init), so runs never touch the global RNG.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _init_linear(layer: nn.Linear, gen: torch.Generator) -> None:
    # torch's default: kaiming_uniform(a=√5) == U(±1/√fan_in) for the weight and the bias
    bound = 1.0 / math.sqrt(layer.in_features)
    with torch.no_grad():
        layer.weight.uniform_(-bound, bound, generator=gen)
        layer.bias.uniform_(-bound, bound, generator=gen)


def leaky_mlp(width_in: int, hidden: int, layers: int, gen: torch.Generator, negative_slope: float) -> nn.Sequential:
    """``layers`` hidden leaky-ReLU layers of width ``hidden`` and a linear scalar output."""
    mods = []
    for _ in range(layers):
        lin = nn.Linear(width_in, hidden)
        _init_linear(lin, gen)
        mods += [lin, nn.LeakyReLU(negative_slope)]
        width_in = hidden
    out = nn.Linear(width_in, 1)
    _init_linear(out, gen)
    mods.append(out)
    return nn.Sequential(*mods)


class PositionalEncoding(nn.Module):
    """NeRF-style features [x, sin(2^k π x), cos(2^k π x)] for k < frequencies."""

    def __init__(self, frequencies: int):
        super().__init__()
        self.register_buffer("scales", (2.0 ** torch.arange(frequencies)) * math.pi, persistent=False)

    def out_features(self, n: int) -> int:
        return n * (1 + 2 * len(self.scales))

    def forward(self, x):
        angles = (x.unsqueeze(-1) * self.scales).flatten(-2)
        return torch.cat([x, torch.sin(angles), torch.cos(angles)], dim=-1)


class MLPSurrogate(nn.Module):
    """Leaky-ReLU MLP with a linear output (the reference code's leaky-ReLU on the output is dropped:
    it caps how negative the surrogate can go for no benefit)."""

    def __init__(
        self,
        n: int,
        hidden: int,
        layers: int,
        gen: torch.Generator,
        pe_frequencies: int = 0,
        negative_slope: float = 0.01,
    ):
        super().__init__()
        self.encoding = PositionalEncoding(pe_frequencies) if pe_frequencies > 0 else None
        width_in = self.encoding.out_features(n) if self.encoding is not None else n
        self.net = leaky_mlp(width_in, hidden, layers, gen, negative_slope)

    def forward(self, x):
        z = x * 2.0 - 1.0
        if self.encoding is not None:
            z = self.encoding(z)
        return self.net(z).squeeze(-1)


class QuadraticSurrogate(nn.Module):
    """The NoNN ablation: h(x) = (x, 1)ᵀ M (x, 1) with M symmetric, initialised to the identity."""

    def __init__(self, n: int):
        super().__init__()
        self.m = nn.Parameter(torch.eye(n + 1))

    def forward(self, x):
        z = torch.cat([x * 2.0 - 1.0, torch.ones_like(x[..., :1])], dim=-1)
        sym = 0.5 * (self.m + self.m.T)
        return torch.einsum("...i,ij,...j->...", z, sym, z)


def build_surrogate(
    kind: str,
    n: int,
    gen: torch.Generator,
    high_dim_threshold: int,
    pe_frequencies: int,
    lean_rank: int = 16,
    lean_threshold: int = 1000,
):
    """``auto``: 3×64 MLP below ``high_dim_threshold`` dimensions, 8×128 with positional encoding
    below ``lean_threshold``, the lean surrogate from there on.
    ``auto_lean``: 3×64 MLP below ``high_dim_threshold``, else the lean surrogate (memory ∝ n·(rank+1))."""
    if kind == "auto":
        kind = "mlp" if n < high_dim_threshold else "mlp_large" if n < lean_threshold else "lean"
    if kind == "auto_lean":
        kind = "mlp" if n < high_dim_threshold else "lean"
    if kind == "lean":
        return LeanSurrogate(n, gen, rank=lean_rank)
    if kind == "mlp":
        return MLPSurrogate(n, hidden=64, layers=3, gen=gen)
    if kind == "mlp_large":
        return MLPSurrogate(n, hidden=128, layers=8, gen=gen, pe_frequencies=pe_frequencies)
    if kind == "quadratic":
        return QuadraticSurrogate(n)
    raise ValueError(kind)


class LeanSurrogate(nn.Module):
    """A surrogate whose size grows like n·(rank + 1) instead of 13·n·128 (issue 6, point 3):

        h(z) = wᵀz + MLP(P z),   z = 2x - 1,   P: rank × n,   MLP: rank → hidden → hidden → 1.

    The linear term carries the local gradient of every parameter directly; the small MLP on a
    learned rank-dimensional projection keeps the curvature and plateau edges the paper's large
    MLP models. At n = 196,608 with rank 16 that is 3.3 M weights (13 MB; with Adam's two moments
    40 MB) where the positional-encoded 8×128 MLP needs 327 M (1.3 GB, 3.9 GB with Adam)."""

    def __init__(self, n: int, gen: torch.Generator, rank: int = 16, hidden: int = 64, negative_slope: float = 0.01):
        super().__init__()
        self.linear = nn.Linear(n, 1)
        self.project = nn.Linear(n, rank, bias=False)
        _init_linear(self.linear, gen)
        with torch.no_grad():
            self.linear.weight.zero_()  # start flat: a random slope would steer the first steps
            self.project.weight.uniform_(-1.0 / math.sqrt(n), 1.0 / math.sqrt(n), generator=gen)
        self.net = leaky_mlp(rank, hidden, 2, gen, negative_slope)

    def forward(self, x):
        z = x * 2.0 - 1.0
        return self.linear(z).squeeze(-1) + self.net(self.project(z)).squeeze(-1)


def replay_log_weights(
    rho: torch.Tensor,
    theta_now: torch.Tensor,
    sigma_now: torch.Tensor,
    theta_then: torch.Tensor,
    sigma_then: torch.Tensor,
) -> torch.Tensor:
    """log λ(ρ; θ_now, σ_now) - log q(ρ; θ_then, σ_then) for axis-aligned Gaussians (σ per parameter):
    the importance weight that makes a sample drawn around θ_then count for the kernel around θ_now."""
    now = (((rho - theta_now) / sigma_now) ** 2).sum(1) / 2.0
    then = (((rho - theta_then) / sigma_then) ** 2).sum(1) / 2.0
    return then - now - float(torch.log(sigma_now / sigma_then).sum())

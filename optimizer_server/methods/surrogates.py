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

    def __init__(self, n: int, hidden: int, layers: int, gen: torch.Generator, pe_frequencies: int = 0,
                 negative_slope: float = 0.01):
        super().__init__()
        self.encoding = PositionalEncoding(pe_frequencies) if pe_frequencies > 0 else None
        width_in = self.encoding.out_features(n) if self.encoding is not None else n
        mods = []
        for _ in range(layers):
            lin = nn.Linear(width_in, hidden)
            _init_linear(lin, gen)
            mods += [lin, nn.LeakyReLU(negative_slope)]
            width_in = hidden
        out = nn.Linear(width_in, 1)
        _init_linear(out, gen)
        mods.append(out)
        self.net = nn.Sequential(*mods)

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


def build_surrogate(kind: str, n: int, gen: torch.Generator, high_dim_threshold: int, pe_frequencies: int):
    """``auto``: 3×64 MLP below ``high_dim_threshold`` dimensions, else 8×128 with positional encoding."""
    if kind == "auto":
        kind = "mlp" if n < high_dim_threshold else "mlp_large"
    if kind == "mlp":
        return MLPSurrogate(n, hidden=64, layers=3, gen=gen)
    if kind == "mlp_large":
        return MLPSurrogate(n, hidden=128, layers=8, gen=gen, pe_frequencies=pe_frequencies)
    if kind == "quadratic":
        return QuadraticSurrogate(n)
    raise ValueError(kind)

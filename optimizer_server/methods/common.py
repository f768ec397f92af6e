"""Small pieces shared by the torch-based methods: an Adam for θ, generators, optimiser states."""

from __future__ import annotations

from typing import Any

import torch

from ..device import resolve_device


class VectorAdam:
    """Adam (Kingma & Ba, default betas) on one flat tensor, with the update formula of
    ``torch.optim.Adam``. Hand-rolled because θ's gradient comes from an estimator, not autograd,
    and the plain tensor state is trivial to save."""

    def __init__(self, theta: torch.Tensor, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.lr, self.betas, self.eps = lr, betas, eps
        self.m = torch.zeros_like(theta)
        self.v = torch.zeros_like(theta)
        self.t = 0

    def step(self, theta: torch.Tensor, grad: torch.Tensor, lr: float = None) -> None:
        """Update ``theta`` in place against ``grad`` (descent)."""
        b1, b2 = self.betas
        self.t += 1
        self.m.mul_(b1).add_(grad, alpha=1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        bc1, bc2 = 1 - b1**self.t, 1 - b2**self.t
        denom = (self.v / bc2).sqrt_().add_(self.eps)
        theta.addcdiv_(self.m, denom, value=-(self.lr if lr is None else lr) / bc1)

    def state_dict(self) -> dict[str, Any]:
        return {"m": self.m.clone(), "v": self.v.clone(), "t": self.t}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.m.copy_(s["m"])
        self.v.copy_(s["v"])
        self.t = int(s["t"])


def make_adam(params, lr: float) -> torch.optim.Adam:
    """Adam for the surrogate's weights, fused where torch supports it: one kernel for all
    tensors instead of a loop — the weight update dominates a refit step (measured ~5× faster on CPU)."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


def make_generator(device: torch.device, seed: int) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def generator_state(g: torch.Generator) -> torch.Tensor:
    return g.get_state().clone()


def set_generator_state(g: torch.Generator, state) -> None:
    g.set_state(torch.as_tensor(state, dtype=torch.uint8).cpu())


def torch_optimizer_state(opt: torch.optim.Optimizer) -> dict[str, Any]:
    """``opt.state_dict()`` with string keys (our state files allow only string keys)."""
    sd = opt.state_dict()
    return {
        "state": {str(k): dict(v) for k, v in sd["state"].items()},
        "param_groups": [dict(g) for g in sd["param_groups"]],
    }


def load_torch_optimizer_state(opt: torch.optim.Optimizer, s: dict[str, Any]) -> None:
    groups = []
    for g in s["param_groups"]:
        g = dict(g)
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    opt.load_state_dict({"state": {int(k): v for k, v in s["state"].items()}, "param_groups": groups})


__all__ = [
    "VectorAdam",
    "make_adam",
    "make_generator",
    "generator_state",
    "set_generator_state",
    "torch_optimizer_state",
    "load_torch_optimizer_state",
    "resolve_device",
]

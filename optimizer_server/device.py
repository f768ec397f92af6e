"""Pick the torch device: CUDA when present, else CPU (overridable)."""

from __future__ import annotations

from .wire.errors import ConfigError


def resolve_device(device=None):
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device {device!r} is not a torch device name (try 'cpu', 'cuda' or 'auto')") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but torch sees no CUDA GPU; use device='auto' or 'cpu'")
    return dev

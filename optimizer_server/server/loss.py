"""The image loss, computed against a target converted once: on the GPU with torch when the
server's device is CUDA, else with numpy (see ``ImageLoss`` for why not torch on CPU)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from ..wire.errors import ConfigError


class ImageLoss:
    """Mean squared error over pixels and channels, optionally weighted by a mask.

    Each image is reduced on its own with one dot product of its flattened difference: a sample's
    loss never depends on how a batch was split over workers (a resumed run is bit-identical), and
    received frames are used in place, without stacking them into a new batch array first.

    On a CPU device the arithmetic runs in numpy: torch's intra-op thread pool turned a 0.1 ms
    256² loss into 8-24 ms whenever another process kept a core busy (measured on a 2-core box).
    """

    def __init__(self, target: np.ndarray, device, mask: np.ndarray | None = None, use_torch: bool | None = None):
        """``use_torch``: None picks torch exactly when ``device`` is not the CPU."""
        target = np.asarray(target)
        if target.ndim != 3 or not np.all(np.isfinite(target)):
            raise ConfigError(f"the target must be a finite (H, W, C) image, got shape {target.shape}")
        self.shape = tuple(target.shape)
        self.device = device
        flat_target = np.ascontiguousarray(target, dtype=np.float32).reshape(-1)
        flat_weights = None
        count = float(target.size)
        if mask is not None:
            mask = np.asarray(mask, dtype=np.float32)
            if mask.ndim != 3 or mask.shape[:2] != self.shape[:2] or mask.shape[2] not in (1, self.shape[2]):
                raise ConfigError(
                    f"the mask must have shape ({self.shape[0]}, {self.shape[1]}, 1) or "
                    f"{self.shape} to match the target, got {mask.shape}"
                )
            if not np.all(np.isfinite(mask)) or np.any(mask < 0) or not np.any(mask > 0):
                raise ConfigError("the mask must be finite, non-negative and not all zero")
            flat_weights = np.ascontiguousarray(np.broadcast_to(mask, self.shape)).reshape(-1)
            count = float(flat_weights.sum(dtype=np.float64))
        self._count = count
        on_cpu = getattr(device, "type", str(device)) == "cpu"
        self._use_torch = (not on_cpu) if use_torch is None else use_torch
        if self._use_torch:
            import torch

            self._target = torch.from_numpy(flat_target).to(device)
            self._weights = None if flat_weights is None else torch.from_numpy(flat_weights).to(device)
        else:
            self._target, self._weights = flat_target, flat_weights

    def __call__(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Losses (float64) of images of the target's shape."""
        if self._use_torch:
            return self._torch_losses(images)
        sums = np.empty(len(images))
        for i, image in enumerate(images):
            diff = image.reshape(-1) - self._target
            sums[i] = np.dot(diff if self._weights is None else diff * self._weights, diff)
        return sums / self._count

    def residuals(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(k, P) float32 residuals whose squares sum to each image's loss: (image - target)·√(w / count).
        For methods that use the pixels, not only the loss (``Method.wants_residuals``)."""
        out = np.empty(
            (len(images), self._target.shape[0] if not self._use_torch else self._target.numel()), dtype=np.float32
        )
        target = self._target if not self._use_torch else self._target.cpu().numpy()
        weights = self._weights if not self._use_torch or self._weights is None else self._weights.cpu().numpy()
        scale = np.float32(1.0 / np.sqrt(self._count))
        for i, image in enumerate(images):
            diff = image.reshape(-1).astype(np.float32) - target
            out[i] = diff * (scale if weights is None else np.sqrt(weights) * scale)
        return out

    def _torch_losses(self, images: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        sums = torch.empty(len(images), dtype=torch.float64, device=self.device)
        with warnings.catch_warnings():  # received frames are read-only; they are only read here
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            for i, image in enumerate(images):
                diff = torch.from_numpy(image.reshape(-1)).to(self.device, non_blocking=True) - self._target
                sums[i] = torch.dot(diff if self._weights is None else diff * self._weights, diff)
        return (sums / self._count).cpu().numpy()

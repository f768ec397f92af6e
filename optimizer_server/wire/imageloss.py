"""The one image loss: mean squared error over pixels and channels, optionally weighted by a mask.

The server scores every render with it, the batch runner its final picture, and the scene benchmark
its renders; methods that use the pixels (``Method.wants_residuals``) get the residual vectors whose
squares sum to the same losses. Arithmetic is float64 per image: a sample's loss never depends on the
batch or the worker chunk its image arrived in, so a resumed run is bit-identical.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import ConfigError


class ImageLoss:
    """``loss(images)``: (k,) losses of images shaped like the target; ``residuals(images)``: (k, P)."""

    def __init__(self, target: np.ndarray, mask: np.ndarray | None = None):
        target = np.asarray(target)
        if target.ndim != 3 or not np.all(np.isfinite(target)):
            raise ConfigError(f"the target must be a finite (H, W, C) image, got shape {target.shape}")
        self.shape = tuple(target.shape)
        self.target = np.asarray(target, dtype=np.float64)
        self.weights: np.ndarray | None = None
        self.count = float(target.size)
        if mask is not None:
            mask = np.asarray(mask, dtype=np.float64)
            if mask.ndim != 3 or mask.shape[:2] != self.shape[:2] or mask.shape[2] not in (1, self.shape[2]):
                raise ConfigError(
                    f"the mask must have shape ({self.shape[0]}, {self.shape[1]}, 1) or "
                    f"{self.shape} to match the target, got {mask.shape}"
                )
            if not np.all(np.isfinite(mask)) or np.any(mask < 0) or not np.any(mask > 0):
                raise ConfigError("the mask must be finite, non-negative and not all zero")
            self.weights = np.ascontiguousarray(np.broadcast_to(mask, self.shape))
            self.count = float(self.weights.sum())

    def _difference(self, image: np.ndarray) -> np.ndarray:
        return np.asarray(image, dtype=np.float64) - self.target

    def loss(self, image: np.ndarray) -> float:
        diff = self._difference(image)
        if self.weights is None:
            return float(np.mean(diff**2))
        return float(np.sum(self.weights * diff**2) / self.count)

    def __call__(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(k,) float64 losses, one per image (each reduced on its own)."""
        return np.array([self.loss(image) for image in images], dtype=np.float64)

    def residuals(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(k, P) float64 vectors (image - target)·√(w / count) whose squares sum to each image's loss."""
        diffs = np.stack([self._difference(image).ravel() for image in images])
        if self.weights is None:
            return diffs / np.sqrt(self.count)
        return diffs * np.sqrt(self.weights.ravel() / self.count)

"""Pictures people would rather see than read: images (linear → display) and loss curves."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window (headless servers, CI)
    import matplotlib.pyplot as plt

    return plt


def to_display(image: np.ndarray) -> np.ndarray:
    """Linear float RGB(A) → 8-bit sRGB (clipped) for viewing. Never use the result for losses."""
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    rgb = img[..., :3] if img.ndim == 3 else img
    rgb = np.clip(rgb, 0.0, 1.0)
    srgb = np.where(rgb <= 0.0031308, 12.92 * rgb, 1.055 * np.power(rgb, 1 / 2.4) - 0.055)
    return (srgb * 255 + 0.5).astype(np.uint8)


def save_image(path, image: np.ndarray, scale: int = 1) -> str:
    """Write a linear float image as an sRGB PNG (nearest-neighbour upscaled by ``scale``)."""
    plt = _pyplot()
    pixels = to_display(image)
    if scale > 1:
        pixels = pixels.repeat(scale, 0).repeat(scale, 1)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    plt.imsave(path, pixels, cmap="gray" if pixels.ndim == 2 else None)
    return str(path)


def plot_losses(
    path,
    curves: dict[str, Sequence[dict]],
    x_key: str = "evaluations",
    y_key: str = "loss",
    title: str = "loss",
    log_y: bool = True,
) -> str:
    """One line per run: ``curves`` maps a label to a history (list of dicts with x_key / y_key)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    for label, history in curves.items():
        xs = [h[x_key] for h in history]
        ys = [max(h[y_key], 1e-12) if log_y else h[y_key] for h in history]
        ax.plot(xs, ys, label=label, linewidth=1.2)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(x_key.replace("_", " "))
    ax.set_ylabel(y_key.replace("_", " "))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return str(path)


def image_strip(path, images: list[np.ndarray], labels: Iterable[str], scale: int = 4) -> str:
    """Side-by-side images with captions (e.g. start / result / target)."""
    plt = _pyplot()
    labels = list(labels)
    fig, axes = plt.subplots(1, len(images), figsize=(2.4 * len(images), 2.7), dpi=100)
    for ax, img, label in zip(np.atleast_1d(axes), images, labels):
        ax.imshow(to_display(img), interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return str(path)

"""Small image helpers shared by the add-on and the batch runner (numpy + stdlib only).

* ``write_png``: linear float RGBA → sRGB 8-bit PNG, for people to look at (losses are always
  computed on the linear floats, never on these).
* ``plot_curve``: a loss curve rasterised with numpy (no matplotlib inside Blender).
* ``load_image``: any format Blender reads (EXR, PNG, ...) as linear float RGBA; imports bpy lazily.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

import numpy as np


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    x = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    x = np.asarray(encoded, dtype=np.float32)
    return np.where(x <= 0.04045, x / 12.92, np.power((x + 0.055) / 1.055, 2.4)).astype(np.float32)


def to_display_bytes(image: np.ndarray) -> np.ndarray:
    """(H, W, C) linear float → (H, W, 4) uint8 sRGB, alpha kept linear."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[:, :, None]
    h, w, c = image.shape
    rgb = image[:, :, :3] if c >= 3 else np.repeat(image[:, :, :1], 3, axis=2)
    alpha = image[:, :, 3:4] if c >= 4 else np.ones((h, w, 1), np.float32)
    out = np.concatenate([linear_to_srgb(rgb), np.clip(alpha, 0, 1)], axis=2)
    return (out * 255.0 + 0.5).astype(np.uint8)


def write_png(path: str, image: np.ndarray, linear: bool = True) -> None:
    """Write an (H, W, 4) image top-down. ``linear=False`` takes uint8 RGBA as it is."""
    data = to_display_bytes(image) if linear else np.asarray(image, dtype=np.uint8)
    h, w = data.shape[:2]
    raw = b"".join(b"\x00" + data[row].tobytes() for row in range(h))

    def chunk(tag: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 6)))
        f.write(chunk(b"IEND", b""))


def plot_curve(
    values: Sequence[float], width: int = 320, height: int = 160, log: bool = True, color=(230, 120, 40)
) -> np.ndarray:
    """A line plot of ``values`` as (H, W, 4) uint8 RGBA, top-down: dark background, frame, curve.

    ``log`` plots log10 of positive values (losses span decades); non-finite points are skipped.
    """
    img = np.zeros((height, width, 4), np.uint8)
    img[...] = (32, 32, 32, 255)
    img[[0, -1], :, :3] = 90
    img[:, [0, -1], :3] = 90
    y = np.asarray(list(values), dtype=np.float64)
    ok = np.isfinite(y) & ((y > 0) if log else True)
    if ok.sum() < 1:
        return img
    if log:
        y = np.where(ok, np.log10(np.where(ok, y, 1.0)), np.nan)
    lo, hi = np.nanmin(y[ok]), np.nanmax(y[ok])
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 4
    xs = pad + (np.arange(len(y)) / max(len(y) - 1, 1)) * (width - 1 - 2 * pad)
    ys = pad + (1.0 - (y - lo) / (hi - lo)) * (height - 1 - 2 * pad)
    previous: tuple | None = None
    for x_, y_, good in zip(xs, ys, ok):
        if not good:
            previous = None
            continue
        if previous is not None:
            _line(img, previous, (x_, y_), color)
        else:
            _dot(img, x_, y_, color)
        previous = (x_, y_)
    return img


def _dot(img, x, y, color):
    h, w = img.shape[:2]
    xi, yi = int(round(x)), int(round(y))
    if 0 <= xi < w and 0 <= yi < h:
        img[yi, xi, :3] = color


def _line(img, a, b, color):
    steps = int(max(abs(b[0] - a[0]), abs(b[1] - a[1]))) + 1
    for t in np.linspace(0.0, 1.0, steps + 1):
        _dot(img, a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, color)
        _dot(img, a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t + 1, color)


def load_image(path: str) -> np.ndarray:
    """An image file as (H, W, 4) float32 linear RGBA, top-down (needs bpy).

    Float formats (EXR, HDR) are read as stored; 8-bit formats (PNG, JPEG) are converted from
    their colour space to linear by Blender, which is what the renders are compared in.
    """
    import bpy

    try:
        image = bpy.data.images.load(path, check_existing=False)
    except RuntimeError as exc:
        raise FileNotFoundError(f"cannot read image {path!r}: {exc}") from None
    try:
        w, h = image.size
        if w == 0 or h == 0:
            raise ValueError(f"{path!r} is not an image Blender can read (size 0×0)")
        encoded_srgb = not image.is_float and image.colorspace_settings.name == "sRGB"
        if image.is_float:
            image.colorspace_settings.is_data = True  # keep stored linear values untouched
        buf = np.empty(w * h * 4, dtype=np.float32)
        image.pixels.foreach_get(buf)  # 8-bit images come back still sRGB-encoded
    finally:
        bpy.data.images.remove(image)
    out = buf.reshape(h, w, 4)[::-1].copy()
    if encoded_srgb:
        out[:, :, :3] = srgb_to_linear(out[:, :, :3])
    return out

"""The target image (and optional mask) of an optimisation, as linear float arrays."""

from __future__ import annotations

import os

import bpy
import numpy as np

from . import images, render
from ._deps import ConfigError

CAPTURED_NAME = "ZeroGrads Target"


def render_current(scene, width: int, height: int, samples: int, seed: int = 0, frame: int | None = None) -> np.ndarray:
    """One render of the scene as it is, with the optimisation's settings; the scene's own render
    settings are given back afterwards."""
    with render.temporary_settings(scene):
        render.configure(scene, width, height, samples)
        with render.Renderer(scene) as renderer:
            if frame is not None:
                render.step_frames(scene, frame)
            return renderer.render(seed=seed)


def store_image(name: str, pixels: np.ndarray):
    """Keep a float image in the .blend (packed, linear, channels exact)."""
    h, w = pixels.shape[:2]
    image = bpy.data.images.get(name)
    if image is None or tuple(image.size) != (w, h) or not image.is_float:
        if image is not None:
            bpy.data.images.remove(image)
        image = bpy.data.images.new(name, w, h, alpha=True, float_buffer=True)
    image.colorspace_settings.is_data = True
    image.alpha_mode = "CHANNEL_PACKED"  # no premultiplication: stored values come back exactly
    rgba = np.ones((h, w, 4), np.float32)
    rgba[:, :, : pixels.shape[2]] = pixels
    image.pixels.foreach_set(np.ascontiguousarray(rgba[::-1]).ravel())  # Blender's rows run bottom-up
    image.use_fake_user = True
    image.pack()
    return image


def image_pixels(image) -> np.ndarray:
    """A Blender image datablock as (H, W, 4) float32, top-down."""
    w, h = image.size
    buf = np.empty(w * h * 4, np.float32)
    image.pixels.foreach_get(buf)
    return np.ascontiguousarray(buf.reshape(h, w, 4)[::-1])


def capture(scene):
    """'Capture Target': render the scene now and store the image in the .blend."""
    s = scene.zerograds
    frame = s.physics_frame if s.use_physics_frame else None
    pixels = render_current(scene, s.width, s.height, s.samples, seed=12345, frame=frame)
    image = store_image(CAPTURED_NAME, pixels)
    s.target_image = image
    s.target_source = "CAPTURED"
    return image


def _check_size(what: str, shape, width: int, height: int) -> None:
    h, w = shape[:2]
    if (w, h) != (width, height):
        same_aspect = abs(w / h - width / height) < 1e-3
        hint = (
            f"set the render size to {w}×{h}"
            + (" (or scale the image; it has the same aspect ratio)" if same_aspect else "")
            + f", or use a {width}×{height} image"
        )
        raise ConfigError(f"the {what} is {w}×{h} pixels but renders are {width}×{height}: {hint}")


def load_target(scene) -> tuple[np.ndarray, np.ndarray | None]:
    """(target (H, W, 4), mask (H, W, 1) or None) for the scene's settings; size mismatches explained."""
    s = scene.zerograds
    if s.target_source == "CAPTURED":
        if s.target_image is None:
            raise ConfigError(
                "no captured target: press 'Capture Target' with the scene looking as it should, "
                "or choose an image file"
            )
        target = image_pixels(s.target_image)
    else:
        path = bpy.path.abspath(s.target_file)
        if not s.target_file or not os.path.isfile(path):
            raise ConfigError(
                f"target image {s.target_file!r} does not exist; choose an image file "
                "(EXR keeps linear values) or capture the target"
            )
        target = images.load_image(path)
    _check_size("target", target.shape, s.width, s.height)
    mask = None
    if s.mask_file:
        path = bpy.path.abspath(s.mask_file)
        if not os.path.isfile(path):
            raise ConfigError(f"mask image {s.mask_file!r} does not exist; clear the field to use no mask")
        mask = images.load_image(path)[:, :, :1]
        _check_size("mask", mask.shape, s.width, s.height)
    return target, mask

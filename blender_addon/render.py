"""Render with Cycles for optimisation and get linear float pixels back fast.

Fast path (default, "memory"): while the Cycles engine still holds its render result we copy
the Combined pass with ``foreach_get`` into a float32 buffer. We do that from a thin wrapper
around ``cycles.CyclesRender.render``, installed only while a :class:`Renderer` is open.
Fallback ("exr"): write an uncompressed float EXR to /dev/shm and read it back; ~20× the
cost, used by the benchmark for comparison and when the Cycles add-on cannot be wrapped.

Images are returned top-down (row 0 is the top of the picture), shape (H, W, 4), linear RGBA.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time

import bpy
import numpy as np

from ._deps import ZeroGradsError


class RenderError(RuntimeError, ZeroGradsError):
    """Cycles did not produce an image (wrong engine, no camera, cancelled render...)."""


def configure(
    scene, width: int, height: int, samples: int, threads: int = 0, persistent: bool = True, device: str = "CPU"
) -> None:
    """Set the scene up for many small, identical-cost renders.

    No denoising (costs 10× a 64² render), no adaptive sampling (the cost and the noise pattern
    would depend on the parameters), no compositing, a fixed seed unless the caller sets one.
    ``threads=0`` lets Cycles use every core; threads cannot change after the first render.
    ``device``: "CPU", or "GPU" once ``devices.select`` chose the backend and its devices.
    """
    scene.render.engine = "CYCLES"
    cyc = scene.cycles
    cyc.device = device
    cyc.samples = int(samples)
    cyc.use_adaptive_sampling = False
    cyc.use_denoising = False
    cyc.use_animated_seed = False
    r = scene.render
    r.resolution_x, r.resolution_y, r.resolution_percentage = int(width), int(height), 100
    r.use_persistent_data = persistent
    r.use_compositing = False
    r.use_sequencer = False
    r.use_single_layer = True
    r.use_border = False
    if threads:
        r.threads_mode, r.threads = "FIXED", int(threads)
    else:
        r.threads_mode = "AUTO"
    scene.update_tag()  # scene.cycles.* carries no depsgraph update of its own


_CONFIGURED = {  # what configure() changes, so an artist's scene can be given back untouched
    "render": (
        "engine",
        "resolution_x",
        "resolution_y",
        "resolution_percentage",
        "use_persistent_data",
        "use_compositing",
        "use_sequencer",
        "use_single_layer",
        "use_border",
        "threads_mode",
        "threads",
    ),
    "cycles": ("device", "samples", "use_adaptive_sampling", "use_denoising", "use_animated_seed", "seed"),
}


@contextlib.contextmanager
def temporary_settings(scene):
    """Restore every setting :func:`configure` and :class:`Renderer` change (and the frame) on exit."""
    owners = {"render": scene.render, "cycles": scene.cycles}
    saved = {(group, attr): getattr(owners[group], attr) for group, attrs in _CONFIGURED.items() for attr in attrs}
    frame = scene.frame_current
    try:
        yield
    finally:
        for (group, attr), value in saved.items():
            setattr(owners[group], attr, value)
        if scene.frame_current != frame:
            scene.frame_set(frame)
        scene.update_tag()


def step_frames(scene, frame: int) -> None:
    """Simulate from the first frame up to ``frame`` (rigid bodies, simulation nodes).

    Jumping straight to a late frame gives wrong physics; stepping every frame is what Blender
    does during playback. The point cache is invalidated when start conditions change.
    """
    start = scene.frame_start
    if frame < start:
        raise RenderError(f"physics frame {frame} is before the scene's first frame {start}")
    for f in range(start, frame + 1):
        scene.frame_set(f)


class Renderer:
    """Renders ``scene`` and returns (H, W, 4) float32 linear images, top-down.

    Use as a context manager (or call :meth:`close`): it temporarily wraps Cycles' render
    callback to read pixels in memory.
    """

    def __init__(self, scene, readback: str = "memory"):
        if readback not in ("memory", "exr"):
            raise ValueError(f"readback must be 'memory' or 'exr', got {readback!r}")
        self.scene = scene
        self.readback = readback
        self.engine_seconds = 0.0  # time spent inside Cycles' own render() for the last image
        self.grab_seconds = 0.0  # time to copy its pixels out (memory readback)
        self._image: np.ndarray | None = None
        self._grab_error: Exception | None = None
        self._seed: int | None = None
        self._exr_dir = None
        self._original = None
        self._install_hook()  # times Cycles' own work in both modes; grabs pixels in "memory" mode
        if readback == "exr":
            self._exr_dir = tempfile.mkdtemp(prefix="zerograds_", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)

    # --- the in-memory hook ------------------------------------------------------------------
    def _install_hook(self) -> None:
        import cycles  # the Cycles add-on; always present in Blender builds with Cycles

        engine_class = cycles.CyclesRender
        original = engine_class.render
        renderer = self

        def render_and_grab(engine, depsgraph):
            t0 = time.perf_counter()
            original(engine, depsgraph)
            renderer.engine_seconds = time.perf_counter() - t0
            if not engine.is_preview and renderer.readback == "memory":
                t1 = time.perf_counter()
                try:
                    renderer._grab(engine)
                except Exception as exc:  # never let our code break Cycles' callback; render() reports it
                    renderer._grab_error = exc
                renderer.grab_seconds = time.perf_counter() - t1

        render_and_grab.zerograds_original = original
        engine_class.render = render_and_grab
        self._engine_class, self._original = engine_class, original

    def _grab(self, engine) -> None:
        result = engine.get_result()
        if result is None or not len(result.layers):
            return
        layer = result.layers[0]
        combined = layer.passes.find_by_type("COMBINED", "") if hasattr(layer.passes, "find_by_type") else None
        if combined is None:
            combined = layer.passes.get("Combined")
        if combined is None:
            return
        w, h, c = result.resolution_x, result.resolution_y, combined.channels
        buf = np.empty(w * h * c, dtype=np.float32)
        try:
            combined.rect.foreach_get(buf)
        except TypeError:  # Blender < 4 wants the (pixels, channels) shape of the 2-D array
            combined.rect.foreach_get(buf.reshape(w * h, c))
        # Blender's rows run bottom-up; the project's images are top-down.
        self._image = np.ascontiguousarray(buf.reshape(h, w, c)[::-1])

    def close(self) -> None:
        if self._original is not None:
            # Only unwrap if nobody wrapped on top of us in between.
            if getattr(self._engine_class.render, "zerograds_original", None) is self._original:
                self._engine_class.render = self._original
            self._original = None
        if self._exr_dir:
            for name in os.listdir(self._exr_dir):
                os.unlink(os.path.join(self._exr_dir, name))
            os.rmdir(self._exr_dir)
            self._exr_dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- rendering ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget what was set on the scene (after another file was opened)."""
        self._seed = None

    def set_seed(self, seed: int) -> None:
        """Cycles' noise seed. Tagging the scene is needed or persistent data keeps the old seed."""
        seed = int(seed) % (2**31)
        if seed != self._seed:
            self.scene.cycles.seed = seed
            self.scene.update_tag()
            self._seed = seed

    def render(self, seed: int | None = None) -> np.ndarray:
        if seed is not None:
            self.set_seed(seed)
        if self.readback == "exr":
            return self._render_exr()
        self._image = self._grab_error = None
        result = self._call_render(write_still=False)
        if self._grab_error is not None:
            raise RenderError(f"reading the rendered pixels failed: {self._grab_error}")
        if "FINISHED" not in result or self._image is None:
            raise RenderError(self._why_no_image())
        image, self._image = self._image, None
        return image

    def _call_render(self, write_still: bool):
        try:
            return bpy.ops.render.render(write_still=write_still, scene=self.scene.name)
        except RuntimeError as exc:  # Blender reports "Error: Cannot render, no camera" this way
            raise RenderError(f"{self._why_no_image()} ({str(exc).strip()})") from None

    def _why_no_image(self) -> str:
        if self.scene.render.engine != "CYCLES":
            return f"the scene renders with {self.scene.render.engine}, not Cycles"
        if self.scene.camera is None:
            return f"scene {self.scene.name!r} has no active camera; set one in Scene properties"
        return "Cycles returned no image (render cancelled or failed; see Blender's console)"

    def _render_exr(self) -> np.ndarray:
        r = self.scene.render
        settings = r.image_settings
        settings.file_format = "OPEN_EXR"
        settings.color_depth = "32"
        settings.exr_codec = "NONE"
        settings.color_mode = "RGBA"
        path = os.path.join(self._exr_dir, "render.exr")
        r.filepath = path
        result = self._call_render(write_still=True)
        if "FINISHED" not in result or not os.path.exists(path):
            raise RenderError(self._why_no_image())
        return read_exr(path)


def read_exr(path: str) -> np.ndarray:
    """A float EXR as (H, W, 4) float32, top-down, linear (no view transform)."""
    from .images import load_image

    return load_image(path)

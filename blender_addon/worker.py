"""Headless Cycles render worker.

    python -m blender_addon.worker --connect tcp://127.0.0.1:5555 --blend scene.blend
    python -m blender_addon.worker --connect tcp://host:5555 --device auto     # scenes come with the jobs

or inside Blender itself (see ``worker_processes.blender_command``)::

    blender -b scene.blend --python-expr "import blender_addon.worker as w; w.main()" -- --connect ADDR

It registers with the optimizer server (``optimizer_server.wire.worker_loop``), and for every batch
applies each sample's values in one go, renders with Cycles (persistent data, the per-sample
seed) and returns linear float RGBA pixels read in memory: with several cameras (the job's
``cameras``) the views side by side in one image. Without ``--blend`` (and no file open) it
renders whatever scene each job carries: fetched from the server by hash the first time, cached in
``--scene-cache`` (default ``~/.cache/zerograds/scenes``) for the next job on it.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from typing import Any

import bpy
import numpy as np

from . import devices, jobspec, params, render

log = logging.getLogger("zerograds.blender_worker")


class SceneRenderer:
    """The ``render_batch`` callback: (B, n) values → (B, H, W, 4) float32 images.

    Data paths are resolved once per job; switching to another job first restores the values
    the previous job changed, so jobs never see each other's parameters.
    """

    def __init__(self, scene=None, threads: int = 0, readback: str = "memory", device: str = "CPU"):
        self.scene = scene or bpy.context.scene
        self.threads = threads
        self.device = device  # "CPU" or "GPU" (devices.select chose which GPUs)
        self.renderer = render.Renderer(self.scene, readback=readback)
        self._job: str | None = None
        self._bindings: list[params.Binding] = []
        self._saved: list = []
        self._frame: int | None = None
        self._size = 0
        self._cameras: list = []  # [("", the scene's own camera), (name, camera) ...] for multi-view jobs

    @property
    def bindings(self) -> list:
        """The current job's live bindings (in the order of its parameters)."""
        return list(self._bindings)

    def close(self) -> None:
        """Give back the values the current job changed and unwrap Cycles."""
        self._leave_job()
        self.renderer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def setup(self, settings: dict[str, Any], param_names: list[str], job: str | None = None) -> None:
        refs = jobspec.ordered_refs(settings, param_names)  # checks the settings first
        self._leave_job()
        bindings = params.resolve_all(refs)  # raises naming every bad path; nothing written yet
        self._cameras = _cameras(self.scene, settings.get("cameras"))
        self._bindings, self._saved = bindings, params.snapshot(bindings)
        for b in bindings:
            if getattr(b, "is_array", False):
                b.prepare_for_render()  # images: writes Cycles' persistent data sees
        self._size = sum(params.size_of(b) for b in bindings)
        render.configure(
            self.scene,
            settings["width"],
            settings["height"],
            settings["samples"],
            threads=self.threads,
            device=self.device,
        )
        self._frame = settings.get("frame")
        self._job = job

    def _leave_job(self) -> None:
        if self._bindings:
            params.restore(self._bindings, self._saved)
            for b in self._bindings:
                if getattr(b, "is_array", False):
                    b.release()
        if self._cameras:
            self.scene.camera = self._cameras[0][1]
        self._bindings, self._saved, self._job, self._cameras = [], [], None, []

    def render_one(self, values, seed: int) -> np.ndarray:
        params.apply_values(self._bindings, values)
        if self._frame is not None:
            render.step_frames(self.scene, self._frame)
        if not self._cameras:
            return self.renderer.render(seed=int(seed))
        views = []
        for _, camera in self._cameras[1:]:
            self.scene.camera = camera
            views.append(self.renderer.render(seed=int(seed)))
        self.scene.camera = self._cameras[0][1]
        return np.concatenate(views, axis=1)  # side by side: one loss over every view

    def open_scene(self, path: str) -> None:
        """Switch to another .blend (a job's fetched scene): opened as data, its scripts never run."""
        # bindings and cameras belong to the file being closed
        self._bindings, self._saved, self._job, self._cameras = [], [], None, []
        bpy.ops.wm.open_mainfile(filepath=path, load_ui=False, use_scripts=False)
        self.scene = self.renderer.scene = bpy.context.scene
        self.renderer.reset()
        self.scene_file = path

    def __call__(self, values: np.ndarray, settings: dict[str, Any], seeds: np.ndarray) -> np.ndarray:
        job = settings.get("job")
        scene_file = settings.get("scene_file")
        if scene_file is not None and scene_file != getattr(self, "scene_file", None):
            self.open_scene(scene_file)
        if job != self._job or not self._bindings:
            names = [p["name"] for p in settings.get("params", [])]
            self.setup(settings, names, job)
        if values.shape[1] != self._size:
            raise ValueError(f"got {values.shape[1]} values per sample for parameters holding {self._size}")
        images = [self.render_one(row, seed) for row, seed in zip(values, seeds)]
        return np.stack(images)


def _cameras(scene, names) -> list:
    """The scene's camera first (given back after each sample), then each named camera object."""
    if not names:
        return []
    found = []
    for name in names:
        obj = bpy.data.objects.get(name)
        if obj is None or obj.type != "CAMERA":
            cams = [o.name for o in bpy.data.objects if o.type == "CAMERA"]
            raise params.DataPathError(f"render setting 'cameras': no camera object {name!r}; cameras: {cams}")
        found.append((name, obj))
    return [("", scene.camera)] + found


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m blender_addon.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--connect", required=True, metavar="ADDR", help="optimizer server, e.g. tcp://127.0.0.1:5555")
    parser.add_argument(
        "--blend",
        metavar="FILE",
        help="scene to render (default: the file Blender has open; none: the scene each job carries)",
    )
    parser.add_argument(
        "--scene-cache", metavar="DIR", help="where fetched scenes are kept (default ~/.cache/zerograds/scenes)"
    )
    parser.add_argument("--threads", type=int, default=0, help="Cycles CPU threads (0 = all cores)")
    parser.add_argument(
        "--device",
        default="auto",
        choices=devices.CHOICES,
        help="render device: auto (the best GPU backend Cycles reports, else the CPU), cpu, or a GPU backend",
    )
    parser.add_argument("--gpu", type=int, metavar="N", help="render on the N-th GPU of the backend only")
    parser.add_argument("--gpu-ids", metavar="ID,ID", help="render on these Cycles devices (ids as Blender lists them)")
    parser.add_argument("--name", help="worker name shown by the server")
    parser.add_argument("--server-key", help="server's public CurveZMQ key file")
    parser.add_argument("--key", help="this worker's NAME.key_secret file")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument(
        "--lifeline", action="store_true", help="exit when standard input closes (the process that started us died)"
    )
    if argv is None:  # inside `blender ... -- ARGS`, our arguments follow the "--"
        argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s worker %(process)d %(message)s")
    from optimizer_server.wire.transport import CurveKeys
    from optimizer_server.wire.worker_loop import WorkerLoop

    blend = args.blend or bpy.data.filepath
    if blend and not os.path.isfile(blend):
        print(f"error: --blend {blend}: no such file", file=sys.stderr)
        return 2
    if args.blend and os.path.abspath(bpy.data.filepath or "") != os.path.abspath(blend):
        bpy.ops.wm.open_mainfile(filepath=blend, load_ui=False, use_scripts=False)  # the scene is data, never code
    keys = CurveKeys.load(args.server_key, args.key) if args.server_key else None
    ids = [i for i in (args.gpu_ids or "").split(",") if i]
    try:
        device = devices.select(bpy.context.scene, args.device, args.gpu, ids)
    except devices.DeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    renderer = SceneRenderer(bpy.context.scene, threads=args.threads, device="CPU" if device == "CPU" else "GPU")
    capabilities = {
        "renderer": jobspec.RENDERER,
        "blender": bpy.app.version_string,
        "device": device,
        "max_batch": 64,
    }
    cache = None
    if blend:
        capabilities["scene"] = jobspec.scene_id(blend)
    else:  # no scene of its own: it renders the scene each job carries
        from optimizer_server.wire.scene_cache import SceneCache

        cache = SceneCache(args.scene_cache)
    loop = WorkerLoop(args.connect, renderer, capabilities=capabilities, keys=keys, name=args.name, scene_cache=cache)
    signal.signal(signal.SIGTERM, lambda *_: loop.stop())
    if args.lifeline:
        from optimizer_server.wire.lifeline import exit_when_stdin_closes

        exit_when_stdin_closes(on_close=loop.stop)
    what = blend or f"the scenes jobs carry (cached in {cache.directory})"
    log.info("rendering %s on %s for %s", what, device, args.connect)
    try:
        loop.run()
    except KeyboardInterrupt:
        pass
    finally:
        renderer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

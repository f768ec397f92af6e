"""The running optimisation inside Blender: start, stream values into the scene, finish.

A ``bpy.app.timers`` callback (``tick``) drains the server's messages every 0.1 s and writes
the latest parameter values into the scene in one go, so the artist watches it converge while
the UI stays responsive. Starting the server and workers happens on a helper thread (it takes a
few seconds); nothing there touches bpy data.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from typing import Any

import bpy

from . import api, devices, images, jobspec, params, targets
from ._deps import ZeroGradsError
from .runner import Run

TICK_S = 0.1
_current: OptimizeSession | None = None


def current() -> OptimizeSession | None:
    return _current


def report(level: str, message: str) -> None:
    """Into Blender's report system (status bar, Info editor); printed when that is unavailable."""
    try:
        bpy.ops.zerograds.report(level=level, message=message)
    except (RuntimeError, AttributeError):
        print(f"ZeroGrads {level}: {message}")


def server_python(context) -> str:
    addon = context.preferences.addons.get(__package__) if context.preferences else None
    return getattr(addon.preferences, "server_python", "") if addon else ""


def _is_loopback(address: str) -> bool:
    """tcp://127.0.0.1:5555, tcp://localhost:*, ipc://... stay on this computer."""
    if not address.startswith("tcp://"):
        return True
    host = address[len("tcp://") :].rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def named_to_units(bindings: list[params.Binding], names: list[str], named: dict[str, Any]) -> list[float]:
    out = []
    for name, b in zip(names, bindings):
        v = named[name]
        out.append(float(b.choices.index(v)) if b.kind == "enum" else float(v))
    return out


class OptimizeSession:
    def __init__(self, scene, refs, specs, start_raw, run: Run, submit: dict[str, Any]):
        self.scene_name = scene.name
        self.refs = refs
        self.names = [r["name"] for r in refs]
        self.specs = specs
        self.start_raw = start_raw  # exact starting values, for Revert
        self.run = run
        self.budget = submit["budget"]
        self.losses: list[float] = []
        self.iteration = self.evaluations = 0
        self.best_loss: float | None = None
        self.latest: dict[str, Any] | None = None
        self.result: dict[str, Any] | None = None
        self.paused = False
        self.done = False
        self.error: str | None = None
        self.started = time.monotonic()
        self._submit = submit
        self._starter = threading.Thread(target=self._start_run, daemon=True)
        self._start_error: BaseException | None = None
        self._last_curve = 0.0

    # --- starting -----------------------------------------------------------------------------------
    @classmethod
    def begin(cls, context) -> OptimizeSession:
        """Check everything, save a copy of the scene for the workers and start; the scene is untouched."""
        global _current
        if _current is not None and not _current.done:
            raise ZeroGradsError("an optimisation is already running; cancel it first")
        scene = context.scene
        s = scene.zerograds
        if (
            s.server_mode == "REMOTE"
            and not _is_loopback(s.server_address)
            and not getattr(bpy.app, "online_access", True)
        ):
            raise ZeroGradsError(
                "Blender's online access is off (Preferences > System > Network); allow it to "
                "connect to a remote optimizer server, or use a local server"
            )
        specs = api.param_specs(scene)  # every path resolves, bounds are sane
        refs = api.param_refs(scene)
        bindings = params.resolve_all(refs)
        target, mask = targets.load_target(scene)
        work_dir = tempfile.mkdtemp(prefix="zerograds_")
        blend = os.path.join(work_dir, "scene.blend")
        bpy.ops.wm.save_as_mainfile(filepath=blend, copy=True, check_existing=False)
        frame = s.physics_frame if s.use_physics_frame else None
        options = {o.name: o.value() for o in s.options if o.override}
        options["common_random_numbers"] = s.seed_policy == "SHARED"
        if s.preset != "NONE":
            options["preset"] = s.preset
        start_units = params.read_values(bindings)
        start_named = {r["name"]: b.to_raw(v) for r, b, v in zip(refs, bindings, start_units)}
        submit = dict(
            space={"params": specs},
            method=s.method,
            budget=s.budget,
            seed=s.seed,
            target_image=target,
            mask=mask,
            options=options,
            start=start_named,
            name=scene.name,
            settings=jobspec.render_settings(s.width, s.height, s.samples, refs, frame=frame),
        )
        backend, ids = devices.user_choice()  # the user's own Cycles device preferences
        run = Run(
            blend,
            worker_count=s.workers,
            work_dir=work_dir,
            server_python=server_python(context),
            address=s.server_address if s.server_mode == "REMOTE" else None,
            worker_args=devices.worker_args(backend, s.workers, ids),
            ship_scene=s.server_mode == "REMOTE",  # workers elsewhere fetch it from the server
        )
        session = cls(scene, refs, specs, params.snapshot(bindings), run, submit)
        _current = session
        session._starter.start()
        bpy.app.timers.register(session.tick, first_interval=TICK_S)
        return session

    def _start_run(self) -> None:
        submit = dict(self._submit)
        try:
            self.run.start(submit.pop("space"), submit.pop("method"), **submit)
        except BaseException as exc:  # reported on the main thread by tick()
            self._start_error = exc

    # --- streaming ----------------------------------------------------------------------------------
    @property
    def starting(self) -> bool:
        return self._starter.is_alive()

    @property
    def fraction(self) -> float:
        return min(1.0, self.evaluations / max(1, self.budget))

    def eta_s(self) -> float | None:
        if not self.evaluations:
            return None
        elapsed = time.monotonic() - self.started
        return elapsed / self.fraction * (1 - self.fraction)

    def status_text(self) -> str:
        if self.error:
            return self.error.split("\n")[0]
        if self.done:
            state = (self.result or {}).get("state", "finished")
            return f"{state}: {self.evaluations} renders, best loss {self.best_loss or 0:.4g} — keep or revert"
        if self.starting:
            return "starting server and workers…"
        eta = self.eta_s()
        eta_text = f"  ETA {eta:.0f} s" if eta is not None else ""
        loss = f"  loss {self.losses[-1]:.4g}" if self.losses else ""
        paused = "paused  " if self.paused else ""
        return f"{paused}iter {self.iteration}  renders {self.evaluations}/{self.budget}{loss}{eta_text}"

    def tick(self) -> float | None:
        """Timer callback: returns the delay to the next call, None to stop."""
        if _current is not self or self.done:
            return None
        if self.starting:
            return TICK_S
        try:
            if self._start_error is not None:
                raise self._start_error
            for kind, body in self.run.poll():
                if kind == "progress":
                    self.latest = body
                    self.losses.append(body["loss"])
                    self.iteration, self.evaluations = body["iteration"], body["evaluations"]
                    self.best_loss = body["best_loss"]
                elif kind == "done":
                    self.result = body
            if self.result is not None:
                self._finish()
            elif self.latest is not None:
                self._show(self.latest["current"])
        except Exception as exc:  # anything: the scene goes back to where it was
            self.fail(str(exc) if isinstance(exc, ZeroGradsError) else f"{type(exc).__name__}: {exc}")
            return None
        self._redraw()
        return None if self.done else TICK_S

    def _show(self, named: dict[str, Any]) -> None:
        """Write one set of values into the scene (all or nothing) and refresh the viewport."""
        bindings = params.resolve_all(self.refs)  # re-resolved: the artist may have renamed things
        params.apply_values(bindings, named_to_units(bindings, self.names, named), update=True)
        if time.monotonic() - self._last_curve > 1.0:
            self._update_curve_image()

    def _update_curve_image(self) -> None:
        self._last_curve = time.monotonic()
        if len(self.losses) < 2:
            return
        pixels = images.plot_curve(self.losses, 320, 160).astype("float32") / 255.0
        name = "ZeroGrads Loss"
        image = bpy.data.images.get(name) or bpy.data.images.new(name, 320, 160, alpha=True)
        image.pixels.foreach_set(pixels[::-1].ravel())
        image.update()

    def _finish(self) -> None:
        self.done = True
        self.run.stop()
        state = self.result.get("state")
        self.evaluations = self.result.get("evaluations", self.evaluations)
        if state == "failed":
            self.fail(f"the optimisation failed: {self.result.get('message')}")
            return
        if self.result.get("current"):  # the optimiser's estimate, as in batch mode
            self._show(self.result["current"])
            self.best_loss = self.result.get("best_loss")
        self._update_curve_image()
        report(
            "INFO",
            f"ZeroGrads {state}: best loss {self.best_loss or 0:.4g} after {self.evaluations} renders; "
            "Keep or Revert in the Optimize panel",
        )

    def fail(self, message: str) -> None:
        self.done = True
        self.error = message
        self.run.stop()
        self._restore_start()
        report("ERROR", f"ZeroGrads: {message}")

    def _restore_start(self) -> None:
        try:
            params.restore(params.resolve_all(self.refs), self.start_raw)
        except ZeroGradsError:
            pass  # a path no longer resolves: nothing of ours can be written there anyway

    @staticmethod
    def _redraw() -> None:
        wm = bpy.context.window_manager
        for window in getattr(wm, "windows", []):
            for area in window.screen.areas:
                if area.type in ("VIEW_3D", "IMAGE_EDITOR", "PROPERTIES"):
                    area.tag_redraw()

    # --- controls -----------------------------------------------------------------------------------
    def pause(self) -> None:
        self.run.pause()
        self.paused = True

    def resume(self) -> None:
        self.run.resume()
        self.paused = False

    def cancel(self) -> None:
        if self.run.client is not None and not self.run.finished:
            self.run.cancel()  # the server answers with `done` (cancelled): tick() finishes up

    def close(self, keep: bool) -> None:
        """End the session: keep the values shown now, or go back to the starting values."""
        global _current
        if not self.done:
            self.run.stop()
            self.done = True
        if not keep:
            self._restore_start()
        elif self.result and not self.error and self.result.get("current"):
            self._show(self.result["current"])
        if _current is self:
            _current = None


def on_load_pre(*_args) -> None:
    """A file is being opened: stop any run; its scene is going away."""
    global _current
    if _current is not None:
        _current.run.stop()
        _current.done = True
        _current = None

"""The running optimisation inside Blender: start, stream values into the scene, finish.

A ``bpy.app.timers`` callback (``tick``) drains the server's messages every 0.1 s and writes the
newest values into the scene in one go, so the artist watches it converge while the UI stays
responsive. Starting the server and workers happens on a helper thread (it takes seconds);
nothing there touches bpy data.

What the artist can count on:
* Cancel and Pause act on the first click, also while the server is still starting.
* A run that never got going (no server, a start error) offers no Keep/Revert: nothing of the
  scene was touched; the panel shows the real error, and Dismiss.
* Keep applies the best rendered sample (or the optimiser's estimate, when asked) as one undo
  step: the start values are put back into the undo history at Keep time, whatever the artist
  did in the meantime, so one Ctrl+Z brings them back.
* The run's folder is removed when the session ends (unless the preference keeps it), and
  folders of sessions whose Blender died are swept at the next start.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from typing import Any

import bpy

from optimizer_server.wire import layout
from optimizer_server.wire.progress import EtaClock, format_progress
from optimizer_server.wire.transport import is_loopback
from optimizer_server.wire.verdict import Verdict

from . import api, devices, local_server, lossview, params, prepare, targets, worker_processes
from ._deps import ZeroGradsError
from .runner import Run

TICK_S = 0.1
CANCEL_GRACE_S = 8.0  # a cancel the server does not confirm in this time ends the run here
RUN_PREFIX = "zerograds_"
_current: OptimizeSession | None = None


def current() -> OptimizeSession | None:
    return _current


def report(level: str, message: str) -> None:
    """Into Blender's report system (status bar, Info editor); printed when that is unavailable."""
    try:
        bpy.ops.zerograds.report(level=level, message=message)
    except (RuntimeError, AttributeError):
        print(f"ZeroGrads {level}: {message}")


def preferences(context):
    addon = context.preferences.addons.get(__package__) if context.preferences else None
    return addon.preferences if addon else None


def _undo_push(message: str) -> None:
    if bpy.app.background:
        return  # no undo history to record into
    window = bpy.context.window_manager.windows[0]
    with bpy.context.temp_override(window=window):
        bpy.ops.ed.undo_push(message=message)


def sweep_stale_run_folders() -> None:
    """Remove run folders of Blender processes that are gone (a crash leaves them behind)."""
    root = tempfile.gettempdir()
    for name in os.listdir(root):
        parts = name.split("_")
        if not name.startswith(RUN_PREFIX) or len(parts) < 3 or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


class OptimizeSession:
    def __init__(self, scene, job: prepare.PreparedJob, run: Run, submit: dict[str, Any], keep_folder: bool):
        self.scene_name = scene.name
        self.job = job
        self.refs = job.refs
        self.start_raw = params.snapshot(job.bindings)  # exact starting values, for Revert and Keep's undo step
        self.run = run
        self.budget = submit["budget"]
        self.clock = EtaClock(self.budget)  # counts from the first progress, pauses excluded
        self.keep_folder = keep_folder
        self.losses: list[float] = []  # each iteration's mean loss
        self.best_losses: list[float] = []  # the best render's loss so far: the curve the panel shows
        self.iteration = self.evaluations = 0
        self.best_loss: float | None = None
        self.latest: dict[str, Any] | None = None
        self.result: dict[str, Any] | None = None
        self.verdict: Verdict | None = None  # did the result render like the target? (the server's judgement)
        self.paused = self.cancelling = self.done = False
        self.touched_scene = False  # values of ours were written: only then is there anything to keep or revert
        self.error: str | None = None
        self.needs_setup = False
        self._submit = submit
        self._keeping = self._server_paused = self._fresh = False
        self._shown_status = ""
        self._cancel_sent_at: float | None = None
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
        scene, s, prefs = context.scene, context.scene.zerograds, preferences(context)
        remote = s.server_mode == "REMOTE"
        if remote and not is_loopback(s.server_address) and not getattr(bpy.app, "online_access", True):
            raise ZeroGradsError(
                "Blender's online access is off (Preferences > System > Network); allow it to "
                "connect to a remote optimizer server, or use a local server"
            )
        python = getattr(prefs, "server_python", "") if prefs else ""
        if not remote:
            local_server.server_python(python)  # ServerSetupNeeded now, before anything is saved
        frame = s.physics_frame if s.use_physics_frame else None
        job = prepare.prepare(api.param_refs(scene), s.width, s.height, s.samples, frame)  # every path resolves
        target, mask = targets.load_target(scene)
        sweep_stale_run_folders()
        work_dir = tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}_")
        blend = os.path.join(work_dir, "scene.blend")
        bpy.ops.wm.save_as_mainfile(filepath=blend, copy=True, check_existing=False)
        options = {o.name: o.value() for o in s.options if o.override}
        options["common_random_numbers"] = s.seed_policy == "SHARED"
        preset = s.preset if s.preset != "NONE" else None
        submit = job.submit_args(s.method, s.budget, s.seed, options, preset, target, mask, scene.name)
        backend, ids = devices.user_choice()  # the user's own Cycles device preferences
        run = Run(
            blend,
            worker_count=s.workers,
            work_dir=work_dir,
            server_python=python,
            address=s.server_address if remote else None,
            threads_per_worker=s.worker_threads or worker_processes.default_threads(s.workers),
            worker_args=devices.worker_args(backend, s.workers, ids),
            ship_scene=remote,  # workers elsewhere fetch it from the server
        )
        session = cls(scene, job, run, submit, keep_folder=bool(getattr(prefs, "keep_run_folders", False)))
        _current = session
        session._starter.start()
        bpy.app.timers.register(session.tick, first_interval=TICK_S)
        return session

    def _start_run(self) -> None:
        try:
            self.run.start(**self._submit)
        except BaseException as exc:  # reported on the main thread by tick()
            self._start_error = exc

    # --- what the panel shows -------------------------------------------------------------------------
    @property
    def starting(self) -> bool:
        return self._starter.is_alive()

    @property
    def fraction(self) -> float:
        return min(1.0, self.evaluations / max(1, self.budget))

    @property
    def has_result(self) -> bool:
        """Finished (or cancelled) after values were shown: Keep and Revert make sense."""
        return self.done and self.error is None and self.touched_scene and self.result is not None

    def status_text(self) -> str:
        if self.error:
            return self.error.split("\n")[0]
        if self.done:
            state = (self.result or {}).get("state", "finished")
            if not self.touched_scene:
                return f"{state} before the first render"
            return f"{state.capitalize()}: {self.evaluations} renders"
        if self.cancelling:
            return "cancelling…"
        if self.starting or self.latest is None:
            return "starting the optimizer and render workers…"
        return format_progress(self.latest, self.budget, self.clock.eta_s(), paused=self.paused, compact=True)

    # --- streaming ----------------------------------------------------------------------------------
    def tick(self) -> float | None:
        """Timer callback: returns the delay to the next call, None to stop."""
        if _current is not self or self.done:
            return None
        if self.starting:
            return TICK_S
        try:
            if self._start_error is not None and self.cancelling:
                return self._cancelled_before_start()
            if self._start_error is not None:
                raise self._start_error
            self._sync_pause()  # a Pause clicked while the server was starting
            self._drain()
            if self.result is not None:
                self._finish()
            elif self._fresh and not self.cancelling:
                self._show(self.latest["current"])
            self._fresh = False
        except Exception as exc:  # anything: the scene goes back to where it was
            self.needs_setup = isinstance(exc, local_server.ServerSetupNeeded)
            self.fail(str(exc) if isinstance(exc, ZeroGradsError) else f"{type(exc).__name__}: {exc}")
            return None
        if self.status_text() != self._shown_status:  # redraw the sidebar only when its text changed
            self._shown_status = self.status_text()
            self._redraw()
        return None if self.done else TICK_S

    def _drain(self) -> None:
        for kind, body in self.run.poll():
            if kind == "progress":
                self.latest, self._fresh = body, True
                self.losses.append(body["loss"])
                if body.get("best_loss") is not None:
                    self.best_losses.append(body["best_loss"])
                self.iteration, self.evaluations = body["iteration"], body["evaluations"]
                self.best_loss = body["best_loss"]
                self.clock.update(self.evaluations)
            elif kind == "done":
                self.result = body
        if self.run.cancel_requested and self.result is None:
            self._cancel_sent_at = self._cancel_sent_at or time.monotonic()
            if self.run.job is None or time.monotonic() - self._cancel_sent_at > CANCEL_GRACE_S:
                self.result = dict(self.latest or {}, state="cancelled")  # ends here; the server may be stuck

    def _cancelled_before_start(self) -> None:
        self.done = True
        self.run.stop()
        report("INFO", "ZeroGrads: cancelled before the first render; the scene is as it was")
        self.close()
        self._redraw()

    def _show(self, named: dict[str, Any]) -> None:
        """Write one set of values into the scene (all or nothing) and refresh the viewport."""
        bindings = self.job.rebind()  # re-resolved: the artist may have renamed things
        params.apply_values(bindings, self.job.units(named), update=True)
        self.touched_scene = True
        self._redraw(viewport=True)  # ID properties send no redraw of their own
        if time.monotonic() - self._last_curve > 1.0:
            self._last_curve = time.monotonic()
            lossview.update(self.best_losses, self.run.work_dir)

    def _usable(self, named: dict[str, Any] | None) -> dict[str, Any] | None:
        """Values that can be written: a job summary (when the server's `done` was missed) names big
        array blocks only briefly; then the last progress message's values are shown instead."""
        if named and any(layout.is_brief(v) for v in named.values()):
            return (self.latest or {}).get("current")
        return named

    def _finish(self) -> None:
        self.done = True
        self.run.stop()
        state, self.evaluations = self.result.get("state"), self.result.get("evaluations", self.evaluations)
        if state == "failed":
            self.fail(f"the optimisation failed: {self.result.get('message')}")
            return
        if state == "cancelled" and not self.touched_scene:
            self._cancelled_before_start()
            return
        self.best_loss = self.result.get("best_loss", self.best_loss)
        verdict = self.result.get("verdict")  # none when cancelled before the answer's render
        self.verdict = verdict and Verdict.from_dict(verdict)
        shown = self._usable(self.result.get("best") or self.result.get("current"))
        if shown and (self.touched_scene or state != "cancelled"):
            self._show(shown)  # what Keep gives: the best render
        lossview.update(self.best_losses, self.run.work_dir)
        bpy.app.timers.register(lambda: self._redraw(), first_interval=0.5)  # the new curve's icon, once loaded
        if self.touched_scene:
            said = self.verdict.text() if self.verdict else f"best render loss {self.best_loss or 0:.4g}"
            report("INFO", f"ZeroGrads {state}: {said}; Keep or Revert")
        self._redraw()

    def fail(self, message: str) -> None:
        self.done, self.error = True, message
        self.run.stop()
        if self.touched_scene:
            self._restore_start()
        report("ERROR", f"ZeroGrads: {message.splitlines()[0]}")
        self._redraw()

    def _restore_start(self) -> list:
        try:
            bindings = self.job.rebind()
        except ZeroGradsError:
            return []  # a path no longer resolves: nothing of ours can be written there anyway
        params.restore(bindings, self.start_raw)
        return bindings

    @staticmethod
    def _redraw(viewport: bool = False) -> None:
        """Redraw the sidebar (the progress text) and, after new values, the viewports. Only what
        changed: a viewport redraw every tick would take the CPU the renders and the artist need."""
        wm = bpy.context.window_manager
        for window in getattr(wm, "windows", []):
            for area in window.screen.areas:
                if area.type != "VIEW_3D":
                    continue
                for region in area.regions:
                    if region.type == "UI" or (viewport and region.type == "WINDOW"):
                        region.tag_redraw()

    # --- controls -----------------------------------------------------------------------------------
    def pause(self) -> None:
        """Shown at once; the server stops after the renders in flight (told as soon as it is up)."""
        self.paused = True
        self.clock.pause()
        self._sync_pause()

    def resume(self) -> None:
        self.paused = False
        self.clock.resume()
        self._sync_pause()

    def _sync_pause(self) -> None:
        if self.run.job is not None and self._server_paused != self.paused:
            if self.paused:
                self.run.pause()
            else:
                self.run.resume()
            self._server_paused = self.paused

    def cancel(self) -> None:
        """Stop now: no new values are shown; the run ends when the server confirms (or soon anyway)."""
        if self.done:
            return
        self.cancelling = True
        self.run.cancel()  # while starting: the start stops at the next step and cancels the job

    def keep(self, which: str = "BEST") -> None:
        """Keep the best render's values (``BEST``) or the optimiser's estimate (``ESTIMATE``).

        Two undo steps are pushed here, outside any operator (Blender ignores pushes nested in a
        running operator): the start values, put back first, then the kept values. Whatever the
        artist did during the run, one Ctrl+Z brings the start values back."""
        if self._keeping:
            return
        self._keeping = True
        result = self.result or {}
        chosen = self._usable((result.get("best") if which == "BEST" else None) or result.get("current"))
        if bpy.app.background:  # no undo history to write into (and no timers): now
            self._keep_now(chosen)
        else:
            bpy.app.timers.register(lambda: self._keep_now(chosen), first_interval=0.01)

    def _keep_now(self, chosen: dict[str, Any] | None) -> None:
        try:
            bindings = self._restore_start()
            _undo_push("ZeroGrads: values before Optimize")
            if chosen and bindings:
                params.apply_values(bindings, self.job.units(chosen), update=True)
                params.keep(bindings)  # an image's new pixels packed: saving the .blend keeps them
            _undo_push("ZeroGrads: Keep Result")
        finally:
            self.close()
            self._redraw()

    def revert(self) -> None:
        if self.touched_scene:
            self._restore_start()
        self.close()

    def close(self) -> None:
        """End the session (stopping a run that still goes) and remove its folder."""
        global _current
        if not self.done:
            self.run.stop()
            self.done = True
        if not self.keep_folder:
            shutil.rmtree(self.run.work_dir, ignore_errors=True)
        if _current is self:
            _current = None


def on_load_pre(*_args) -> None:
    """A file is being opened: stop any run; its scene is going away."""
    global _current
    if _current is not None:
        _current.close()
    _current = None

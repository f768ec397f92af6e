"""Operators that start and steer an optimisation (the work is in session.py and setup_env.py)."""

import bpy
from bpy.props import EnumProperty, StringProperty

from . import local_server, session, setup_env
from ._deps import ZeroGradsError

_state = {"setup_wanted": False, "optimize_after_setup": False}


def setup_wanted() -> bool:
    """The panel shows the set-up box: Optimize found no Python with PyTorch, or a set-up runs."""
    job = setup_env.current()
    return _state["setup_wanted"] or (job is not None and (not job.done or job.error is not None))


class ZEROGRADS_OT_optimize(bpy.types.Operator):
    """Start optimising the listed parameters against the target (the scene updates live)"""

    bl_idname = "zerograds.optimize"
    bl_label = "Optimize"

    def execute(self, context):
        try:
            session.OptimizeSession.begin(context)
        except local_server.ServerSetupNeeded:
            _state["setup_wanted"] = True  # the panel offers the one-click set-up
            self.report({"WARNING"}, "ZeroGrads: the optimizer is not set up yet: press Set Up and Optimize")
            return {"CANCELLED"}
        except ZeroGradsError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        _state["setup_wanted"] = False
        self.report({"INFO"}, "ZeroGrads: starting the optimizer and render workers")
        return {"FINISHED"}


class ZEROGRADS_OT_setup(bpy.types.Operator):
    """Build a Python with PyTorch for the optimizer from Blender's own Python (once; downloads about
    270 MB), then optimise"""

    bl_idname = "zerograds.setup"
    bl_label = "Set Up and Optimize"

    @classmethod
    def poll(cls, context):
        job = setup_env.current()
        return job is None or job.done

    def execute(self, context):
        if not getattr(bpy.app, "online_access", True):
            self.report(
                {"ERROR"},
                "ZeroGrads: the set-up downloads PyTorch, and Blender's online access is off "
                "(Preferences > System > Network): allow it, then press Set Up again",
            )
            return {"CANCELLED"}
        folder = local_server.managed_env_folder()
        if not folder:
            self.report({"ERROR"}, "ZeroGrads: no folder for the optimizer's environment (add-on not registered?)")
            return {"CANCELLED"}
        setup_env.SetupJob(folder).start()
        _state["optimize_after_setup"] = True
        bpy.app.timers.register(_follow_setup, first_interval=0.5)
        return {"FINISHED"}


def _follow_setup():
    """Timer: redraw the progress bar; once the environment is ready, start the optimisation."""
    job = setup_env.current()
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()
    if job is None or not job.done:
        return 0.5
    if job.error is None:
        _state["setup_wanted"] = False
        if _state.pop("optimize_after_setup", False):
            _optimize_now()
    return None


def _optimize_now() -> None:
    window = bpy.context.window_manager.windows[0]
    area = next((a for a in window.screen.areas if a.type == "VIEW_3D"), window.screen.areas[0])
    with bpy.context.temp_override(window=window, area=area):
        try:
            session.OptimizeSession.begin(bpy.context)
        except ZeroGradsError as exc:
            session.report("ERROR", f"ZeroGrads: {exc}")


class ZEROGRADS_OT_cancel_setup(bpy.types.Operator):
    """Stop building the optimizer's environment"""

    bl_idname = "zerograds.cancel_setup"
    bl_label = "Cancel Set-Up"

    def execute(self, context):
        job = setup_env.current()
        if job is not None:
            job.cancel()
        _state["optimize_after_setup"] = False
        return {"FINISHED"}


class _RunningOperator(bpy.types.Operator):
    @classmethod
    def poll(cls, context):
        run = session.current()
        return run is not None and not run.done and not run.cancelling

    def execute(self, context):
        try:
            self.act(session.current())
        except ZeroGradsError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


class ZEROGRADS_OT_pause(_RunningOperator):
    """Pause the optimisation (the renders in flight finish first)"""

    bl_idname = "zerograds.pause"
    bl_label = "Pause"

    def act(self, run):
        run.pause()


class ZEROGRADS_OT_resume(_RunningOperator):
    """Continue a paused optimisation"""

    bl_idname = "zerograds.resume"
    bl_label = "Resume"

    def act(self, run):
        run.resume()


class ZEROGRADS_OT_cancel(_RunningOperator):
    """Stop the optimisation now (also while it starts); then keep what it found so far, or revert"""

    bl_idname = "zerograds.cancel"
    bl_label = "Cancel"

    def act(self, run):
        run.cancel()


class _FinishedOperator(bpy.types.Operator):
    @classmethod
    def poll(cls, context):
        run = session.current()
        return run is not None and run.has_result


class ZEROGRADS_OT_keep(_FinishedOperator):
    """Keep the result: the best render's values, or the optimiser's estimate (one Ctrl+Z takes it back)"""

    bl_idname = "zerograds.keep"
    bl_label = "Keep"
    # No UNDO flag: the session writes the two undo steps itself (start values, then the result)

    which: EnumProperty(
        items=[
            ("BEST", "Best Render", "The values of the render closest to the target"),
            ("ESTIMATE", "Estimate", "The optimiser's final estimate (not rendered as such)"),
        ],
        default="BEST",
    )

    def execute(self, context):
        session.current().keep(self.which)
        return {"FINISHED"}


class ZEROGRADS_OT_revert(_FinishedOperator):
    """Put every optimised property back to its value before Optimize"""

    bl_idname = "zerograds.revert"
    bl_label = "Revert"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        session.current().revert()
        return {"FINISHED"}


class ZEROGRADS_OT_dismiss(bpy.types.Operator):
    """Close this message (the scene was not changed)"""

    bl_idname = "zerograds.dismiss"
    bl_label = "Dismiss"

    def execute(self, context):
        run = session.current()
        if run is not None and not run.has_result:
            run.revert()  # restores only what it wrote (nothing, for a run that never started)
        _state["setup_wanted"] = False
        return {"FINISHED"}


class ZEROGRADS_OT_show_loss(bpy.types.Operator):
    """Open the loss curve at full size in an Image Editor"""

    bl_idname = "zerograds.show_loss"
    bl_label = "Open Loss Curve"

    def execute(self, context):
        from . import lossview

        image = bpy.data.images.get(lossview.IMAGE_NAME)
        if image is None:
            return {"CANCELLED"}
        bpy.ops.wm.window_new()
        area = bpy.context.window_manager.windows[-1].screen.areas[0]
        area.type = "IMAGE_EDITOR"
        area.spaces.active.image = image
        return {"FINISHED"}


class ZEROGRADS_OT_report(bpy.types.Operator):
    """Internal: lets timer callbacks use Blender's report system (status bar, Info editor)"""

    bl_idname = "zerograds.report"
    bl_label = "ZeroGrads Report"
    bl_options = {"INTERNAL"}

    level: EnumProperty(items=[(k, k, "") for k in ("INFO", "WARNING", "ERROR")])
    message: StringProperty()

    def execute(self, context):
        self.report({self.level}, self.message)
        return {"FINISHED"}


classes = (
    ZEROGRADS_OT_optimize,
    ZEROGRADS_OT_setup,
    ZEROGRADS_OT_cancel_setup,
    ZEROGRADS_OT_pause,
    ZEROGRADS_OT_resume,
    ZEROGRADS_OT_cancel,
    ZEROGRADS_OT_keep,
    ZEROGRADS_OT_revert,
    ZEROGRADS_OT_dismiss,
    ZEROGRADS_OT_show_loss,
    ZEROGRADS_OT_report,
)

"""Operators that start and steer an optimisation (the work is in session.py)."""

import bpy
from bpy.props import EnumProperty, StringProperty

from . import session
from ._deps import ZeroGradsError


class ZEROGRADS_OT_optimize(bpy.types.Operator):
    """Start optimising the listed parameters against the target (the scene updates live)"""

    bl_idname = "zerograds.optimize"
    bl_label = "Optimize"

    def execute(self, context):
        try:
            session.OptimizeSession.begin(context)
        except ZeroGradsError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, "ZeroGrads: starting the optimizer server and render workers")
        return {"FINISHED"}


class _RunningOperator(bpy.types.Operator):
    @classmethod
    def poll(cls, context):
        run = session.current()
        return run is not None and not run.done and not run.starting

    def execute(self, context):
        try:
            self.act(session.current())
        except ZeroGradsError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


class ZEROGRADS_OT_pause(_RunningOperator):
    """Pause the optimisation after the current renders"""

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
    """Stop the optimisation; then keep what it found so far or revert"""

    bl_idname = "zerograds.cancel"
    bl_label = "Cancel"

    def act(self, run):
        run.cancel()


class _FinishedOperator(bpy.types.Operator):
    @classmethod
    def poll(cls, context):
        run = session.current()
        return run is not None and run.done


class ZEROGRADS_OT_keep(_FinishedOperator):
    """Keep the optimised values (one undo step takes them back)"""

    bl_idname = "zerograds.keep"
    bl_label = "Keep Result"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        session.current().close(keep=True)
        return {"FINISHED"}


class ZEROGRADS_OT_revert(_FinishedOperator):
    """Put every optimised property back to its value before Optimize"""

    bl_idname = "zerograds.revert"
    bl_label = "Revert"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        session.current().close(keep=False)
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
    ZEROGRADS_OT_pause,
    ZEROGRADS_OT_resume,
    ZEROGRADS_OT_cancel,
    ZEROGRADS_OT_keep,
    ZEROGRADS_OT_revert,
    ZEROGRADS_OT_report,
)

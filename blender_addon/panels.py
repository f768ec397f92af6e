"""3D View sidebar, tab "Optimize": parameters, target, method, render settings, run.

Written for the default sidebar width (about 230 px at 100 % scale): one value per row with its
label on the left (``use_property_split``), short button labels, long texts wrapped to the
region's width, and what most artists never touch (method options, workers, server) folded away.
"""

import textwrap

import bpy

from . import api, lossview, run_ops, session, setup_env


def _wrap(layout, text: str, context, icon: str = "NONE", alert: bool = False, max_lines: int = 14) -> None:
    """Labels wrapped to the region's width (about 7 px per character at 100 % scale)."""
    width = max(18, int(context.region.width / (7 * context.preferences.view.ui_scale)) - 3)
    col = layout.column(align=True)
    col.alert = alert
    lines = [part for paragraph in text.splitlines() for part in (textwrap.wrap(paragraph, width) or [""])]
    for i, line in enumerate(lines[:max_lines]):
        col.label(text=line, icon=icon if i == 0 else "BLANK1" if icon != "NONE" else "NONE")


def _progress(layout, fraction: float, text: str) -> None:
    if hasattr(layout, "progress"):  # Blender 4.0+
        layout.progress(factor=fraction, type="BAR", text=text)
    else:
        layout.label(text=f"{100 * fraction:.0f} %  {text}")


def _split(layout):
    col = layout.column()
    col.use_property_split = True
    col.use_property_decorate = False
    return col


class ZEROGRADS_UL_params(bpy.types.UIList):
    """name | data path[index] (or the problem) | kind; unresolvable paths shown as errors."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        problem = api.param_problem(item)
        row = layout.row(align=True)
        row.prop(item, "enabled", text="")
        split = row.split(factor=0.45)
        split.active = item.enabled
        split.alert = problem is not None
        split.label(text=item.name, icon="ERROR" if problem else "DOT")
        if item.is_link:
            where = f"{item.from_node}.{item.from_socket} → {item.to_node}.{item.to_socket}"
        else:
            where = item.data_path + (f"[{item.array_index}]" if item.array_index >= 0 else "")
        prefix = f"{item.data_path!r}: "  # the row shows the path already; say only what is wrong
        split.label(text=(problem[len(prefix) :] if problem.startswith(prefix) else problem) if problem else where)


class VIEW3D_PT_zerograds(bpy.types.Panel):
    bl_label = "ZeroGrads Optimization"
    bl_idname = "VIEW3D_PT_zerograds"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Optimize"

    def draw(self, context):
        layout = self.layout
        s = context.scene.zerograds
        run = session.current()
        self._draw_params(layout, s, context)
        col = layout.column()
        col.enabled = run is None or run.done
        self._draw_target(col, s)
        self._draw_method(col, s)
        self._draw_render(col, s)
        self._draw_run(layout, run, context)

    @staticmethod
    def _draw_params(layout, s, context):
        layout.label(text="Parameters", icon="PROPERTIES")
        row = layout.row()
        row.template_list("ZEROGRADS_UL_params", "", s, "params", s, "params_index", rows=3)
        col = row.column(align=True)
        col.operator("zerograds.add_param", icon="ADD", text="").data_path = ""
        col.operator("zerograds.remove_param", icon="REMOVE", text="")
        col.operator("zerograds.add_link_param", icon="NODETREE", text="")
        if not len(s.params):
            _wrap(layout, "Right-click a property › Add to Optimization", context, icon="INFO")
        if 0 <= s.params_index < len(s.params):
            _draw_param_details(layout.box(), s.params[s.params_index], context)

    @staticmethod
    def _draw_target(layout, s):
        box = layout.box()
        box.label(text="Target", icon="IMAGE_DATA")
        box.row().prop(s, "target_source", expand=True)
        if s.target_source == "FILE":
            box.prop(s, "target_file", text="")
        else:
            row = box.row()
            row.operator("zerograds.capture_target", icon="RENDER_STILL", text="Capture")
            if s.target_image is not None:
                row.label(text=f"{s.target_image.size[0]}×{s.target_image.size[1]}")
        box.prop(s, "mask_file", text="Mask")

    @staticmethod
    def _draw_method(layout, s):
        box = layout.box()
        box.label(text="Method", icon="DRIVER")
        box.prop(s, "method", text="")
        col = _split(box)
        col.prop(s, "preset", text="Settings")
        col.prop(s, "budget", text="Renders")
        row = box.row()
        row.prop(s, "show_advanced", icon="TRIANGLE_DOWN" if s.show_advanced else "TRIANGLE_RIGHT", emboss=False)
        if not s.show_advanced:
            return
        col = _split(box)
        col.prop(s, "seed")
        if not len(s.options):
            box.operator("zerograds.reset_options", text="Show Options", icon="PREFERENCES")
        for option in s.options:
            row = box.row(align=True)
            row.prop(option, "override", text="")
            sub = row.row(align=True)
            sub.active = option.override
            key = {"bool": "bool_value", "int": "int_value", "str": "str_value"}.get(option.kind, "float_value")
            sub.prop(option, key, text=option.name)

    @staticmethod
    def _draw_render(layout, s):
        box = layout.box()
        box.label(text="Renders while optimizing", icon="SCENE")
        col = _split(box)
        col.prop(s, "width", text="Width")
        col.prop(s, "height", text="Height")
        col.prop(s, "samples", text="Samples")
        row = box.row()
        row.prop(s, "show_render_more", icon="TRIANGLE_DOWN" if s.show_render_more else "TRIANGLE_RIGHT", emboss=False)
        if not s.show_render_more:
            return
        col = _split(box)
        col.prop(s, "seed_policy", text="Noise")
        col.prop(s, "use_physics_frame", text="Simulate")
        sub = col.column()
        sub.enabled = s.use_physics_frame
        sub.prop(s, "physics_frame", text="To Frame")
        col.prop(s, "workers")
        box.row().prop(s, "server_mode", expand=True)
        if s.server_mode == "REMOTE":
            box.prop(s, "server_address", text="")

    @staticmethod
    def _draw_run(layout, run, context):
        box = layout.box()
        if run_ops.setup_wanted() and (run is None or run.done):
            _draw_setup(box, context)
        elif run is None:
            row = box.row()
            row.scale_y = 1.5
            row.operator("zerograds.optimize", icon="PLAY")
        elif not run.done:
            _progress(box, run.fraction, run.status_text())
            row = box.row(align=True)
            row.operator(
                "zerograds.resume" if run.paused else "zerograds.pause", icon="PLAY" if run.paused else "PAUSE"
            )
            row.operator("zerograds.cancel", icon="CANCEL")
        elif run.has_result:
            box.label(text=run.status_text(), icon="CHECKMARK")
            row = box.row()
            row.scale_y = 1.3
            row.operator("zerograds.keep", text="Keep Best Render", icon="CHECKMARK").which = "BEST"
            row = box.row(align=True)
            row.operator("zerograds.keep", text="Estimate").which = "ESTIMATE"
            row.operator("zerograds.revert", icon="LOOP_BACK")
        else:
            _wrap(box, run.error or run.status_text(), context, icon="ERROR", alert=run.error is not None)
            row = box.row(align=True)
            if run.needs_setup:
                row.operator("zerograds.setup", icon="IMPORT")
            row.operator("zerograds.dismiss", icon="X")
        if run is not None and lossview.icon_id():
            _draw_curve(box, run)


def _draw_param_details(box, item, context):
    problem = api.param_problem(item)
    if problem:
        _wrap(box, problem, context, icon="ERROR", alert=True, max_lines=6)
    col = _split(box)
    col.prop(item, "name")
    col.prop(item, "data_path", text="Node Tree" if item.is_link else "Path")
    if item.is_link:  # on/off: no index, no range
        for key in ("from_node", "from_socket", "to_node", "to_socket"):
            col.prop(item, key)
        return
    col.prop(item, "array_index")
    col.prop(item, "kind")
    sub = col.column(align=True)
    sub.enabled = item.kind in ("float", "int")
    sub.prop(item, "min")
    sub.prop(item, "max")


def _draw_setup(box, context):
    job = setup_env.current()
    if job is not None and not job.done:
        _progress(box, job.fraction, job.text)
        box.operator("zerograds.cancel_setup", icon="CANCEL")
        return
    if job is not None and job.error:
        _wrap(box, "Set-up failed: " + job.error, context, icon="ERROR", alert=True)
    else:
        _wrap(
            box,
            "The optimizer needs PyTorch. One click builds it from Blender's own Python: about "
            f"{setup_env.DOWNLOAD_MB} MB to download, {setup_env.DISK_MB / 1000:.1f} GB on disk, once.",
            context,
            icon="INFO",
        )
    row = box.row()
    row.scale_y = 1.4
    row.operator("zerograds.setup", icon="IMPORT")
    box.operator("zerograds.dismiss", icon="X")


def _draw_curve(box, run):
    col = box.column(align=True)
    col.template_icon(icon_value=lossview.icon_id(), scale=9.0)
    row = col.row(align=True)
    if run.losses:
        row.label(text=f"loss {run.losses[0]:.3g} → {run.losses[-1]:.3g}")
    row.operator("zerograds.show_loss", text="", icon="FULLSCREEN_ENTER")


classes = (ZEROGRADS_UL_params, VIEW3D_PT_zerograds)

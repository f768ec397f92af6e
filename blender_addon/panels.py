"""3D View sidebar, tab "Optimize": the run (Optimize, progress, Keep) on top, then the
parameters, the target, the method and the render settings as sub-panels.

Written for the default sidebar width (about 230 px at 100 % scale): one value per row with its
label on the left (``use_property_split``), short button labels, long texts wrapped to the
region's width, and what most artists never touch (method options, render settings, workers,
server) folded away.
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
    else:  # Blender 3.x: the text alone (it says how many renders are done)
        layout.label(text=text)


def _split(layout):
    col = layout.column()
    col.use_property_split = True
    col.use_property_decorate = False
    return col


class ZEROGRADS_UL_params(bpy.types.UIList):
    """enabled | name; a parameter whose path no longer resolves is shown as an error."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        problem = api.param_problem(item)
        row = layout.row(align=True)
        row.prop(item, "enabled", text="")
        sub = row.row()
        sub.active = item.enabled
        sub.alert = problem is not None
        if item.is_array:  # one row per block: "Albedo: 64×64×3 texels"
            icon = {"IMAGE": "IMAGE_DATA", "ATTRIBUTE": "GROUP_VERTEX"}.get(item.array_kind, "MESH_DATA")
            sub.label(text=f"{item.name}: {item.block_text}", icon="ERROR" if problem else icon)
            return
        sub.label(text=item.name, icon="ERROR" if problem else ("NODETREE" if item.is_link else "DOT"))


class _Panel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Optimize"


class VIEW3D_PT_zerograds(_Panel, bpy.types.Panel):
    """The run first (Optimize, progress, Keep), so it never scrolls out of view; the set-up below."""

    bl_label = "ZeroGrads"
    bl_idname = "VIEW3D_PT_zerograds"

    def draw(self, context):
        run = session.current()
        box = self.layout.box()
        if run_ops.setup_wanted() and (run is None or run.done):
            _draw_setup(box, context)
        elif run is None:
            row = box.row()
            row.scale_y = 1.5
            row.operator("zerograds.optimize", icon="PLAY")
        elif not run.done:
            _progress(box, run.fraction, run.status_text())
            row = box.row(align=True)  # right under the progress line, in every state: buttons never move
            row.operator(
                "zerograds.resume" if run.paused else "zerograds.pause", icon="PLAY" if run.paused else "PAUSE"
            )
            row.operator("zerograds.cancel", icon="CANCEL")
            if run.losses and not run.cancelling:
                box.label(text=f"loss {run.losses[-1]:.3g} · best {run.best_loss or 0:.3g}")
        elif run.has_result:
            col = box.column(align=True)
            col.label(text=run.status_text(), icon="CHECKMARK")
            if run.verdict is not None:  # in words: found the target or not
                headline, detail = run.verdict.headline()
                col.label(text=headline, icon="CHECKMARK" if run.verdict.matched else "ERROR")
                col.label(text=detail, icon="BLANK1")
            else:
                col.label(text=f"best loss {run.best_loss or 0:.2g}", icon="BLANK1")
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


class VIEW3D_PT_zerograds_loss(_Panel, bpy.types.Panel):
    """The best loss so far against the iterations while a run is shown (an icon drawn from a small
    PNG; full size on request)."""

    bl_label = "Loss"
    bl_parent_id = "VIEW3D_PT_zerograds"

    @classmethod
    def poll(cls, context):
        return session.current() is not None and lossview.icon_id() != 0

    def draw(self, context):
        run = session.current()
        layout = self.layout
        layout.template_icon(icon_value=lossview.icon_id(), scale=8.0)
        row = layout.row(align=True)
        if run.best_losses:
            row.label(text=f"best {run.best_losses[0]:.2g} → {run.best_losses[-1]:.2g}")
        row.operator("zerograds.show_loss", text="", icon="FULLSCREEN_ENTER")


class _SetupPanel(_Panel):
    bl_parent_id = "VIEW3D_PT_zerograds"

    def draw(self, context):
        run = session.current()
        self.layout.enabled = run is None or run.done
        self.draw_settings(self.layout, context.scene.zerograds, context)


class VIEW3D_PT_zerograds_params(_SetupPanel, bpy.types.Panel):
    bl_label = "Parameters"

    def draw_settings(self, layout, s, context):
        layout.enabled = True  # the list can be looked at while running
        row = layout.row()
        row.template_list("ZEROGRADS_UL_params", "", s, "params", s, "params_index", rows=3)
        col = row.column(align=True)
        col.operator("zerograds.add_param", icon="ADD", text="").data_path = ""
        col.operator("zerograds.remove_param", icon="REMOVE", text="")
        col.operator("zerograds.add_link_param", icon="NODETREE", text="")
        if not len(s.params):
            _wrap(
                layout,
                "Right-click a property (or an Image Texture node, or a mesh object) › Add to Optimization",
                context,
                icon="INFO",
            )
        elif 0 <= s.params_index < len(s.params):
            _draw_param_details(layout, s.params[s.params_index], context)


class VIEW3D_PT_zerograds_target(_SetupPanel, bpy.types.Panel):
    bl_label = "Target"

    def draw_settings(self, layout, s, context):
        layout.row().prop(s, "target_source", expand=True)
        if s.target_source == "FILE":
            layout.prop(s, "target_file", text="")
        else:
            row = layout.row()
            row.operator("zerograds.capture_target", icon="RENDER_STILL", text="Capture")
            if s.target_image is not None:
                row.label(text=f"{s.target_image.size[0]}×{s.target_image.size[1]}")
        _split(layout).prop(s, "mask_file", text="Mask")


class VIEW3D_PT_zerograds_method(_SetupPanel, bpy.types.Panel):
    bl_label = "Method"

    def draw_settings(self, layout, s, context):
        layout.prop(s, "configuration", text="")
        _split(layout).prop(s, "budget", text="Renders")
        layout.prop(s, "show_advanced", icon="TRIA_DOWN" if s.show_advanced else "TRIA_RIGHT", emboss=False)
        if not s.show_advanced:
            return
        col = _split(layout)
        col.prop(s, "method")
        col.prop(s, "preset")
        col.prop(s, "seed")
        if not len(s.options):
            layout.operator("zerograds.reset_options", text="Show Options", icon="PREFERENCES")
        for option in s.options:
            row = layout.row(align=True)
            row.prop(option, "override", text="")
            sub = row.row(align=True)
            sub.active = option.override
            key = {"bool": "bool_value", "int": "int_value", "str": "str_value"}.get(option.kind, "float_value")
            sub.prop(option, key, text=option.name)


class VIEW3D_PT_zerograds_render(_SetupPanel, bpy.types.Panel):
    bl_label = "Render Settings"
    bl_options = {"DEFAULT_CLOSED"}

    def draw_settings(self, layout, s, context):
        col = _split(layout)
        col.prop(s, "width", text="Width")
        col.prop(s, "height", text="Height")
        col.prop(s, "samples", text="Samples")
        col.prop(s, "seed_policy", text="Noise")
        col.prop(s, "use_physics_frame", text="Simulate")
        sub = col.column()
        sub.enabled = s.use_physics_frame
        sub.prop(s, "physics_frame", text="To Frame")
        col.prop(s, "workers")
        col.prop(s, "worker_threads", text="Threads")
        layout.row().prop(s, "server_mode", expand=True)
        if s.server_mode == "REMOTE":
            layout.prop(s, "server_address", text="")


def _draw_param_details(layout, item, context):
    problem = api.param_problem(item)
    if problem:
        _wrap(layout, problem, context, icon="ERROR", alert=True, max_lines=6)
    col = _split(layout)
    if not item.is_link:  # a link is on/off: no range
        sub = col.column(align=True)
        sub.enabled = item.kind in ("float", "int") or item.is_array
        sub.prop(item, "min")
        sub.prop(item, "max")
    s = context.scene.zerograds
    layout.prop(s, "show_param_details", icon="TRIA_DOWN" if s.show_param_details else "TRIA_RIGHT", emboss=False)
    if not s.show_param_details:
        return
    col = _split(layout)
    col.prop(item, "name")
    col.prop(item, "data_path", text="Node Tree" if item.is_link else "Path")
    if item.is_link:
        for key in ("from_node", "from_socket", "to_node", "to_socket"):
            col.prop(item, key)
    elif item.is_array:
        col.label(text=item.block_text)
        if item.array_kind == "IMAGE":
            col.prop(item, "channels")
        elif item.array_kind == "ATTRIBUTE":
            col.prop(item, "attribute")
        else:
            col.prop(item, "mesh_mode")
            col.prop(item, "vertex_group")
    else:
        col.prop(item, "array_index")
        col.prop(item, "kind")


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


classes = (
    ZEROGRADS_UL_params,
    VIEW3D_PT_zerograds,
    VIEW3D_PT_zerograds_loss,
    VIEW3D_PT_zerograds_params,
    VIEW3D_PT_zerograds_target,
    VIEW3D_PT_zerograds_method,
    VIEW3D_PT_zerograds_render,
)

"""3D View sidebar, tab "Optimize": parameters, target, method, render settings, run."""

import bpy

from . import api

SPARK = "▁▂▃▄▅▆▇█"


class ZEROGRADS_UL_params(bpy.types.UIList):
    """name | data path[index] | min..max | kind | enabled; unresolvable paths shown as errors."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        problem = api.param_problem(item)
        row = layout.row(align=True)
        row.prop(item, "enabled", text="")
        split = row.split(factor=0.3)
        split.active = item.enabled
        split.alert = problem is not None
        split.label(text=item.name, icon="ERROR" if problem else "DOT")
        if item.kind == "link":
            path = f"{item.from_node}.{item.from_socket} → {item.to_node}.{item.to_socket}"
        else:
            path = item.data_path + (f"[{item.array_index}]" if item.array_index >= 0 else "")
        rest = split.split(factor=0.85)
        prefix = f"{item.data_path!r}: "  # the row shows the path already; say only what is wrong
        rest.label(text=(problem[len(prefix) :] if problem.startswith(prefix) else problem) if problem else path)
        rest.label(text=item.kind)


def _progress(layout, fraction: float, text: str) -> None:
    if hasattr(layout, "progress"):  # Blender 4.0+
        layout.progress(factor=fraction, type="BAR", text=text)
    else:
        layout.label(text=f"{100 * fraction:.0f} %  {text}")


def _wrap(text: str, width: int):
    import textwrap

    return textwrap.wrap(text, width) or [text]


def sparkline(values, width: int = 40) -> str:
    """The loss curve as one line of block characters (log scale, last ``width`` points)."""
    import math

    vals = [math.log10(v) for v in values if v > 0 and math.isfinite(v)]
    if len(vals) < 2:
        return ""
    step = max(1, len(vals) // width)
    vals = [min(vals[i : i + step]) for i in range(0, len(vals), step)][-width:]
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    return "".join(SPARK[int((v - lo) / span * (len(SPARK) - 1))] for v in vals)


class VIEW3D_PT_zerograds(bpy.types.Panel):
    bl_label = "ZeroGrads Optimization"
    bl_idname = "VIEW3D_PT_zerograds"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Optimize"

    def draw(self, context):
        from . import session

        layout = self.layout
        s = context.scene.zerograds
        layout.label(text="Parameters (right-click a property → Add to Optimization)")
        row = layout.row()
        row.template_list("ZEROGRADS_UL_params", "", s, "params", s, "params_index", rows=3)
        col = row.column(align=True)
        col.operator("zerograds.add_param", icon="ADD", text="").data_path = ""
        col.operator("zerograds.remove_param", icon="REMOVE", text="")
        col.operator("zerograds.add_link_param", icon="NODETREE", text="")
        if 0 <= s.params_index < len(s.params):
            item = s.params[s.params_index]
            box = layout.box()
            problem = api.param_problem(item)
            if problem:
                col = box.column(align=True)
                col.alert = True
                for i, line in enumerate(_wrap(problem, 60)):
                    col.label(text=line, icon="ERROR" if i == 0 else "BLANK1")
            box.prop(item, "name")
            box.prop(item, "data_path", text="Node Tree" if item.kind == "link" else "Path")
            if item.kind == "link":  # on/off: no index, no range
                for key in ("from_node", "from_socket", "to_node", "to_socket"):
                    box.prop(item, key)
            else:
                r = box.row(align=True)
                r.prop(item, "array_index")
                r.prop(item, "kind", text="")
                r = box.row(align=True)
                r.enabled = item.kind in ("float", "int")
                r.prop(item, "min")
                r.prop(item, "max")

        run = session.current()
        col = layout.column()
        col.enabled = run is None or run.done
        self._draw_target(col, s)
        self._draw_method(col, s)
        self._draw_render(col, s)
        self._draw_run(layout, s, run)

    @staticmethod
    def _draw_target(layout, s):
        box = layout.box()
        box.label(text="Target", icon="IMAGE_DATA")
        box.row().prop(s, "target_source", expand=True)
        if s.target_source == "FILE":
            box.prop(s, "target_file", text="")
        else:
            row = box.row()
            row.operator("zerograds.capture_target", icon="RENDER_STILL")
            if s.target_image is not None:
                row.label(text=f"{s.target_image.size[0]}×{s.target_image.size[1]}")
        box.prop(s, "mask_file")

    @staticmethod
    def _draw_method(layout, s):
        box = layout.box()
        box.label(text="Method", icon="DRIVER")
        box.prop(s, "method", text="")
        box.prop(s, "preset")
        row = box.row(align=True)
        row.prop(s, "budget")
        row.prop(s, "seed")
        if not len(s.options):
            box.operator("zerograds.reset_options", text="Show Method Options", icon="PREFERENCES")
        for option in s.options:
            row = box.row(align=True)
            row.prop(option, "override", text="")
            sub = row.row(align=True)
            sub.active = option.override
            sub.prop(
                option,
                {"bool": "bool_value", "int": "int_value", "str": "str_value"}.get(option.kind, "float_value"),
                text=option.name,
            )

    @staticmethod
    def _draw_render(layout, s):
        box = layout.box()
        box.label(text="Rendering while optimizing", icon="SCENE")
        row = box.row(align=True)
        row.prop(s, "width")
        row.prop(s, "height")
        box.prop(s, "samples")
        box.prop(s, "seed_policy")
        row = box.row(align=True)
        row.prop(s, "use_physics_frame")
        sub = row.row()
        sub.enabled = s.use_physics_frame
        sub.prop(s, "physics_frame")
        box.prop(s, "workers")
        box.row().prop(s, "server_mode", expand=True)
        if s.server_mode == "REMOTE":
            box.prop(s, "server_address")

    @staticmethod
    def _draw_run(layout, s, run):
        box = layout.box()
        if run is None:
            box.operator("zerograds.optimize", icon="PLAY")
            return
        if not run.done:
            _progress(box, run.fraction, run.status_text())
            row = box.row(align=True)
            if run.paused:
                row.operator("zerograds.resume", icon="PLAY")
            else:
                row.operator("zerograds.pause", icon="PAUSE")
            row.operator("zerograds.cancel", icon="CANCEL")
        else:
            box.label(text=run.status_text(), icon="ERROR" if run.error else "CHECKMARK")
            row = box.row(align=True)
            row.operator("zerograds.keep", icon="CHECKMARK")
            row.operator("zerograds.revert", icon="LOOP_BACK")
        curve = sparkline(run.losses)
        if curve:
            box.label(text=f"loss {run.losses[0]:.3g} → {run.losses[-1]:.3g}")
            box.label(text=curve)


classes = (ZEROGRADS_UL_params, VIEW3D_PT_zerograds)

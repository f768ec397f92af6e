"""Run inside a real Blender with a window (tests/blender/test_gui.py starts it under Xvfb).

Opens the tiny test scene, registers the add-on, adds two good parameters and a broken one,
shows the 3D View sidebar, records every draw of the add-on's panel and list rows (and any
exception in them), saves a screenshot and writes a JSON report, then quits.

Blender 3.x cannot switch the sidebar to the "Optimize" tab from Python (no
``Region.active_panel_category``), so there the same panel class is also registered for the
Properties editor (Scene tab, which has no tabs) and the big 3D View area is turned into one:
the draw code checked is the same.

    blender --factory-startup tiny.blend --python tests/blender/gui_check.py -- REPORT.json SHOT.png
"""

import json
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(os.path.dirname(HERE)), HERE]

import bpy  # noqa: E402
import scene_kit  # noqa: E402

import blender_addon  # noqa: E402
from blender_addon import api  # noqa: E402

REPORT, SHOT = sys.argv[sys.argv.index("--") + 1 :][:2]
record = {"panel_draws": 0, "list_rows": 0, "errors": [], "blender": bpy.app.version_string}


def recorded(call, key):
    """Run ``call`` and count it under ``key``; keep any exception's traceback (then re-raise)."""
    try:
        result = call()
    except Exception:
        record["errors"].append(traceback.format_exc())
        raise
    record[key] += 1
    return result


def setup():
    blender_addon.register()
    from blender_addon import panels

    draw, draw_item = panels.VIEW3D_PT_zerograds.draw, panels.ZEROGRADS_UL_params.draw_item

    def counted_draw(self, context):  # Blender checks the argument count of draw functions
        recorded(lambda: draw(self, context), "panel_draws")

    def counted_draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        recorded(
            lambda: draw_item(self, context, layout, data, item, icon, active_data, active_propname, index), "list_rows"
        )

    panels.VIEW3D_PT_zerograds.draw = counted_draw
    panels.ZEROGRADS_UL_params.draw_item = counted_draw_item
    scene = bpy.context.scene
    api.add_param(scene, scene_kit.TINY_PATH, 0, lo=-1.0, hi=1.0)
    api.add_param(scene, 'lights["Lamp"].energy')
    broken = api.add_param(scene, 'objects["Ball"].location', 2)
    broken.data_path = 'objects["Gone"].location'  # shown as an error row
    tabs_settable = hasattr(bpy.types.Region, "active_panel_category")
    if not tabs_settable:  # the same panels (main and sub-panels) in the Properties editor's Scene tab
        for cls in panels.classes:
            if not issubclass(cls, bpy.types.Panel):
                continue
            attrs = {
                "bl_idname": cls.__name__.replace("VIEW3D_PT", "SCENE_PT") + "_check",
                "bl_space_type": "PROPERTIES",
                "bl_region_type": "WINDOW",
                "bl_context": "scene",
            }
            if getattr(cls, "bl_parent_id", ""):
                attrs["bl_parent_id"] = cls.bl_parent_id.replace("VIEW3D_PT", "SCENE_PT") + "_check"
            bpy.utils.register_class(type(attrs["bl_idname"], (cls,), attrs))
    for window in bpy.context.window_manager.windows:
        areas = sorted(window.screen.areas, key=lambda a: a.width * a.height)
        for area in areas:
            if area.type == "VIEW_3D":
                area.spaces.active.show_region_ui = True
                for region in area.regions:
                    if region.type == "UI" and tabs_settable:
                        region.active_panel_category = "Optimize"
                if not tabs_settable and area == areas[-1]:
                    area.type = "PROPERTIES"  # its Scene tab is chosen on the next tick
            area.tag_redraw()


def show_scene_tab():
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "PROPERTIES":
                area.spaces.active.context = "SCENE"
                area.tag_redraw()


def finish():
    try:
        window = bpy.context.window_manager.windows[0]
        with bpy.context.temp_override(window=window, area=window.screen.areas[0]):
            bpy.ops.screen.screenshot(filepath=SHOT)
        record["screenshot"] = SHOT
    except Exception:
        record["errors"].append("screenshot: " + traceback.format_exc())
    with open(REPORT, "w") as f:
        json.dump(record, f, indent=1)
    bpy.ops.wm.quit_blender()


state = {"ticks": 0}


def tick():
    state["ticks"] += 1
    if state["ticks"] == 1:
        try:
            setup()
        except Exception:
            record["errors"].append("setup: " + traceback.format_exc())
        return 0.5
    if state["ticks"] == 2:
        show_scene_tab()
    if record["panel_draws"] == 0 and state["ticks"] < 40:
        return 0.25  # wait for the sidebar to be drawn
    bpy.app.timers.register(finish, first_interval=0.5)  # one more redraw for the screenshot
    return None


bpy.app.timers.register(tick, first_interval=1.0)

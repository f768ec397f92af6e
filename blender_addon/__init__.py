"""ZeroGrads for Blender: black-box inverse rendering from the 3D View sidebar (tab "Optimize").

Right-click any animatable property → "Add to Optimization", pick a target image and a method,
press Optimize: an optimizer server asks headless Cycles workers for renders and the scene's
values update live. Works as a Blender 4.2+ extension (blender_manifest.toml) and as a legacy
add-on (``bl_info``) for older Blenders.

Importing this package is cheap and needs no bpy; ``register()`` loads the UI modules.
"""

import os

from . import _deps  # noqa: F401 (first: in the installed zip it puts the vendored optimizer_server.wire on sys.path)

bl_info = {
    "name": "ZeroGrads Inverse Rendering",
    "author": "ZeroGrads for Blender contributors",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "3D View > Sidebar > Optimize; right-click a property > Add to Optimization",
    "description": "Optimise scene parameters to match a target image with gradient-free methods "
    "(ZeroGrads, PRDPT, baselines) rendered by headless Cycles workers",
    "category": "Render",
}

_state = {"registered": False, "menu": None}


def _classes():
    from . import operators, panels, props, run_ops

    return props.classes + operators.classes + run_ops.classes + panels.classes


def _button_menu():
    """Blender ≥ 3.3 has UI_MT_button_context_menu; older ones the legacy WM_MT_button_context."""
    import bpy

    menu = getattr(bpy.types, "UI_MT_button_context_menu", None)
    if menu is None:
        menu = getattr(bpy.types, "WM_MT_button_context", None)
    if menu is None:

        class WM_MT_button_context(bpy.types.Menu):
            bl_label = ""

            def draw(self, context):
                pass

        bpy.utils.register_class(WM_MT_button_context)
        menu = WM_MT_button_context
    return menu


def _user_folder() -> str:
    """Where the add-on keeps the optimizer's managed environment: the extension's user folder
    (Blender 4.2+), else the user's datafiles folder (legacy add-on)."""
    import bpy

    if hasattr(bpy.utils, "extension_path_user") and __package__.startswith("bl_ext."):
        return bpy.utils.extension_path_user(__package__, create=True)
    return bpy.utils.user_resource("DATAFILES", path="zerograds", create=True)


def register():
    """Register everything; a second call does nothing."""
    if _state["registered"]:
        return
    import bpy

    from . import local_server, operators, props, session

    local_server.managed_env_dir = os.path.join(_user_folder(), "python-env")

    for cls in _classes():
        bpy.utils.register_class(cls)
    props.register_properties()
    menu = _button_menu()
    menu.remove(operators.draw_button_menu)
    menu.append(operators.draw_button_menu)
    _state["menu"] = menu
    if session.on_load_pre not in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.append(session.on_load_pre)
    _state["registered"] = True


def unregister():
    """Undo register() exactly (stopping a running optimisation); a second call does nothing."""
    if not _state["registered"]:
        return
    import bpy

    from . import lossview, operators, props, session

    session.on_load_pre()
    lossview.clear()
    if session.on_load_pre in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(session.on_load_pre)
    if _state["menu"] is not None:
        _state["menu"].remove(operators.draw_button_menu)
        _state["menu"] = None
    props.unregister_properties()
    for cls in reversed(_classes()):
        if getattr(cls, "is_registered", True):
            bpy.utils.unregister_class(cls)
    _state["registered"] = False

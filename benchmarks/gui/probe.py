"""Observer loaded into the Blender a GUI test drives (``--python probe.py -- STATE.json``).

It drives nothing: a timer writes what a test needs to see into STATE.json every 0.15 s — the
windows, areas and regions (in X screen pixels, top-left origin), the clipboard, which add-ons are
enabled, the Preferences section, the Properties editors' tab, the watched scene values, the
add-on's parameter list and its session's state, and the undo history. The test moves the mouse
and presses keys with xdotool only, and reads this file to know where things are and what
happened.

Watched values are listed in the file ``STATE.json.watch``, one ``collection|name|property path``
per line (``objects|Ball|location``), resolved with ``ID.path_resolve`` (nothing is evaluated).
"""

import json
import os
import sys
import time
import traceback

import bpy

STATE = sys.argv[sys.argv.index("--") + 1]
_started = time.time()


def _screen_height():
    main = bpy.context.window_manager.windows[0]  # the main window fills the screen (--window-geometry)
    return main.y + main.height


def _region_rect(window, area, region):
    """(x, y, width, height) of a region in screen pixels, y from the top of the screen.

    Blender measures window and region positions upwards from the bottom of the screen."""
    window_top = _screen_height() - (window.y + window.height)
    return [window.x + region.x, window_top + window.height - (region.y + region.height), region.width, region.height]


def _areas(window):
    out = []
    for area in window.screen.areas:
        space = area.spaces.active
        entry = {
            "type": area.type,
            "rect": _region_rect(window, area, area),
            "regions": [{"type": r.type, "rect": _region_rect(window, area, r)} for r in area.regions if r.width > 1],
        }
        if area.type == "PROPERTIES":
            entry["context"] = space.context
        if area.type == "FILE_BROWSER" and space.params is not None:
            directory = space.params.directory
            entry["directory"] = directory.decode() if isinstance(directory, bytes) else directory
            entry["filename"] = space.params.filename
        if area.type == "VIEW_3D":
            entry["sidebar"] = space.show_region_ui
            entry["perspective"] = space.region_3d.view_perspective
        out.append(entry)
    return out


def _watched():
    path = STATE + ".watch"
    values = {}
    if not os.path.exists(path):
        return values
    with open(path) as f:
        for line in f.read().splitlines():
            if not line.strip():
                continue
            try:
                collection, name, prop = line.split("|")
                values[line] = _value(getattr(bpy.data, collection)[name].path_resolve(prop))
            except Exception as exc:
                values[line] = f"error: {exc}"
    return values


def _value(v):
    if hasattr(v, "__len__") and not isinstance(v, str):
        return [float(x) for x in v]
    return v if isinstance(v, (str, bool)) else float(v)


_draws = {"count": 0, "wrapped": None}


def _count_panel_draws():
    """Count draws of the add-on's main panel (so a test knows the Optimize tab is showing)."""
    panel = getattr(bpy.types, "VIEW3D_PT_zerograds", None)
    if panel is None or getattr(panel.draw, "_counted", False):
        return
    original = panel.draw

    def draw(self, context):
        _draws["count"] += 1
        return original(self, context)

    draw._counted = True
    panel.draw = draw


def _addon_state():
    scene = bpy.context.scene
    state = {"params": [], "session": None}
    settings = getattr(scene, "zerograds", None)
    if settings is not None:
        state["params"] = [{"name": p.name, "path": p.data_path, "index": p.array_index} for p in settings.params]
        state["target"] = settings.target_image.name if settings.target_image else None
        state["method"] = settings.method
        state["budget"] = settings.budget
    run_ops = [m for n, m in sys.modules.items() if n.endswith(".run_ops") and hasattr(m, "setup_wanted")]
    state["setup_wanted"] = bool(run_ops and run_ops[0].setup_wanted())
    session = None
    for name, module in list(sys.modules.items()):
        if name.endswith(".session") and hasattr(module, "current") and hasattr(module, "OptimizeSession"):
            session = module.current()
            state["session_module"] = name
            break
    if session is not None:
        state["session"] = {
            "done": session.done,
            "error": session.error,
            "status": session.status_text(),
            "evaluations": session.evaluations,
            "paused": session.paused,
            "state": (session.result or {}).get("state"),
        }
    setup = [m for n, m in sys.modules.items() if n.endswith(".setup_env") and hasattr(m, "current")]
    if setup and setup[0].current() is not None:
        job = setup[0].current()
        state["setup"] = {"done": job.done, "error": job.error, "fraction": job.fraction, "text": job.text}
    return state


def _undo_history():
    try:
        wm = bpy.context.window_manager
        return [step.name for step in getattr(wm, "undo_stack", [])] or None
    except Exception:
        return None


def snapshot():
    wm = bpy.context.window_manager
    data = {
        "time": time.time(),
        "uptime": time.time() - _started,
        "blender": bpy.app.version_string,
        "windows": [
            {"rect": [w.x, w.y, w.width, w.height], "screen": w.screen.name, "areas": _areas(w)} for w in wm.windows
        ],
        "clipboard": wm.clipboard,
        "addons": sorted(bpy.context.preferences.addons.keys()),
        "prefs_section": bpy.context.preferences.active_section,
        "addon_search": getattr(wm, "addon_search", ""),
        "active_object": bpy.context.view_layer.objects.active.name if bpy.context.view_layer.objects.active else None,
        "values": _watched(),
        "addon": _addon_state(),
        "undo": _undo_history(),
        "panel_draws": _draws["count"],
    }
    tmp = STATE + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, STATE)


def tick():
    try:
        _count_panel_draws()
        snapshot()
    except Exception:
        with open(STATE + ".errors", "a") as f:
            f.write(traceback.format_exc())
    return INTERVAL_S


INTERVAL_S = float(os.environ.get("ZG_PROBE_INTERVAL", "0.15"))  # benchmarks/bench_gui.py: 0.05


def _exit_with_the_test():
    """The test holds our stdin's other end: when it dies, however, Blender goes too."""
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    os._exit(3)


if os.environ.get("ZG_PROBE_LIFELINE"):
    import threading

    threading.Thread(target=_exit_with_the_test, daemon=True).start()
bpy.app.timers.register(tick, first_interval=0.5, persistent=True)

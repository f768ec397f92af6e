"""What an artist does in Blender, as X input events (``gui_harness.BlenderGUI``): install the add-on
through the Preferences, right-click a property › Add to Optimization, find the add-on's sidebar
tab and its buttons. Shared by the end-to-end GUI test and ``benchmarks/bench_gui.py``.

Places are found the way a person finds them, by looking: the observer (``gui_probe.py``) tells
where areas and regions are and what changed after an event (the Preferences section, the
clipboard after Ctrl+Shift+Alt+C over a field, the parameter list); clicks and keys are the only
way anything is driven.
"""

from __future__ import annotations

import time

from gui_harness import BlenderGUI


def _area(gui: BlenderGUI, kind: str) -> dict:
    for window in gui.state()["windows"]:
        for area in window["areas"]:
            if area["type"] == kind:
                return area
    raise AssertionError(f"no {kind} area on screen")


def _has_area(state: dict, kind: str) -> bool:
    return any(a["type"] == kind for w in state["windows"] for a in w["areas"])


def _wait_for_area(gui: BlenderGUI, kind: str, timeout_s: float) -> bool:
    try:
        gui.wait(lambda s: _has_area(s, kind), timeout_s, kind)
        return True
    except AssertionError:
        return False


def open_preferences(gui: BlenderGUI) -> None:
    """F3 (menu search) › "Preferences" › Enter, as an artist who does not know the menu would."""
    view = gui.region(_area(gui, "VIEW_3D"), "WINDOW")
    gui.move(view[0] + view[2] // 2, view[1] + view[3] // 2)
    gui.key("F3", pause_s=0.8)
    gui.type("preferences")
    time.sleep(0.4)
    gui.key("Return", pause_s=1.0)
    gui.wait(lambda s: _has_area(s, "PREFERENCES"), 20, "Preferences")


def preferences_section(gui: BlenderGUI, section: str) -> None:
    """Click down the Preferences' navigation bar until ``section`` (e.g. "ADDONS") is shown."""
    nav = gui.region(_area(gui, "PREFERENCES"), "NAVIGATION_BAR")
    for y in range(nav[1] + 8, nav[1] + nav[3], 8):
        gui.click(nav[0] + nav[2] // 2, y, pause_s=0.45)
        if gui.state().get("prefs_section") == section:
            return
    raise AssertionError(f"no {section} button in the Preferences' navigation bar")


def install_addon_zip(gui: BlenderGUI, zip_path: str) -> None:
    """Add-ons › Install… › the file browser: folder, file name, Install Add-on."""
    import os

    prefs = gui.region(_area(gui, "PREFERENCES"), "WINDOW")
    gui.move(prefs[0] + prefs[2] // 2, prefs[1] + prefs[3] // 2)  # the section is drawn on the next redraw
    time.sleep(0.6)
    for dy in (17, 14, 20, 23, 11):  # the first row: [Official Community Testing] [Install… Refresh]
        gui.click(prefs[0] + prefs[2] * 0.7, prefs[1] + dy, pause_s=0.3)
        if _wait_for_area(gui, "FILE_BROWSER", 3.0):
            break
    browser = _area(gui, "FILE_BROWSER")
    folder = gui.region(browser, "UI")
    gui.click(folder[0] + folder[2] * 0.35, folder[1] + 19, pause_s=0.5)
    gui.key("ctrl+a")
    gui.type(os.path.dirname(os.path.abspath(zip_path)) + "/")
    gui.key("Return", pause_s=0.8)
    bar = gui.region(_area(gui, "FILE_BROWSER"), "EXECUTE")
    gui.click(bar[0] + bar[2] * 0.3, bar[1] + bar[3] // 2, pause_s=0.5)
    gui.key("ctrl+a")
    gui.type(os.path.basename(zip_path))
    gui.key("Return", pause_s=0.6)
    for _ in range(4):  # "Install Add-on"; a click that lands while the bar redraws is lost: again
        bar = gui.region(_area(gui, "FILE_BROWSER"), "EXECUTE")
        gui.move(bar[0] + bar[2] * 0.93, bar[1] + bar[3] // 2)
        time.sleep(0.4)
        gui.click(bar[0] + bar[2] * 0.93, bar[1] + bar[3] // 2, pause_s=0.3)
        try:
            gui.wait(lambda s: not _has_area(s, "FILE_BROWSER"), 5, "the install")
            return
        except AssertionError:
            continue
    raise AssertionError("Install Add-on did not close the file browser")


def enable_installed_addon(gui: BlenderGUI, module: str = "zerograds") -> None:
    """After Install… the list shows only the new add-on: tick its checkbox."""
    prefs = gui.region(_area(gui, "PREFERENCES"), "WINDOW")
    gui.move(prefs[0] + prefs[2] // 2, prefs[1] + prefs[3] // 2)  # redraw the list
    time.sleep(0.5)
    for dy in range(62, 100, 6):
        gui.click(prefs[0] + 43, prefs[1] + dy, pause_s=0.8)
        if module in gui.state().get("addons", []):
            return
    raise AssertionError(f"could not tick {module}'s checkbox; add-ons now: {gui.state().get('addons')}")


def put_preferences_aside(gui: BlenderGUI) -> None:
    """Move the Preferences window off the screen and give the main window the keyboard, as a
    window manager would on a click (Xvfb has none: no title bar to close or minimise with)."""
    for window_id in gui.window_ids("Preferences"):
        gui._xdo("windowmove", window_id, "2000", "0")
    for window_id in gui.window_ids("Blender"):
        if window_id not in gui.window_ids("Preferences"):
            gui._xdo("windowfocus", window_id)
    time.sleep(0.5)


def click_outliner_row(gui: BlenderGUI, name: str) -> None:
    """Select an object by clicking its row in the Outliner (rows are ~21 px, in name order)."""
    outliner = gui.region(_area(gui, "OUTLINER"), "WINDOW")
    for y in range(outliner[1] + 30, outliner[1] + outliner[3], 7):
        gui.click(outliner[0] + 80, y, pause_s=0.35)
        if gui.state().get("active_object") == name:
            return
    raise AssertionError(f"no Outliner row selects {name!r}")


def show_sidebar(gui: BlenderGUI) -> list[int]:
    """N over the 3D View; returns the sidebar region's rect."""
    view = _area(gui, "VIEW_3D")
    if not view.get("sidebar"):
        window = gui.region(view, "WINDOW")
        gui.move(window[0] + window[2] // 3, window[1] + window[3] // 2)
        gui.key("n", pause_s=0.8)

    def sidebar(state):
        for window in state["windows"]:
            for area in window["areas"]:
                if area["type"] == "VIEW_3D":
                    return next((r["rect"] for r in area["regions"] if r["type"] == "UI"), None)
        return None

    return gui.wait(sidebar, 10, "the sidebar")


def find_field(
    gui: BlenderGUI,
    region: list[int],
    wanted: str,
    x_frac: float = 0.4,
    start: int = 30,
    stop: int = 260,
    step: int = 6,
) -> tuple[int, int]:
    """Hover down a panel pressing Ctrl+Shift+Alt+C ("Copy Full Data Path") until the clipboard
    holds ``wanted`` (e.g. 'bpy.data.objects["Ball"].location[0]'); returns that point.

    Only inside the panel (``start``..``stop`` pixels below the region's top): outside panels a
    sidebar passes keys on to the 3D View, where C starts a circle select."""
    x = region[0] + int(region[2] * x_frac)
    for y in range(region[1] + start, region[1] + min(stop, region[3]), step):
        gui.move(x, y)
        gui.key("ctrl+shift+alt+c", pause_s=0.3)
        if gui.state().get("clipboard") == wanted:
            return x, y
    raise AssertionError(f"no field {wanted} in region {region}; last clipboard {gui.state().get('clipboard')!r}")


def add_to_optimization(gui: BlenderGUI, x: int, y: int) -> None:
    """Right-click the field › "Add to Optimization" (the menu's second-to-last entry: Up wraps
    to the last one, "Add All to Optimization", a second Up reaches ours)."""
    before = len(gui.state()["addon"]["params"])
    gui.click(x, y, button=3, pause_s=0.8)
    gui.key("Up", pause_s=0.2)
    gui.key("Up", pause_s=0.2)
    gui.key("Return", pause_s=0.8)
    gui.wait(lambda s: len(s["addon"]["params"]) > before, 10, "the parameter in the list")

"""What an artist does in Blender, as X input events (``harness.BlenderGUI``): install the add-on
through the Preferences, right-click a property › Add to Optimization, find the add-on's sidebar
tab and its buttons. Shared by the end-to-end GUI test and ``benchmarks/bench_gui.py``.

Places are found the way a person finds them, by looking: the observer (``probe.py``) tells
where areas and regions are and what changed after an event (the Preferences section, the
clipboard after Ctrl+Shift+Alt+C over a field, the parameter list); clicks and keys are the only
way anything is driven.
"""

from __future__ import annotations

import time

from .harness import BlenderGUI


def _area(gui: BlenderGUI, kind: str) -> dict:
    for window in gui.state()["windows"]:
        for area in window["areas"]:
            if area["type"] == kind:
                return area
    raise AssertionError(f"no {kind} area on screen")


def click_until(gui: BlenderGUI, points, done, what: str, settle_s: float = 2.5) -> float:
    """Click each (x, y) in turn until ``done(state)``; after each click wait up to ``settle_s`` for
    Blender to show the effect (a busy machine delays it) before trying the next point. Returns
    when the successful click was sent; ``gui.last_hit`` is where it was."""
    for x, y in points:
        sent = gui.click(x, y, pause_s=0.1)
        try:
            gui.wait(done, settle_s, what)
            gui.last_hit = (x, y)
            return sent
        except AssertionError:
            continue
    raise AssertionError(f"no click gave {what}")


def click_once(gui: BlenderGUI, point, done, what: str, settle_s: float = 5.0) -> float:
    """One click where a button is known to be; it must act (no second try): "the first click"."""
    sent = gui.click(*point, pause_s=0.1)
    gui.wait(done, settle_s, f"{what} on the first click")
    return sent


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
    gui.focus("[")
    gui.move(view[0] + view[2] // 2, view[1] + view[3] // 2)
    gui.key("F3", pause_s=0.8)
    gui.type("preferences")
    time.sleep(0.4)
    gui.key("Return", pause_s=1.0)
    gui.wait(lambda s: _has_area(s, "PREFERENCES"), 20, "Preferences")


def preferences_section(gui: BlenderGUI, section: str) -> None:
    """Click down the Preferences' navigation bar until ``section`` (e.g. "ADDONS") is shown."""
    nav = gui.region(_area(gui, "PREFERENCES"), "NAVIGATION_BAR")
    points = [(nav[0] + nav[2] // 2, y) for y in range(nav[1] + 8, nav[1] + nav[3], 8)]
    click_until(gui, points, lambda s: s.get("prefs_section") == section, section, settle_s=1.0)


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
    gui.focus("File View")
    folder_path = os.path.dirname(os.path.abspath(zip_path)) + os.sep
    _type_into(gui, "UI", 0.35, 19, folder_path, lambda area: area.get("directory") == folder_path, "the folder")
    name = os.path.basename(zip_path)
    _type_into(gui, "EXECUTE", 0.3, None, name, lambda area: area.get("filename") == name, "the file name")
    for _ in range(4):  # "Install Add-on"; a click that lands while the bar redraws is lost: again
        bar = gui.region(_area(gui, "FILE_BROWSER"), "EXECUTE")
        gui.move(bar[0] + bar[2] * 0.93, bar[1] + bar[3] // 2)
        time.sleep(0.4)
        gui.click(bar[0] + bar[2] * 0.93, bar[1] + bar[3] // 2, pause_s=0.3)
        try:
            gui.wait(lambda s: not _has_area(s, "FILE_BROWSER"), 5, "the install")
            break
        except AssertionError:
            continue
    else:
        raise AssertionError("Install Add-on did not close the file browser")
    # Blender filters the list down to the add-on it installed: the sign that it worked
    gui.wait(lambda s: s.get("addon_search"), 10, f"the installed add-on ({gui.log_tail(600)})")


def _type_into(gui: BlenderGUI, region_kind: str, x_frac: float, dy, text: str, check, what: str) -> None:
    """Click a file browser text field, replace its text, Enter; again until the browser shows it."""
    for _ in range(4):
        rect = gui.region(_area(gui, "FILE_BROWSER"), region_kind)
        gui.click(rect[0] + rect[2] * x_frac, rect[1] + (rect[3] // 2 if dy is None else dy), pause_s=0.5)
        gui.key("ctrl+a")
        gui.type(text)
        gui.key("Return", pause_s=0.8)
        try:
            gui.wait(lambda s: check(_area_in(s, "FILE_BROWSER")), 3, what)
            return
        except AssertionError:
            continue
    raise AssertionError(f"could not type {what} into the file browser")


def _area_in(state: dict, kind: str) -> dict:
    return next(a for w in state["windows"] for a in w["areas"] if a["type"] == kind)


def enable_installed_addon(gui: BlenderGUI, module: str = "zerograds") -> None:
    """After Install… the list shows only the new add-on: tick its checkbox."""
    prefs = gui.region(_area(gui, "PREFERENCES"), "WINDOW")
    gui.move(prefs[0] + prefs[2] // 2, prefs[1] + prefs[3] // 2)  # redraw the list
    time.sleep(0.5)
    for dy in range(62, 100, 6):
        gui.click(prefs[0] + 43, prefs[1] + dy, pause_s=0.3)
        try:  # wait for it before clicking again: a second click on the same box would untick it
            gui.wait(lambda s: module in s.get("addons", []), 4, "the add-on enabled")
            return
        except AssertionError:
            continue
    raise AssertionError(f"could not tick {module}'s checkbox; add-ons now: {gui.state().get('addons')}")


def put_preferences_aside(gui: BlenderGUI) -> None:
    """Move the Preferences window off the screen and give the main window the keyboard, as a
    window manager would on a click (Xvfb has none: no title bar to close or minimise with)."""
    for window_id in gui.window_ids("Preferences"):
        gui._xdo("windowmove", window_id, "2000", "0")
    gui.focus("[")
    time.sleep(0.3)


def click_outliner_row(gui: BlenderGUI, name: str) -> None:
    """Select an object by clicking its row in the Outliner (rows are ~21 px, in name order)."""
    outliner = gui.region(_area(gui, "OUTLINER"), "WINDOW")
    points = [(outliner[0] + 80, y) for y in range(outliner[1] + 30, outliner[1] + outliner[3], 7)]
    click_until(gui, points, lambda s: s.get("active_object") == name, f"{name} selected", settle_s=1.5)


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
        if gui.state_after(time.time()).get("clipboard") == wanted:
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


def scan_panel(gui: BlenderGUI, region: list[int], start: int = 8, stop: int | None = None, step: int = 8):
    """Hover down the sidebar pressing Ctrl+Shift+C ("Copy Python Command" over a button, the data
    path over a field); returns {clipboard text: y of the first row where it appeared}."""
    x = region[0] + int(region[2] * 0.45)
    found: dict[str, int] = {}
    last = gui.state().get("clipboard")
    for y in range(region[1] + start, region[1] + (stop or region[3]), step):
        gui.move(x, y)
        gui.key("ctrl+shift+c", pause_s=0.3)
        text = gui.state_after(time.time()).get("clipboard")
        if text != last and text not in found:
            found[text] = y
        last = text
    return found


def press_button(gui: BlenderGUI, region: list[int], command: str, y_hint: int | None = None, **scan) -> None:
    """Click the button whose Python command is ``command`` (e.g. 'bpy.ops.zerograds.optimize()')."""
    y = y_hint
    if y is None:
        found = scan_panel(gui, region, **scan)
        y = next((y for text, y in found.items() if text.startswith(command)), None)
        assert y is not None, f"no button {command} in the panel; found {found}"
    gui.click(region[0] + int(region[2] * 0.45), y + 3, pause_s=0.5)


def tab(gui: BlenderGUI, region: list[int]) -> None:
    """Click the sidebar's tab strip (its right edge) until the add-on's panel draws."""
    right = region[0] + region[2] - 9
    for y in range(region[1] + 100, region[1] + 300, 12):
        before = gui.state().get("panel_draws", 0)
        gui.click(right, y, pause_s=0.2)
        gui.move(region[0] + region[2] // 2, region[1] + 200)  # the panel draws when hovered, too
        try:
            gui.wait(lambda s, b=before: s.get("panel_draws", 0) > b, 1.5, "the Optimize tab")
            return
        except AssertionError:
            continue
    raise AssertionError("no Optimize tab in the sidebar")


def _viewport_point(gui: BlenderGUI) -> tuple[int, int]:
    window = gui.region(_area(gui, "VIEW_3D"), "WINDOW")
    return window[0] + window[2] // 3, window[1] + window[3] // 2


def capture_target(gui: BlenderGUI, sidebar: list[int]) -> None:
    """Target › Capture: the button sits right below the [Image File | Captured] switch."""
    x = sidebar[0] + int(sidebar[2] * 0.45)
    switch = None
    for y in range(sidebar[1] + 120, sidebar[1] + sidebar[3] - 40, 10):
        gui.move(x, y)
        gui.key("ctrl+shift+c", pause_s=0.3)
        if gui.state_after(time.time()).get("clipboard") == "zerograds.target_source":
            switch = y
            break
    assert switch is not None, "no Target switch in the panel"
    for dy in (24, 28, 20, 32):
        gui.click(x, switch + dy, pause_s=0.5)
        try:
            gui.wait(lambda s: s["addon"].get("target"), 20, "the captured target")
            return
        except AssertionError:
            continue
    raise AssertionError("Capture did not store a target")


def move_in_viewport(gui: BlenderGUI, axis: str, amount: float) -> None:
    """G, the axis, the distance, Enter: the way an artist moves the selected object."""
    gui.move(*_viewport_point(gui))
    gui.key("g")
    gui.key(axis)
    gui.type(f"{amount:g}")
    gui.key("Return", pause_s=0.5)


def set_field(gui: BlenderGUI, sidebar: list[int], full_path: str, text: str, check=None) -> None:
    """Double-click a number field's middle (its ends are the -/+ arrows) to type into it, select
    all, type, Enter; ``check(state)`` says whether it took (tried three times)."""
    _, y = find_field(gui, sidebar, full_path, start=60, stop=sidebar[3] - 10, step=8)
    x = sidebar[0] + int(sidebar[2] * 0.72)  # the value's half of a label | value row
    for _ in range(3):
        gui.move(x, y + 2)
        gui._xdo("click", "--repeat", "2", "--delay", "80", "1")
        time.sleep(0.4)
        gui.key("ctrl+a")
        gui.type(text)
        gui.key("Return", pause_s=0.5)
        if check is None:
            return
        try:
            gui.wait(check, 3, f"{full_path} = {text}")
            return
        except AssertionError:
            continue
    raise AssertionError(f"could not type {text} into {full_path}")


def keep_best(gui: BlenderGUI, sidebar: list[int]) -> None:
    """ "Keep Best Render": the first button under the status line at the top of the panel."""
    x = sidebar[0] + int(sidebar[2] * 0.45)
    points = [(x, sidebar[1] + dy) for dy in range(50, 120, 8)]
    click_until(gui, points, lambda s: s["addon"]["session"] is None, "Keep")


def undo(gui: BlenderGUI) -> None:
    gui.move(*_viewport_point(gui))
    gui.key("ctrl+z", pause_s=0.8)


def click_first(gui: BlenderGUI, sidebar: list[int], x_frac: float, dys, done, what: str) -> float:
    """Click down a column of the panel until ``done(state)``; returns when the successful click
    was sent (so a test can tell whether it acted on the first click on the button)."""
    x = sidebar[0] + int(sidebar[2] * x_frac)
    return click_until(gui, [(x, sidebar[1] + dy) for dy in dys], done, what)


def children_of(pid: int) -> list[int]:
    """Every process started by ``pid`` and by its children (from /proc)."""
    import os

    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                found.append(int(entry))
                frontier.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False

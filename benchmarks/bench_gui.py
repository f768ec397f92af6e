"""What the artist feels in a real Blender window (Xvfb, input by xdotool): click-to-first-viewport-
change and input lag while an optimisation renders, with the workers' CPU policy of before and now.

    python -m benchmarks.bench_gui [--blender blender] [--budget 400] [--lag-samples 12]

For each policy a fresh Blender (fresh user folder, only the extension installed through
Preferences › Add-ons › Install…) gets two parameters, a captured target and a moved ball; then:
* idle input lag: numpad 5 over the viewport (perspective/orthographic) until Blender shows it;
* click-to-first-viewport-change: from the click on Optimize to the first new value in the scene;
* input lag during the run (the same key), then Cancel's click-to-done.
Policies: "before" = workers on every core at Blender's priority (ZEROGRADS_WORKER_THREADS = all
cores, ZEROGRADS_WORKER_NICE=0); "now" = the defaults (one core left to the UI, workers niced).
The optimizer's managed environment must be set up already (``out/managed-env``, as the GUI
test leaves it), so that the figure is the steady state, not the one-time set-up.
Lag resolution: the observer in Blender looks every 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks.gui import steps
from benchmarks.gui.harness import ROOT, BlenderGUI

TESTS = os.path.join(ROOT, "tests", "blender")  # scene_kit: the tiny test scene

BALL = "objects|Ball|location"


def _perspective(state) -> str | None:
    for window in state.get("windows", []):
        for area in window["areas"]:
            if area["type"] == "VIEW_3D":
                return area.get("perspective")
    return None


def input_lag(gui: BlenderGUI, samples: int) -> list[float]:
    """Seconds from a key press to Blender showing its effect (numpad 5 flips the projection)."""
    view = gui.region(steps._area(gui, "VIEW_3D"), "WINDOW")
    gui.move(view[0] + view[2] // 3, view[1] + view[3] // 2)
    lags = []
    for _ in range(samples):
        before = _perspective(gui.state())
        sent = gui.key("KP_5", pause_s=0.0)
        state = gui.wait(lambda s, b=before: s if _perspective(s) not in (None, b) else None, 60, "the key")
        lags.append(state["time"] - sent)
        time.sleep(0.3)
    return lags


def prepare(gui: BlenderGUI, zip_path: str) -> list[int]:
    steps.open_preferences(gui)
    steps.preferences_section(gui, "ADDONS")
    steps.install_addon_zip(gui, zip_path)
    steps.enable_installed_addon(gui)
    steps.put_preferences_aside(gui)
    steps.click_outliner_row(gui, "Ball")
    sidebar = steps.show_sidebar(gui)
    for axis in (0, 1):
        steps.add_to_optimization(gui, *steps.find_field(gui, sidebar, f'bpy.data.objects["Ball"].location[{axis}]'))
    steps.tab(gui, sidebar)
    steps.capture_target(gui, sidebar)
    gui.watch(BALL)
    steps.move_in_viewport(gui, "x", 0.6)
    steps.move_in_viewport(gui, "y", 0.5)
    return sidebar


def measure(policy: str, env: dict, args, folder: str, zip_path: str, blend: str) -> dict:
    env = dict(env, ZEROGRADS_ENV_DIR=os.path.join(ROOT, "out", "managed-env"), ZG_PROBE_INTERVAL="0.05")
    with BlenderGUI(os.path.join(folder, policy), blend, blender=args.blender, env=env) as gui:
        sidebar = prepare(gui, zip_path)
        if args.budget != 400:
            budget_set = lambda s: s["addon"]["budget"] == args.budget  # noqa: E731
            steps.set_field(gui, sidebar, 'bpy.data.scenes["Scene"].zerograds.budget', str(args.budget), budget_set)
        idle = input_lag(gui, args.lag_samples)
        moved = gui.state()["values"][BALL]
        clicked = steps.click_first(
            gui, sidebar, 0.45, range(44, 100, 8), lambda s: s["addon"].get("session"), "Optimize"
        )
        first = gui.wait(lambda s: s if s["values"][BALL] != moved else None, 300, "the first new values")
        running = input_lag(gui, args.lag_samples)
        evaluations = gui.state()["addon"]["session"]["evaluations"]
        cancel_sent = steps.click_first(
            gui,
            sidebar,
            0.75,
            range(50, 110, 8),
            lambda s: s["addon"]["session"]["done"] or s["addon"]["session"] is None,
            "Cancel",
        )
        done = gui.wait(lambda s: s if (s["addon"]["session"] or {"done": True})["done"] else None, 60, "cancelled")
    return {
        "policy": policy,
        "click_to_first_change_s": round(first["time"] - clicked, 2),
        "idle_lag_s": idle,
        "running_lag_s": running,
        "renders_during_lag_samples": evaluations,
        "cancel_click_to_done_s": round(done["time"] - cancel_sent, 2),
    }


def _summary(lags: list[float]) -> str:
    return f"median {statistics.median(lags):.2f} s, max {max(lags):.2f} s"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_gui", description=__doc__.split("\n\n")[0])
    parser.add_argument("--blender", default="blender")
    parser.add_argument("--budget", type=int, default=400)
    parser.add_argument("--lag-samples", type=int, default=12)
    parser.add_argument("--out", default=os.path.join(ROOT, "out", "bench-gui.json"))
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="bench_gui_")
    subprocess.run([sys.executable, "-m", "blender_addon.build", "--no-wheels", "--out", folder], cwd=ROOT, check=True)
    zip_path = next(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".zip"))
    blend = os.path.join(folder, "tiny.blend")
    build = f"import sys; sys.path[:0] = [{ROOT!r}, {TESTS!r}]; import scene_kit; scene_kit.build_tiny_scene({blend!r})"
    subprocess.run([args.blender, "-b", "--factory-startup", "--python-expr", build], check=True, capture_output=True)
    cores = os.cpu_count() or 1
    policies = {
        "before": {"ZEROGRADS_WORKER_THREADS": str(cores), "ZEROGRADS_WORKER_NICE": "0"},
        "now": {},
    }
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    results = [measure(name, env, args, folder, zip_path, blend) for name, env in policies.items()]
    print(f"machine: {cores} cores, load average {load:.1f} at the start")
    for r in results:
        print(
            f"{r['policy']:7s} click→first viewport change {r['click_to_first_change_s']:.1f} s | input lag idle "
            f"{_summary(r['idle_lag_s'])} | while rendering {_summary(r['running_lag_s'])} | "
            f"Cancel click→done {r['cancel_click_to_done_s']:.1f} s"
        )
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"cores": cores, "load": load, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

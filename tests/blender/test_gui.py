"""GUI check: Debian's `blender` (or any Blender on PATH) with a window under Xvfb.

Opens the tiny scene, registers the add-on, shows its panel (with a parameter whose path no
longer resolves) and saves tests/artifacts/addon_panel.png; asserts that the panel and its list
rows were drawn and that none of those draws raised. Blender and its virtual screen are stopped
whatever happens (``benchmarks.gui.harness.run_in_window``). Skipped when Blender, Xvfb or what
Debian's Blender lacks (numpy, pyzmq) is missing: ``make gui-deps`` installs them.
"""

import json
import os
import subprocess

import pytest

from benchmarks.gui.harness import blender_skip_reason, run_in_window

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ARTIFACTS = os.path.join(ROOT, "tests", "artifacts")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(blender_skip_reason() is not None, reason=str(blender_skip_reason())),
]


def test_panel_draws_without_error_and_is_screenshot(tmp_path):
    blend = tmp_path / "tiny.blend"
    build = (
        f"import sys; sys.path[:0] = [{ROOT!r}, {HERE!r}]; import scene_kit; scene_kit.build_tiny_scene({str(blend)!r})"
    )
    subprocess.run(
        ["blender", "-b", "--factory-startup", "--python-exit-code", "1", "--python-expr", build],
        check=True,
        capture_output=True,
        timeout=120,
    )
    os.makedirs(ARTIFACTS, exist_ok=True)
    report, shot = tmp_path / "report.json", os.path.join(ARTIFACTS, "addon_panel.png")
    if os.path.exists(shot):
        os.remove(shot)
    proc = run_in_window(
        ["blender", "--factory-startup", str(blend), "--python", os.path.join(HERE, "gui_check.py"), "--"]
        + [str(report), shot],
        timeout_s=180,
        cwd=str(tmp_path),
    )
    assert report.exists(), f"Blender wrote no report (exit {proc.returncode}):\n{proc.stdout[-3000:]}"
    result = json.loads(report.read_text())
    assert result["errors"] == [], "\n".join(result["errors"])
    assert result["panel_draws"] >= 1 and result["list_rows"] >= 3  # two good parameters, one broken
    assert os.path.getsize(shot) > 20_000, "the screenshot is missing or blank"

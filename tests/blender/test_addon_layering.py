"""The add-on's Blender-free modules import without bpy and torch (the add-on ships them)."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BPY_FREE = ["datapath", "jobspec", "jobfile", "catalog", "images", "workers", "runner", "local_server"]


def test_blender_free_modules_import_without_bpy_or_torch():
    code = (
        "import sys; sys.modules['bpy'] = None; sys.modules['torch'] = None\n"
        + "".join(f"import blender_addon.{m}\n" for m in BPY_FREE)
        + "import optimizer_server.batch, optimizer_server.client, optimizer_server.worker_loop\n"
        + "import blender_addon; assert blender_addon.bl_info['blender'] == (3, 4, 0)\n"
        + "print('ok')"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_addon_sources_parse_as_python_3_10():
    """Older Blenders run older Pythons: no 3.11-only syntax (e.g. except*) in the add-on."""
    import ast

    folder = os.path.join(ROOT, "blender_addon")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                ast.parse(f.read(), filename=name, feature_version=(3, 10))

"""The architecture's import rules (glTF-Blender-IO style): the optimizer never imports bpy, and the
modules the Blender add-on ships (errors, space, protocol) import neither bpy nor torch."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIGHT_MODULES = [
    "optimizer_server.errors",
    "optimizer_server.space",
    "optimizer_server.protocol",
    "optimizer_server.transport",
    "optimizer_server.client",
    "optimizer_server.worker_loop",
]


def imported_after(statement: str) -> set:
    code = f"import sys; {statement}; print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("module", LIGHT_MODULES)
def test_shipped_modules_import_neither_torch_nor_bpy(module):
    if not (ROOT / (module.replace(".", "/") + ".py")).exists():
        pytest.skip(f"{module} does not exist yet")
    mods = imported_after(f"import {module}")
    assert "torch" not in mods and "bpy" not in mods


def test_the_optimizer_package_never_imports_bpy():
    mods = imported_after("import optimizer_server, optimizer_server.methods, optimizer_server.driver")
    assert "torch" in mods  # sanity: the check can see imports
    assert "bpy" not in mods
    for path in (ROOT / "optimizer_server").rglob("*.py"):
        if path.name == "batch.py":  # the batch runner drives Blender on purpose
            continue
        for line in path.read_text().splitlines():
            stripped = line.strip()
            assert not stripped.startswith(("import bpy", "from bpy")), f"{path} imports bpy"

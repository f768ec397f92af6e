"""The architecture's import rules, read from the sources (AST), for every module of the checkout.

1. Imports go one way: nothing under ``optimizer_server/`` imports ``blender_addon``, ``bpy``,
   ``scenes``, ``benchmarks`` or ``tests``.
2. ``optimizer_server/wire/`` (vendored whole into the add-on) imports only the standard library,
   numpy, pyzmq and itself.
3. The add-on files the zip ships (``blender_addon.build.shipped_files``) take from ``optimizer_server``
   only its ``wire`` package, and no third-party package beyond numpy and pyzmq (Blender's own modules
   aside).

An import inside ``try: ... except ImportError:`` is optional (the code works without it) and is
exempt from rules 2 and 3, not from rule 1.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from blender_addon import build

ROOT = Path(__file__).resolve().parents[1]
STDLIB = set(sys.stdlib_module_names) | {"__future__"}
BLENDER_MODULES = {"bpy", "bpy_extras", "mathutils", "bmesh", "gpu", "gpu_extras", "blf", "addon_utils", "cycles"}
FORBIDDEN_IN_SERVER = {"blender_addon", "bpy", "scenes", "benchmarks", "tests"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[str, int, bool]]:
    """(absolute module, line, optional) for every import statement in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    optional_lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers):
            optional_lines |= {n.lineno for stmt in node.body for n in ast.walk(stmt) if hasattr(n, "lineno")}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [base] if node.module else [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [(name, node.lineno, node.lineno in optional_lines) for name in names]
    return found


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    caught = handler.type
    kinds = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return any(isinstance(k, ast.Name) and k.id in ("ImportError", "ModuleNotFoundError") for k in kinds)


def sources(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("path", sources("optimizer_server"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_optimizer_never_imports_blender_or_the_checkout_tools(path):
    bad = [(name, line) for name, line, _ in imports_of(path) if top(name) in FORBIDDEN_IN_SERVER]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}: optimizer_server must not depend on these"


@pytest.mark.parametrize("path", sources("optimizer_server/wire"), ids=lambda p: p.name)
def test_the_wire_package_needs_only_stdlib_numpy_and_pyzmq(path):
    allowed = STDLIB | {"numpy", "zmq"}
    bad = [
        (name, line)
        for name, line, optional in imports_of(path)
        if not optional and top(name) not in allowed and not name.startswith("optimizer_server.wire")
    ]
    assert not bad, f"{path.name} imports {bad}; the add-on vendors wire/ and has only stdlib, numpy and pyzmq"


SHIPPED = [ROOT / "blender_addon" / f for f in build.shipped_files() if f.endswith(".py")]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_addon_modules_take_only_the_wire_package(path):
    allowed = STDLIB | BLENDER_MODULES | {"numpy", "zmq", "blender_addon"}
    bad = []
    for name, line, optional in imports_of(path):
        if optional:
            continue
        if top(name) == "optimizer_server":
            if not name.startswith("optimizer_server.wire"):
                bad.append((name, line))
        elif top(name) not in allowed:
            bad.append((name, line))
    assert not bad, f"blender_addon/{path.name} imports {bad}, which the installed add-on does not have"


def test_the_rules_see_imports():
    """The checks above can fail: the parser finds a relative wire import and a guarded optional one."""
    client = imports_of(ROOT / "optimizer_server" / "wire" / "client.py")
    assert any(n == "optimizer_server.wire.protocol" and not optional for n, _, optional in client)
    batch = imports_of(ROOT / "blender_addon" / "batch.py")
    assert any(n.startswith("optimizer_server.pictures") and optional for n, _, optional in batch)
    assert any(top(n) == "bpy" for n, _, _ in batch)
    assert len(SHIPPED) > 10 and ROOT / "blender_addon" / "build.py" not in SHIPPED


def test_the_wire_package_loads_with_torch_and_bpy_absent():
    """At run time too: every wire module imports in a Python where torch and bpy cannot be imported."""
    import subprocess

    modules = [f"optimizer_server.wire.{p.stem}" for p in sources("optimizer_server/wire") if p.stem != "__init__"]
    code = "import sys; sys.modules['torch'] = None; sys.modules['bpy'] = None\n" + "".join(
        f"import {m}\n" for m in modules
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr

"""`make addon`: the zip holds a valid extension manifest, the vendored modules and loads as an add-on."""

import json
import os
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "blender_addon.build", "--no-wheels", "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (path,) = out.glob("zerograds-*.zip")
    return path


def test_zip_layout(built_zip):
    """The add-on's shipped files, the manifest, and the whole wire package vendored; nothing build-time."""
    from blender_addon import build

    names = set(zipfile.ZipFile(built_zip).namelist())
    wire = sorted(f for f in os.listdir(build.WIRE) if f.endswith(".py"))
    assert "client.py" in wire and "worker_loop.py" in wire and "space.py" in wire
    required = {f"zerograds/{f}" for f in build.shipped_files()} | {"zerograds/blender_manifest.toml"}
    required |= {f"zerograds/_vendor/optimizer_server/wire/{f}" for f in wire}
    assert required <= names, sorted(required - names)
    assert "zerograds/__init__.py" in names and "zerograds/methods.json" in names
    catalog = json.loads(zipfile.ZipFile(built_zip).read("zerograds/methods.json"))
    assert "auto" in catalog["methods"] and catalog["featured"], "the shipped method catalog is empty"
    assert "zerograds/_vendor/optimizer_server/server/core.py" in names  # the managed server's code
    assert not any(n.endswith((".pyc", "build.py")) for n in names)


def test_manifest_passes_blenders_own_validator(built_zip):
    import bpy

    validator = os.path.join(bpy.utils.system_resource("SCRIPTS"), "addons_core", "bl_pkg", "cli", "blender_ext.py")
    if not os.path.isfile(validator):
        pytest.skip("this bpy build has no extension validator")
    proc = subprocess.run([sys.executable, validator, "validate", str(built_zip)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_unpacked_addon_works_without_the_repository(built_zip, tmp_path):
    """Only the zip on sys.path: it registers, and its vendored client and worker loop import."""
    zipfile.ZipFile(built_zip).extractall(tmp_path)
    # Simulate a machine without the repository: drop it from sys.path and the editable-install finder.
    code = (
        "import sys; sys.path = [p for p in sys.path if p not in ('', %r)]; sys.path.insert(0, %r)\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
        "import bpy, zerograds; zerograds.register(); zerograds.unregister()\n"
        "import zerograds.runner, optimizer_server.wire.client, optimizer_server.wire.worker_loop\n"
        "assert optimizer_server.__file__.startswith(%r), optimizer_server.__file__\n"
        "print('ok')"
    ) % (ROOT, str(tmp_path), str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("ok")

"""Build the installable add-on zip (``make addon``).

    python -m blender_addon.build                 # dist/zerograds-<version>.zip with pyzmq wheels
    python -m blender_addon.build --no-wheels     # without downloading wheels (offline)
    python -m blender_addon.build --methods       # only refresh blender_addon/methods.json

The zip holds one folder ``zerograds/`` with the add-on, a ``blender_manifest.toml`` that lists
the bundled wheels (Blender ≥ 4.2 installs it as an extension) and ``bl_info`` (older Blenders
install it as a legacy add-on; those need pyzmq in Blender's Python, e.g. Debian's python3-zmq).
The add-on ships the optimizer's code whole under ``zerograds/_vendor/optimizer_server/``: Blender
imports only its ``wire`` package (what both ends of the wire share; stdlib, numpy and pyzmq only;
the package's ``__init__`` loads nothing else), and the managed environment's server process
(``setup_env``, ``local_server``) runs the rest, so an installed add-on needs no checkout. What else
is shipped is decided here alone (``shipped_files``), and the import-graph test reads it from here.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ADDON_ID = "zerograds"
SERVER = os.path.join(ROOT, "optimizer_server")  # vendored whole
WIRE = os.path.join(SERVER, "wire")
SKIP = ("build.py", "__pycache__", "wheels", "_vendor", "README.md")  # build-time only: not in the zip
# (pip --platform tag, Blender's platform name); Blender 4.2+ bundles CPython 3.11.
PLATFORMS = [
    ("manylinux_2_28_x86_64", "linux-x64"),
    ("macosx_11_0_arm64", "macos-arm64"),
    ("macosx_10_15_x86_64", "macos-x64"),
    ("win_amd64", "windows-x64"),
]
PYZMQ = "pyzmq>=26,<28"


def version() -> str:
    with open(os.path.join(HERE, "__init__.py"), encoding="utf-8") as f:
        text = f.read()
    major, minor, patch = re.search(r'"version": \((\d+), (\d+), (\d+)\)', text).groups()
    return f"{major}.{minor}.{patch}"


def shipped_files() -> list[str]:
    """The add-on's own files that go into the zip, relative to its folder (``SKIP`` stays out)."""
    out = []
    for folder, dirs, files in os.walk(HERE):
        dirs[:] = sorted(d for d in dirs if d not in SKIP)
        out += [os.path.relpath(os.path.join(folder, f), HERE) for f in sorted(files) if f not in SKIP]
    return [f for f in out if not f.endswith(".pyc")]


def generate_catalog() -> dict:
    """The method catalog (``catalog.py`` reads it inside Blender) from the live registry; needs torch."""
    from optimizer_server.methods import describe_methods, get_method_class

    out = {}
    for name, info in describe_methods().items():
        presets = getattr(get_method_class(name), "presets", {})
        out[name] = {
            "description": info["description"],
            "options": {k: {"default": v["default"], "doc": v["doc"]} for k, v in info["options"].items()},
            "presets": {p: dict(presets[p]) for p in sorted(presets)},
        }
    from optimizer_server.methods import FEATURED, configurations

    configs = {
        name: {"method": c.method, "preset": c.preset, "description": c.description}
        for name, c in configurations().items()
    }
    return {"schema": 1, "methods": out, "configurations": configs, "featured": list(FEATURED)}


def refresh_methods() -> bool:
    """Rewrite methods.json from the registry when torch is available; False when it is not."""
    import importlib.util
    import json

    if importlib.util.find_spec("torch") is None:
        return False
    from blender_addon import catalog

    text = json.dumps(generate_catalog(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    with open(catalog.PATH + ".tmp", "w", encoding="utf-8") as f:  # never an empty catalog, even for a moment
        f.write(text)
    os.replace(catalog.PATH + ".tmp", catalog.PATH)
    catalog.clear_cache()
    return True


def download_wheels(folder: str) -> list:
    os.makedirs(folder, exist_ok=True)
    for pip_platform, _ in PLATFORMS:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                PYZMQ,
                "--only-binary=:all:",
                "--no-deps",
                "--platform",
                pip_platform,
                "--python-version",
                "3.11",
                "--implementation",
                "cp",
                "--dest",
                folder,
                "--quiet",
            ],
            check=True,
        )
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(folder, "*.whl")))


def manifest(wheels: list) -> str:
    with open(os.path.join(HERE, "blender_manifest.toml"), encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r'^version = ".*"$', f'version = "{version()}"', text, flags=re.M)
    if wheels:
        listed = ",\n".join(f'  "./wheels/{w}"' for w in wheels)
        text = text.replace("# wheels = [] (filled in by build.py)", f"wheels = [\n{listed},\n]")
    return text


def build(out_dir: str, with_wheels: bool = True) -> str:
    refreshed = refresh_methods()
    stage = tempfile.mkdtemp(prefix="zerograds_build_")
    pkg = os.path.join(stage, ADDON_ID)
    for name in shipped_files():
        os.makedirs(os.path.dirname(os.path.join(pkg, name)), exist_ok=True)
        shutil.copy2(os.path.join(HERE, name), os.path.join(pkg, name))
    vendor = os.path.join(pkg, "_vendor", "optimizer_server")
    shutil.copytree(SERVER, vendor, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = download_wheels(os.path.join(pkg, "wheels")) if with_wheels else []
    with open(os.path.join(pkg, "blender_manifest.toml"), "w", encoding="utf-8") as f:
        f.write(manifest(wheels))
    os.makedirs(out_dir, exist_ok=True)
    zip_path = os.path.join(out_dir, f"{ADDON_ID}-{version()}.zip")
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        for folder, _, files in os.walk(pkg):
            for name in sorted(files):
                full = os.path.join(folder, name)
                z.write(full, os.path.relpath(full, stage))
    shutil.rmtree(stage)
    print(
        f"wrote {zip_path} ({len(wheels)} wheels; methods.json "
        f"{'refreshed from the registry' if refreshed else 'kept (no torch here)'})"
    )
    print(
        "install: Blender ≥ 4.2: Edit > Preferences > Get Extensions > Install from Disk; "
        "older: Preferences > Add-ons > Install"
    )
    return zip_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blender_addon.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "dist"))
    parser.add_argument("--no-wheels", action="store_true", help="do not download pyzmq wheels")
    parser.add_argument("--methods", action="store_true", help="only refresh methods.json")
    args = parser.parse_args(argv)
    if args.methods:
        if not refresh_methods():
            print("error: refreshing methods.json needs torch (it imports the method registry)", file=sys.stderr)
            return 2
        print("refreshed blender_addon/methods.json")
        return 0
    build(args.out, with_wheels=not args.no_wheels)
    return 0


if __name__ == "__main__":
    sys.exit(main())

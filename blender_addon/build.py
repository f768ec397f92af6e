"""Build the installable add-on zip (``make addon``).

    python -m blender_addon.build                 # dist/zerograds-<version>.zip with pyzmq wheels
    python -m blender_addon.build --no-wheels     # without downloading wheels (offline)
    python -m blender_addon.build --methods       # only refresh blender_addon/methods.json

The zip holds one folder ``zerograds/`` with the add-on, a ``blender_manifest.toml`` that lists
the bundled wheels (Blender ≥ 4.2 installs it as an extension) and ``bl_info`` (older Blenders
install it as a legacy add-on; those need pyzmq in Blender's Python, e.g. Debian's python3-zmq).
The torch-free optimizer modules the add-on uses are vendored under ``zerograds/_vendor/``.
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
if ROOT not in sys.path:  # also runnable as `python blender_addon/build.py`
    sys.path.insert(0, ROOT)
ADDON_ID = "zerograds"
VENDORED = ("errors.py", "protocol.py", "transport.py", "client.py", "worker_loop.py")
SKIP = ("build.py", "__pycache__", "wheels", "_vendor", "README.md")
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


def refresh_methods() -> bool:
    """Rewrite methods.json from the registry when torch is available; False when it is not."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return False
    from blender_addon import catalog

    catalog.write()
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
    shutil.copytree(HERE, pkg, ignore=shutil.ignore_patterns(*SKIP, "*.pyc"))
    vendor = os.path.join(pkg, "_vendor", "optimizer_server")
    os.makedirs(vendor)
    for name in VENDORED:
        shutil.copy2(os.path.join(ROOT, "optimizer_server", name), vendor)
    with open(os.path.join(vendor, "__init__.py"), "w") as f:  # not the real one: it imports the space module
        f.write('"""The torch-free parts of optimizer_server that the Blender add-on needs (vendored)."""\n')
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

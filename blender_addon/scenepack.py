"""A job's scene as content: a copy of the .blend with its external assets packed (images, sounds,
fonts, linked libraries where Blender can), which workers anywhere can render. No bpy in this process.

The copy is made by a separate Blender (the bpy module's Python, or a Blender executable) that opens the
artist's file as data (its scripts never run), packs, and saves the copy: the artist's file and the
caller's open session are never touched. Blender does not write identical bytes twice, so copies are
cached by what they were made from (the file's bytes and every external file's path, size and time):
the next job on an unchanged scene gets the same copy, the same hash, and sends no bytes again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from optimizer_server.wire.client import file_sha256

from ._deps import ZeroGradsError

_MARK = "ZEROGRADS_PACKED "

# Runs inside the packing Blender: argv after "--" is [source, cache folder, source hash].
_PACK = r"""
import bpy, hashlib, json, os, sys
src, folder, src_hash = sys.argv[sys.argv.index("--") + 1:][:3]
bpy.ops.wm.open_mainfile(filepath=src, load_ui=False, use_scripts=False)
key = hashlib.sha256(src_hash.encode())
for path in sorted(set(bpy.utils.blend_paths(absolute=True))):
    try:
        st = os.stat(path)
        key.update(f"{path}|{st.st_size}|{st.st_mtime_ns}".encode())
    except OSError:
        key.update(f"{path}|missing".encode())
out = os.path.join(folder, key.hexdigest()[:32] + ".blend")
if not os.path.isfile(out):
    if hasattr(bpy.ops.file, "pack_libraries"):
        try:
            bpy.ops.file.pack_libraries()
        except RuntimeError:
            pass
    bpy.ops.file.pack_all()
    os.makedirs(folder, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=out + ".tmp.blend", copy=True, compress=True)
    os.replace(out + ".tmp.blend", out)
print("ZEROGRADS_PACKED " + json.dumps({"path": out}), flush=True)
"""


class PackError(ZeroGradsError):
    """The scene could not be packed for shipping."""


def cache_dir() -> str:
    root = os.environ.get("ZEROGRADS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "zerograds"
    )
    return os.path.join(root, "packed")


def pack_command(blender: str = "") -> list[str]:
    """How to run the packing script: inside a Blender executable, or with this bpy-module Python."""
    if blender:
        return [blender, "-b", "--factory-startup", "--python-exit-code", "1", "--python-expr", _PACK, "--"]
    return [sys.executable, "-c", _PACK, "--"]


def packed_scene(blend: str, blender: str = "", timeout_s: float = 600.0) -> dict[str, str | int]:
    """{path, sha256, size, name} of the packed copy of ``blend`` (made, or found in the cache)."""
    command = pack_command(blender) + [os.path.abspath(blend), cache_dir(), file_sha256(blend)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PackError(f"could not pack {blend} for the workers: {exc}") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith(_MARK)]
    if done.returncode != 0 or not lines:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-10:])
        raise PackError(f"packing {blend} for the workers failed (exit {done.returncode}):\n{tail}")
    path = json.loads(lines[-1][len(_MARK) :])["path"]
    return {"path": path, "sha256": file_sha256(path), "size": os.path.getsize(path), "name": os.path.basename(blend)}

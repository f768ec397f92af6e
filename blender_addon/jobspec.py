"""What a Blender render job carries besides the parameter specs (no bpy, no torch).

The optimizer server forwards a job's ``settings`` to every worker unchanged, adding the
parameter specs (``"params"``) and the job id. For Blender workers those settings are::

    {"width": 64, "height": 64, "samples": 16,       # Cycles, per render
     "frame": null,                                   # or a frame to simulate up to (physics)
     "paths": [{"name": "x", "path": 'objects["Ball"].location', "index": 0},
               {"name": "l3", "path": 'materials["Mat"].node_tree',   # a link parameter
                "link": {"from_node": "Noise", "from_socket": "Color", "to_node": "Mix", "to_socket": "A"}},
               ...]}

and the job ``requires`` ``{"scene": scene_id(blend)}`` so that only workers that loaded that
very .blend file take it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ._deps import ConfigError
from .datapath import check_link_fields, check_render_path

RENDERER = "blender-cycles"


def scene_id(blend_path: str) -> str:
    """A short content hash of a .blend file: workers and jobs match on it."""
    digest = hashlib.sha256()
    with open(blend_path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def render_settings(
    width: int, height: int, samples: int, paths: list[dict[str, Any]], frame: int | None = None
) -> dict[str, Any]:
    """Build (and check) the settings dict of a Blender job."""
    settings = {
        "width": int(width),
        "height": int(height),
        "samples": int(samples),
        "frame": None if frame is None else int(frame),
        "paths": [path_entry(p) for p in paths],
    }
    check_settings(settings)
    return settings


def path_entry(p: dict[str, Any]) -> dict[str, Any]:
    """The wire form of one parameter reference: {name, path, index} or {name, path, link}."""
    entry = {"name": str(p["name"]), "path": str(p["path"]), "index": int(p.get("index", -1))}
    if p.get("link") is not None:
        entry["link"] = check_link_fields(p["link"], f"parameter {entry['name']!r}")
    return entry


def check_settings(settings: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` naming the bad key; used on both ends."""
    for key, lo, hi in (("width", 1, 16384), ("height", 1, 16384), ("samples", 1, 1 << 24)):
        value = settings.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ConfigError(f"render setting {key!r} must be a whole number in {lo}..{hi}, got {value!r}")
    frame = settings.get("frame")
    if frame is not None and (isinstance(frame, bool) or not isinstance(frame, int)):
        raise ConfigError(f"render setting 'frame' must be a frame number or null, got {frame!r}")
    paths = settings.get("paths")
    if not isinstance(paths, list) or not paths:
        raise ConfigError("render settings need 'paths': [{name, path, index}, ...] with one entry per parameter")
    names = set()
    for i, p in enumerate(paths):
        if not isinstance(p, dict) or not isinstance(p.get("name"), str) or not isinstance(p.get("path"), str):
            raise ConfigError(f"render setting paths[{i}] must be {{name, path, index}}, got {p!r}"[:200])
        check_render_path(p["path"])  # a client cannot make a worker write outside render data
        if p.get("link") is not None:
            check_link_fields(p["link"], f"render setting paths[{i}]")
        if p["name"] in names:
            raise ConfigError(f"render setting paths: parameter {p['name']!r} appears twice")
        names.add(p["name"])


def ordered_paths(settings: dict[str, Any], param_names: list[str]) -> list[dict[str, Any]]:
    """The path entries in the order of the job's parameters (the columns of ``values``)."""
    by_name = {p["name"]: p for p in settings["paths"]}
    missing = [n for n in param_names if n not in by_name]
    if missing:
        raise ConfigError(f"no data path for parameter(s) {missing}; every parameter needs an entry in 'paths'")
    return [by_name[n] for n in param_names]

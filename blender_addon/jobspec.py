"""What a Blender render job carries besides the parameter specs (no bpy, no torch).

The optimizer server forwards a job's ``settings`` to every worker unchanged, adding the
parameter specs (``"params"``) and the job id. For Blender workers those settings are::

    {"width": 64, "height": 64, "samples": 16,       # Cycles, per render
     "frame": null,                                   # or a frame to simulate up to (physics)
     "paths": [{"name": "x", "path": 'objects["Ball"].location', "index": 0},
               {"name": "l3", "path": 'materials["Mat"].node_tree', "index": -1,   # a link parameter
                "link": {"from_node": "Noise", "from_socket": "Color", "to_node": "Mix", "to_socket": "A"}},
               ...]}

where every ``paths`` entry is a ``ParamRef``'s wire form (only where the parameter is: its
``locator()``), and the job ``requires`` ``{"scene": scene_id(blend)}`` so that only workers that
loaded that very .blend file take it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from optimizer_server.wire.paramref import ParamRef

from ._deps import ConfigError
from .datapath import check_render_path

RENDERER = "blender-cycles"


def scene_id(blend_path: str) -> str:
    """A short content hash of a .blend file: workers and jobs match on it."""
    digest = hashlib.sha256()
    with open(blend_path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def render_settings(
    width: int, height: int, samples: int, refs: Sequence[ParamRef], frame: int | None = None
) -> dict[str, Any]:
    """Build (and check) the settings dict of a Blender job."""
    settings = {
        "width": int(width),
        "height": int(height),
        "samples": int(samples),
        "frame": None if frame is None else int(frame),
        "paths": [ref.locator().to_dict() for ref in refs],
    }
    check_settings(settings)
    return settings


def check_settings(settings: dict[str, Any]) -> list[ParamRef]:
    """Raise :class:`ConfigError` naming the bad key; used on both ends. Returns the path entries."""
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
    refs = [ParamRef.from_dict(p, f"render setting paths[{i}]") for i, p in enumerate(paths)]
    names = set()
    for ref in refs:
        check_render_path(ref.path)  # a client cannot make a worker write outside render data
        if ref.name in names:
            raise ConfigError(f"render setting paths: parameter {ref.name!r} appears twice")
        names.add(ref.name)
    return refs


def ordered_refs(settings: dict[str, Any], param_names: list[str]) -> list[ParamRef]:
    """The path entries in the order of the job's parameters (the columns of ``values``)."""
    by_name = {ref.name: ref for ref in check_settings(settings)}
    missing = [n for n in param_names if n not in by_name]
    if missing:
        raise ConfigError(f"no data path for parameter(s) {missing}; every parameter needs an entry in 'paths'")
    return [by_name[n] for n in param_names]

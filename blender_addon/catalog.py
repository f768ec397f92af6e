"""The optimizer's method registry as the add-on sees it, without importing torch.

``methods.json`` is written from ``optimizer_server.methods.describe_methods()`` (plus each
method's presets) by ``python -m blender_addon.build --methods``; ``make addon`` refreshes it and
a test fails when it no longer matches the registry.
"""

from __future__ import annotations

import json
import os
from typing import Any

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "methods.json")
_cache: dict[str, Any] = {}


def methods() -> dict[str, dict[str, Any]]:
    """name → {description, options: {name: {default, doc}}, presets: {name: {option: value}}}."""
    if "methods" not in _cache:
        with open(PATH, encoding="utf-8") as f:
            _cache["methods"] = json.load(f)["methods"]
    return _cache["methods"]


def method_names() -> list[str]:
    order = ["auto", "zerograds", "prdpt"]  # the measured-best pick first, the papers' methods, then the baselines
    names = list(methods())
    return [n for n in order if n in names] + sorted(n for n in names if n not in order)


def generate() -> dict[str, Any]:
    """The catalog from the live registry (needs optimizer_server with torch)."""
    from optimizer_server.methods import describe_methods, get_method_class

    out = {}
    for name, info in describe_methods().items():
        presets = getattr(get_method_class(name), "presets", {})
        out[name] = {
            "description": info["description"],
            "options": {k: {"default": v["default"], "doc": v["doc"]} for k, v in info["options"].items()},
            "presets": {p: dict(presets[p]) for p in sorted(presets)},
        }
    return {"schema": 1, "methods": out}


def write(path: str = PATH) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(generate(), f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    _cache.clear()

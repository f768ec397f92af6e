"""The optimizer's method registry as the add-on sees it, without importing torch.

``methods.json`` is written from ``optimizer_server.methods.describe_methods()`` (plus each
method's presets) by ``python -m blender_addon.build --methods`` (``build.refresh_methods``);
``make addon`` refreshes it and a test fails when it no longer matches the registry.
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
            _cache["file"] = json.load(f)
            _cache["methods"] = _cache["file"]["methods"]
    return _cache["methods"]


def configurations() -> dict[str, dict[str, Any]]:
    """configuration name ("zerograds:efficient") → {method, preset, description}."""
    methods()
    return _cache["file"]["configurations"]


def featured() -> list[str]:
    """The configurations the panel offers first (``optimizer_server.methods.FEATURED``)."""
    methods()
    return list(_cache["file"]["featured"])


def method_names() -> list[str]:
    order = ["auto", "zerograds", "prdpt"]  # the measured-best pick first, the papers' methods, then the baselines
    names = list(methods())
    return [n for n in order if n in names] + sorted(n for n in names if n not in order)


def clear_cache() -> None:
    """Forget the loaded catalog (after ``build.refresh_methods`` rewrote the file)."""
    _cache.clear()

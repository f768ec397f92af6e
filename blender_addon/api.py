"""The add-on's scripting API: what the operators call, usable from scripts and tests.

from blender_addon import api
api.add_param(scene, 'objects["Ball"].location', 0)
api.add_param(scene, 'lights["Lamp"].energy', lo=100, hi=2000)
api.add_link_param(scene, 'materials["Mat"].node_tree', "Noise", "Color", "Mix", "A")
"""

from __future__ import annotations

from typing import Any

from . import datapath, params
from .datapath import DataPathError


def _default_name(binding: params.Binding) -> str:
    steps = datapath.parse(binding.path)
    owner = next((v for k, v in steps if k == "key"), steps[0][1])
    last = steps[-1][1]
    name = f"{owner}.{last}"
    return f"{name}[{binding.index}]" if binding.index >= 0 else name


def _unique(settings, name: str) -> str:
    taken = {p.name for p in settings.params}
    if name not in taken:
        return name
    k = 2
    while f"{name}.{k}" in taken:
        k += 1
    return f"{name}.{k}"


def add_param(
    scene, data_path: str, index: int = -1, name: str | None = None, lo: float | None = None, hi: float | None = None
):
    """Add a parameter by data path; kind and default bounds come from the property itself.

    Raises :class:`DataPathError` when the path does not resolve (nothing is added then).
    Adding a path that is already in the list returns the existing entry.
    """
    binding = params.resolve(data_path, index)
    settings = scene.zerograds
    for item in settings.params:
        if item.data_path == binding.path and item.array_index == binding.index:
            return item
    dlo, dhi = binding.default_bounds()
    item = settings.params.add()
    item.name = _unique(settings, name or _default_name(binding))
    item.data_path, item.array_index, item.kind = binding.path, binding.index, binding.kind
    item.min = dlo if lo is None else float(lo)
    item.max = dhi if hi is None else float(hi)
    settings.params_index = len(settings.params) - 1
    return item


def add_link_param(
    scene, tree_path: str, from_node: str, from_socket: str, to_node: str, to_socket: str, name: str | None = None
):
    """Add a link parameter: is there a link from_node.from_socket -> to_node.to_socket in the tree?

    ``tree_path`` is a node tree's data path (or a material's/world's: its node tree is used).
    Raises :class:`DataPathError` naming the unknown node or socket (nothing is added then);
    adding the same link again returns the existing entry.
    """
    link = {"from_node": from_node, "from_socket": from_socket, "to_node": to_node, "to_socket": to_socket}
    binding = params.resolve_ref({"path": tree_path, "link": link})
    settings = scene.zerograds
    for item in settings.params:
        if item.kind == "link" and item.data_path == binding.path and item.ref()["link"] == link:
            return item
    item = settings.params.add()
    item.name = _unique(settings, name or f"{from_node}.{from_socket}->{to_node}.{to_socket}")
    item.data_path, item.array_index, item.kind = binding.path, -1, "link"
    for key, value in link.items():
        setattr(item, key, value)
    item.min, item.max = binding.default_bounds()
    settings.params_index = len(settings.params) - 1
    return item


def array_length(data_path: str) -> int:
    """How many elements the property at ``data_path`` has (0 for a single value)."""
    try:
        params.resolve(data_path, -1)
        return 0
    except DataPathError as exc:
        if "is an array of" not in str(exc):
            raise
    n = 1
    while True:
        try:
            params.resolve(data_path, n)
        except DataPathError:
            return n
        n += 1


def param_problem(item) -> str | None:
    """Why a list entry cannot be optimised right now (None when it is fine). Cheap: for drawing."""
    try:
        binding = params.resolve_ref(item.ref())
    except DataPathError as exc:
        return str(exc).split("\n")[0]
    if binding.kind != item.kind:
        return f"the property is now a {binding.kind}, the list says {item.kind}; remove and add it again"
    if not item.min < item.max:
        return f"min ({item.min:g}) must be below max ({item.max:g})"
    return None


def enabled_params(scene) -> list[Any]:
    return [p for p in scene.zerograds.params if p.enabled]


def param_refs(scene) -> list[dict[str, Any]]:
    """``[{name, path, index}]`` (links: ``{name, path, link}``) of the enabled parameters, for workers
    and the resolver."""
    return [p.ref() for p in enabled_params(scene)]


def param_specs(scene) -> list[dict[str, Any]]:
    """``ParamSpec.from_dict`` shapes of the enabled parameters (checked against the scene)."""
    items = enabled_params(scene)
    if not items:
        raise DataPathError("no parameters to optimise: right-click a property → Add to Optimization")
    problems = [f"{p.name}: {msg}" for p in items for msg in [param_problem(p)] if msg]
    if problems:
        raise DataPathError("fix these parameters first (or disable them):\n" + "\n".join(problems))
    specs = []
    for p in items:
        binding = params.resolve_ref(p.ref())
        specs.append(binding.spec_dict(p.name, p.min, p.max))
    return specs

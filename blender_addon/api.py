"""The add-on's scripting API: what the operators call, usable from scripts and tests.

from blender_addon import api
api.add_param(scene, 'objects["Ball"].location', 0)
api.add_param(scene, 'lights["Lamp"].energy', lo=100, hi=2000)
api.add_link_param(scene, 'materials["Mat"].node_tree', "Noise", "Color", "Mix", "A")
"""

from __future__ import annotations

from typing import Any

from optimizer_server.wire.paramref import LinkRef, ParamRef
from optimizer_server.wire.space import ParamSpec

from . import datapath, params
from ._deps import ConfigError
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


def _add(scene, ref: ParamRef, binding):
    settings = scene.zerograds
    item = settings.params.add()
    item.set_ref(ref.replace(name=_unique(settings, ref.name)), binding.kind, binding.default_bounds())
    settings.params_index = len(settings.params) - 1
    return item


def add_param(
    scene, data_path: str, index: int = -1, name: str | None = None, lo: float | None = None, hi: float | None = None
):
    """Add a parameter by data path; kind and default bounds come from the property itself.

    Raises :class:`DataPathError` when the path does not resolve (nothing is added then).
    Adding a path that is already in the list returns the existing entry.
    """
    binding = params.resolve(data_path, index)
    for item in scene.zerograds.params:
        if not item.is_link and item.data_path == binding.path and item.array_index == binding.index:
            return item
    ref = ParamRef(name or _default_name(binding), binding.path, binding.index, lo=lo, hi=hi)
    return _add(scene, ref, binding)


def add_link_param(
    scene, tree_path: str, from_node: str, from_socket: str, to_node: str, to_socket: str, name: str | None = None
):
    """Add a link parameter: is there a link from_node.from_socket -> to_node.to_socket in the tree?

    ``tree_path`` is a node tree's data path (or a material's/world's: its node tree is used).
    Raises :class:`DataPathError` naming the unknown node or socket (nothing is added then);
    adding the same link again returns the existing entry.
    """
    link = LinkRef.from_any((from_node, from_socket, to_node, to_socket))
    name = name or f"{from_node}.{from_socket}->{to_node}.{to_socket}"
    binding = params.resolve_ref(ParamRef(name, tree_path, link=link))
    for item in scene.zerograds.params:
        if item.is_link and item.data_path == binding.path and item.ref().link == link:
            return item
    return _add(scene, ParamRef(name, binding.path, link=link), binding)


def add_array_param(
    scene,
    path: str,
    kind: str,
    channels: str = "",
    mode: str = "",
    group: str = "",
    name: str | None = None,
    lo: float | None = None,
    hi: float | None = None,
    attribute: str = "",
):
    """Add an array parameter: an image's pixels (``kind="image"``, ``path`` such as 'images["Albedo"]'),
    a mesh object's vertices (``kind="mesh"``, 'objects["Ball"]') or a mesh object's float attribute
    (``kind="attribute"``, its name in ``attribute``). One row in the list ("Albedo: 64×64×3 texels").
    Raises DataPathError naming the problem (a packed-less file image, a mesh whose modifiers change its
    vertex count, an attribute that is not Float ...); nothing is added then. The same block again
    returns its row."""
    array = {
        "image": {"kind": kind, "channels": channels},
        "attribute": {"kind": kind, "attribute": attribute},
    }.get(kind, {"kind": kind, "mode": mode, "group": group})
    default_name = attribute if kind == "attribute" else path.split('"')[1] if '"' in path else path
    ref = ParamRef(name or default_name, path, lo=lo, hi=hi, array=array)
    binding = params.resolve_ref(ref)
    for item in scene.zerograds.params:
        same_block = item.array_kind == kind.upper() and (kind != "attribute" or item.attribute == attribute)
        if item.is_array and item.data_path == binding.path and same_block:
            return item
    item = _add(scene, ref.replace(path=binding.path), binding)
    item.block_text = block_text(binding)
    return item


def block_text(binding) -> str:
    """``64×64×3 texels`` / ``2,562 vertices`` / ``642 point values``: how a row names its block."""
    from optimizer_server.wire.layout import describe_shape

    domain = getattr(binding, "domain", None)
    if domain is not None:  # a mesh attribute
        return describe_shape(binding.shape, f"{domain.lower().replace('_', ' ')} values")
    if binding.shape and len(binding.shape) == 3:
        return describe_shape(binding.shape, "texels")
    return describe_shape(binding.shape[:1], "vertices") + (" × 3" if len(binding.shape) == 2 else "")


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
    if not item.is_link and (item.kind in ("float", "int") or item.is_array) and not item.min < item.max:
        return f"min ({item.min:g}) must be below max ({item.max:g})"
    try:
        ref = item.ref()
        binding = params.resolve_ref(ref)
    except ConfigError as exc:  # DataPathError too
        return str(exc).split("\n")[0]
    if binding.kind != item.kind:
        return f"the property is now a {binding.kind}, the list says {item.kind}; remove and add it again"
    if item.is_array and block_text(binding) != item.block_text:
        return f"the block is now {block_text(binding)}, the list says {item.block_text}; remove and add it again"
    return None


def enabled_params(scene) -> list[Any]:
    return [p for p in scene.zerograds.params if p.enabled]


def param_refs(scene) -> list[ParamRef]:
    """The enabled parameters' references, checked against the scene (every one resolves, sane bounds)."""
    items = enabled_params(scene)
    if not items:
        raise DataPathError("no parameters to optimise: right-click a property → Add to Optimization")
    problems = [f"{p.name}: {msg}" for p in items for msg in [param_problem(p)] if msg]
    if problems:
        raise DataPathError("fix these parameters first (or disable them):\n" + "\n".join(problems))
    return [p.ref() for p in items]


def param_specs(scene) -> list[ParamSpec]:
    """The optimiser's specs of the enabled parameters (kinds and default bounds from the properties)."""
    return [params.spec_for(ref, params.resolve_ref(ref)) for ref in param_refs(scene)]

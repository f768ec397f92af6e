"""Walking ``bpy.data`` by parsed data-path steps, and the data path of a data block (ID).

Shared by scalar parameters (``params``) and link parameters (``links``); nothing here is
``eval``'d. Works on every Blender the add-on declares: 3.4 has no ``ID.id_type``, so a data
block's kind is read from its RNA class (``Object``, ``ShaderNodeTree`` → ``NodeTree`` ...).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import bpy

from . import datapath
from .datapath import DataPathError


def names_hint(candidates: Sequence[str], wanted: str) -> str:
    """'; did you mean ...?' or '; it has ...': the end of an error message about a missing name."""
    close = difflib.get_close_matches(wanted, list(candidates), n=3)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    shown = list(candidates)[:8]
    return "; it has " + (
        ", ".join(repr(c) for c in shown) + (" …" if len(candidates) > 8 else "") if shown else "nothing"
    )


def rna_props(struct) -> list[str]:
    return [p.identifier for p in struct.bl_rna.properties if p.identifier != "rna_type"]


def step(obj, one_step, where: str, path: str):
    """Follow one parsed step (attr / key / index) from ``obj``; ``where`` names ``obj`` in errors."""
    kind, value = one_step
    if kind == "attr":
        if isinstance(obj, bpy.types.bpy_struct) and value in obj.bl_rna.properties:  # bpy.data too
            return getattr(obj, value)
        names = rna_props(obj) if isinstance(obj, bpy.types.bpy_struct) else []
        raise DataPathError(f"{path!r}: {where} has no property {value!r}{names_hint(names, value)}")
    if isinstance(obj, bpy.types.bpy_prop_collection):
        if kind == "key":
            found = obj.get(value)
            if found is None:
                raise DataPathError(f"{path!r}: {where} has no item named {value!r}{names_hint(obj.keys(), value)}")
            return found
        if not -len(obj) <= value < len(obj):
            raise DataPathError(f"{path!r}: {where} has {len(obj)} items, index {value} is out of range")
        return obj[value]
    raise DataPathError(f"{path!r}: {where} is a {type(obj).__name__}; [{value!r}] can only follow a collection here")


def where_of(steps: list[datapath.Step]) -> str:
    return "bpy.data." + datapath.format_steps(steps) if steps else "bpy.data"


def walk(steps: list[datapath.Step], path: str):
    """Follow every step from ``bpy.data``."""
    obj = bpy.data
    for i, one_step in enumerate(steps):
        obj = step(obj, one_step, where_of(steps[:i]), path)
    return obj


def resolve_struct(path: str):
    """The struct (data block, node tree, ...) a data path leads to, e.g. for link parameters."""
    return walk(datapath.parse(path), path)


# The bpy.data collection of each kind of data block, by RNA class (a subclass such as PointLight
# or GeometryNodeTree is found through its bases).
ID_COLLECTIONS = {
    "Object": "objects",
    "Mesh": "meshes",
    "Material": "materials",
    "World": "worlds",
    "Light": "lights",
    "Camera": "cameras",
    "Scene": "scenes",
    "NodeTree": "node_groups",
    "Texture": "textures",
    "Image": "images",
    "Curve": "curves",
    "Curves": "hair_curves",
    "Armature": "armatures",
    "Lattice": "lattices",
    "MetaBall": "metaballs",
    "Volume": "volumes",
    "PointCloud": "pointclouds",
    "ParticleSettings": "particles",
    "Collection": "collections",
    "Action": "actions",
    "LightProbe": "lightprobes",
    "Speaker": "speakers",
    "FreestyleLineStyle": "linestyles",
    "MovieClip": "movieclips",
    "Mask": "masks",
}
_EMBEDDED_TREE_OWNERS = ("materials", "worlds", "lights", "scenes", "textures", "linestyles")


def id_class(id_block) -> str:
    """The RNA class an ID is an instance of, as ID_COLLECTIONS names it (``PointLight`` → ``Light``)."""
    for cls in type(id_block).__mro__:
        if cls.__name__ in ID_COLLECTIONS:
            return cls.__name__
    return type(id_block).__name__


def path_for_id(id_block) -> str:
    """The data path of an ID inside ``bpy.data`` (e.g. ``objects["Cube"]``), for building paths.

    Embedded node trees (a material's, world's or light's nodes) live inside their owner, so their
    path goes through it: ``materials["Mat"].node_tree``.
    """
    kind = id_class(id_block)
    collection = ID_COLLECTIONS.get(kind)
    if collection is None:
        raise DataPathError(f"{id_block.name!r} is a {kind}, which is not supported")
    if kind == "NodeTree" and bpy.data.node_groups.get(id_block.name) != id_block:
        for owners in _EMBEDDED_TREE_OWNERS:
            for owner in getattr(bpy.data, owners, ()):
                tree = getattr(owner, "node_tree", None) or getattr(owner, "compositing_node_group", None)
                if tree is not None and tree == id_block:
                    return datapath.format_steps([("attr", owners), ("key", owner.name), ("attr", "node_tree")])
        raise DataPathError(f"cannot find which data block owns node tree {id_block.name!r}")
    return datapath.format_steps([("attr", collection), ("key", id_block.name)])

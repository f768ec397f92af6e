"""Scene parameters addressed by data path: resolve once, detect their kind, write samples atomically.

``resolve(path, index)`` walks ``bpy.data`` step by step (``getattr`` and collection lookups,
never ``eval``) and returns a :class:`Binding`: the struct that owns the value, how to read and
write it, its kind (float / int / bool / enum) and default bounds from the property's soft limits.

A :class:`~optimizer_server.wire.paramref.ParamRef` (the project's parameter reference) resolves
through :func:`resolve_ref`: a data path to a :class:`Binding`, a link (``blender_addon.links``: does
a link between two named sockets exist) to a ``LinkBinding`` with the same interface. Kinds,
bounds and rounding are the optimiser's ``ParamSpec``'s (``optimizer_server.wire.space``).

An array reference (``ref.array``: an image's pixels, a mesh's vertices) resolves to one of
``blender_addon.arrays``' bindings, which hold a whole block of values.

``apply_values(bindings, values)`` writes one sample in parameter units (a flat vector: one entry per
scalar, a block's worth per array; discrete kinds rounded, enums by choice index), tags what Cycles'
persistent data would otherwise ignore, and restores every value if any write fails, so the scene is
never half-applied.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import bpy
import numpy as np

from optimizer_server.wire.paramref import ParamRef
from optimizer_server.wire.space import ParamSpec, round_half_up

from . import arrays, datapath, links, lookup
from .datapath import DataPathError

_RNA_KIND = {"FLOAT": "float", "INT": "int", "BOOLEAN": "bool", "ENUM": "enum"}
_IDPROP_KIND = {"f": "float", "d": "float", "i": "int", "b": "bool"}  # IDPropertyArray.typecode
_COMPONENTS = {"x": 0, "y": 1, "z": 2, "w": 3, "r": 0, "g": 1, "b": 2, "a": 3}
_HUGE = 1.0e4  # a soft range wider than this is "unbounded" (location, IOR...): bounds come from the value


class Binding:
    """One resolved scalar in the scene. Resolve once, then read/write it many times."""

    def __init__(
        self,
        path: str,
        owner,
        key: str,
        is_idprop: bool,
        index: int,
        kind: str,
        choices: list[str] | None,
        soft: tuple | None,
        angle: bool,
        needs_tag: bool,
    ):
        self.path = path  # canonical data path of the property (without the index)
        self.owner = owner  # the bpy struct holding the value
        self.key = key  # RNA identifier, or the ID-property key
        self.is_idprop = is_idprop  # custom property / geometry-nodes modifier input
        self.index = index  # array element, -1 for a scalar
        self.kind = kind
        self.choices = choices  # enum identifiers; the parameter value is the index into them
        self.soft = soft  # (soft_min, soft_max) of the property, None when unknown
        self.angle = angle
        # Persistent data ignores writes that carry no RNA update (ID properties, add-on
        # defined settings such as scene.cycles.*) unless the owning ID is tagged.
        self.tag_id = owner.id_data if needs_tag else None

    def __repr__(self):
        idx = f"[{self.index}]" if self.index >= 0 else ""
        return f"<Binding {self.path}{idx} ({self.kind})>"

    # --- raw access (exact values, for snapshots) ------------------------------------------
    def get_raw(self):
        value = self.owner[self.key] if self.is_idprop else getattr(self.owner, self.key)
        return value[self.index] if self.index >= 0 else value

    def set_raw(self, raw) -> None:
        if self.index >= 0:
            container = self.owner[self.key] if self.is_idprop else getattr(self.owner, self.key)
            container[self.index] = raw
        elif self.is_idprop:
            self.owner[self.key] = raw
        else:
            setattr(self.owner, self.key, raw)

    # --- parameter units -----------------------------------------------------------------
    def read(self) -> float:
        """The current value in parameter units (enum → choice index, bool → 0/1)."""
        raw = self.get_raw()
        if self.kind == "enum":
            return float(self.choices.index(raw)) if raw in self.choices else 0.0
        return float(raw)

    def to_raw(self, value: float):
        """Parameter units → the Python value Blender expects (discrete kinds rounded)."""
        if self.kind == "float":
            return float(value)
        k = int(round_half_up(value))
        if self.kind == "bool":
            return k >= 1
        if self.kind == "enum":
            return self.choices[min(max(k, 0), len(self.choices) - 1)]
        return k

    def write(self, value: float) -> None:
        self.set_raw(self.to_raw(value))

    def default_bounds(self) -> tuple:
        """(lo, hi) for a new parameter: the soft limits, or a range around the value if unbounded."""
        if self.kind == "bool":
            return 0.0, 1.0
        if self.kind == "enum":
            return 0.0, float(len(self.choices) - 1)
        lo, hi = self.soft if self.soft else (-math.inf, math.inf)
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo > _HUGE:
            v = self.read()
            half = math.pi if self.angle else max(1.0, abs(v))
            lo, hi = v - half, v + half
        if self.kind == "int":
            lo, hi = math.floor(lo), math.ceil(hi)
            if lo == hi:
                hi = lo + 1
        return float(lo), float(hi)


# --- resolution ----------------------------------------------------------------------------
def resolve(path: str, index: int = -1) -> Binding:
    """Resolve a data path (relative to ``bpy.data``) and optional array index to a :class:`Binding`."""
    steps = datapath.parse(path)
    # A trailing [i] on an array is the array index (``location[1]`` ≡ path ``location``, index 1).
    if len(steps) >= 2 and steps[-1][0] == "index" and steps[-2][0] in ("attr", "key"):
        if index not in (-1, steps[-1][1]):
            raise DataPathError(f"{path!r} ends in [{steps[-1][1]}] but index {index} was given; give one of them")
        owner_steps, last, index = steps[:-2], steps[-2], steps[-1][1]
    else:
        owner_steps, last = steps[:-1], steps[-1]
    canonical = datapath.format_steps(owner_steps + [last])
    obj = lookup.walk(owner_steps, path)
    where = lookup.where_of(owner_steps)
    if (
        last[0] == "attr"
        and last[1] in _COMPONENTS
        and owner_steps
        and not isinstance(obj, bpy.types.bpy_struct)
        and hasattr(obj, "__len__")
    ):
        # location.x → location, index 0 (quaternions store w first)
        index = "wxyz".index(last[1]) if type(obj).__name__ == "Quaternion" else _COMPONENTS[last[1]]
        raise DataPathError(
            f"{path!r}: {where} is a {type(obj).__name__}; use the path "
            f"'{datapath.format_steps(owner_steps)}' with index {index}"
        )
    if not isinstance(obj, bpy.types.bpy_struct) or isinstance(obj, bpy.types.bpy_prop_collection):
        raise DataPathError(f"{path!r}: {where} is not a data block or struct that holds properties")
    kind_of_last, key = last
    if kind_of_last == "key":
        return _bind_idprop(obj, key, index, canonical, where)
    if kind_of_last != "attr":
        raise DataPathError(f"{path!r}: the path must end at a property, not at [{key}]")
    return _bind_rna(obj, key, index, canonical, where)


def _check_index(path: str, index: int, length: int) -> int:
    if length == 0:
        if index > 0:
            raise DataPathError(f"{path!r} is a single value, not an array; leave the index out (or use -1)")
        return -1  # index 0 on a scalar is what Blender's keying sets store: accept it
    if index < 0:
        raise DataPathError(f"{path!r} is an array of {length} values; give an index 0…{length - 1}")
    if index >= length:
        raise DataPathError(f"{path!r} has {length} values; index {index} is out of range 0…{length - 1}")
    return index


def _bind_rna(owner, key: str, index: int, path: str, where: str) -> Binding:
    prop = owner.bl_rna.properties.get(key)
    if prop is None:
        raise DataPathError(
            f"{path!r}: {where} has no property {key!r}{lookup.names_hint(lookup.rna_props(owner), key)}"
        )
    kind = _RNA_KIND.get(prop.type)
    if kind is None:
        raise DataPathError(
            f"{path!r} is a {prop.type.lower()} property; only float, int, bool and enum properties can be optimised"
        )
    if prop.is_readonly:
        raise DataPathError(f"{path!r} is read-only in Blender and cannot be set")
    dims = [d for d in getattr(prop, "array_dimensions", ()) if d]
    if len(dims) > 1:
        raise DataPathError(f"{path!r} is a {'×'.join(map(str, dims))} matrix; optimise a vector property instead")
    choices = soft = None
    if kind == "enum":
        if prop.is_enum_flag:
            raise DataPathError(f"{path!r} is a set of flags; only single-choice enums can be optimised")
        choices = [item.identifier for item in prop.enum_items]
        if len(choices) < 2 or getattr(owner, key) not in choices:
            raise DataPathError(
                f"{path!r} has items that depend on the scene (a dynamic enum); it cannot be optimised as an enum"
            )
    elif kind in ("float", "int"):
        soft = (float(prop.soft_min), float(prop.soft_max))
    index = _check_index(path, index, prop.array_length if kind != "enum" else 0)
    angle = prop.type == "FLOAT" and (prop.unit == "ROTATION" or prop.subtype in ("ANGLE", "EULER"))
    return Binding(path, owner, key, False, index, kind, choices, soft, angle, needs_tag=prop.is_runtime)


def _bind_idprop(owner, key: str, index: int, path: str, where: str) -> Binding:
    try:
        keys = list(owner.keys())
    except TypeError:
        raise DataPathError(f"{path!r}: {where} cannot hold custom properties") from None
    if key not in keys:
        shown = [k for k in keys if not k.endswith(("_use_attribute", "_attribute_name"))]
        raise DataPathError(f"{path!r}: {where} has no custom property {key!r}{lookup.names_hint(shown, key)}")
    value = owner[key]
    typecode = getattr(value, "typecode", None)
    if isinstance(value, bool):
        kind, length = "bool", 0
    elif isinstance(value, int):
        kind, length = "int", 0
    elif isinstance(value, float):
        kind, length = "float", 0
    elif typecode in _IDPROP_KIND:
        kind, length = _IDPROP_KIND[typecode], len(value)
    else:
        raise DataPathError(f"{path!r} holds a {type(value).__name__}; only numbers and booleans can be optimised")
    index = _check_index(path, index, length)
    soft = None
    if kind in ("float", "int"):
        ui = owner.id_properties_ui(key).as_dict()
        soft = (float(ui.get("soft_min", -math.inf)), float(ui.get("soft_max", math.inf)))
    return Binding(path, owner, key, True, index, kind, None, soft, False, needs_tag=True)


# --- applying samples --------------------------------------------------------------------------
def snapshot(bindings: Sequence[Binding]) -> list:
    """Exact current values (raw Blender values), for :func:`restore`."""
    return [b.get_raw() for b in bindings]


def restore(bindings: Sequence[Binding], saved: list) -> None:
    for b, raw in zip(bindings, saved):
        b.set_raw(raw)
    tag(bindings)


def tag(bindings: Sequence[Binding]) -> None:
    """Tag the IDs whose changes Cycles' persistent data (and the depsgraph) would otherwise miss."""
    seen = set()
    for b in bindings:
        if b.tag_id is not None and id(b.tag_id) not in seen:
            seen.add(id(b.tag_id))
            b.tag_id.update_tag()


def size_of(binding) -> int:
    """How many values a binding takes in a sample: 1, or an array block's size."""
    return getattr(binding, "size", 1) if getattr(binding, "is_array", False) else 1


def split(bindings: Sequence, values) -> list:
    """A flat sample → one float per scalar binding, one flat array per array binding."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    sizes = [size_of(b) for b in bindings]
    if values.size != sum(sizes):
        raise DataPathError(f"got {values.size} values for {len(bindings)} parameters holding {sum(sizes)}")
    parts, offset = [], 0
    for b, size in zip(bindings, sizes):
        chunk = values[offset : offset + size]
        parts.append(chunk if getattr(b, "is_array", False) else float(chunk[0]))
        offset += size
    return parts


def apply_values(bindings: Sequence[Binding], values, update: bool = False) -> None:
    """Write one sample (parameter units, flat) to all bindings at once; all or nothing.

    Scalars are written first (a write Blender refuses restores them); array blocks, checked before
    anything is written, last. ``update=True`` also evaluates the view layer's depsgraph once (needed
    to see the result in the viewport or before stepping frames; a render evaluates its own anyway).
    """
    parts = split(bindings, values)
    bad = [b.path for b, v in zip(bindings, parts) if not np.all(np.isfinite(v))]
    if bad:
        raise DataPathError(f"non-finite values for {bad}; nothing was changed")
    scalars = [(b, v) for b, v in zip(bindings, parts) if not getattr(b, "is_array", False)]
    blocks = [(b, b.check(v)) for b, v in zip(bindings, parts) if getattr(b, "is_array", False)]
    saved = snapshot([b for b, _ in scalars])
    try:
        for b, v in scalars:
            b.write(v)
    except Exception:
        restore([b for b, _ in scalars], saved)
        raise
    for b, v in blocks:
        b.write(v)
    tag(bindings)
    if update:
        bpy.context.view_layer.update()


def keep(bindings: Sequence) -> None:
    """Make written array values part of the .blend when it is saved (an image's pixels are packed)."""
    for b in bindings:
        if hasattr(b, "keep"):
            b.keep()


def read_values(bindings: Sequence[Binding]) -> list[float]:
    """The current values, flat: one per scalar, a block's worth per array."""
    out: list[float] = []
    for b in bindings:
        if getattr(b, "is_array", False):
            out.extend(b.read().tolist())
        else:
            out.append(b.read())
    return out


def spec_for(ref: ParamRef, binding) -> ParamSpec:
    """The optimiser's spec of a resolved parameter: the ref's name and range (default: the
    binding's :meth:`~Binding.default_bounds`), the property's kind (an error if the ref expects
    another kind). Works for both kinds of binding (a link is a bool)."""
    if getattr(binding, "is_array", False):
        return binding.spec(ref)
    if ref.value_kind is not None and ref.value_kind != binding.kind:
        raise DataPathError(
            f"parameter {ref.name!r}: kind = {ref.value_kind!r}, but {ref.describe()} is a {binding.kind} "
            f"property; write kind = {binding.kind!r} or leave kind out"
        )
    lo, hi = binding.default_bounds()
    if binding.kind in ("float", "int"):  # bool and enum bounds are their choices
        lo, hi = (lo if ref.lo is None else ref.lo), (hi if ref.hi is None else ref.hi)
    if binding.kind == "int":  # the optimiser wants whole-number bounds for ints
        lo, hi = float(math.ceil(lo - 1e-9)), float(math.floor(hi + 1e-9))
    if binding.kind in ("bool", "enum"):
        lo = hi = None  # implied by the kind
    choices = binding.choices if binding.kind == "enum" else None
    return ParamSpec(ref.name, lo, hi, kind=binding.kind, choices=choices)


def resolve_ref(ref: ParamRef):
    """A parameter reference → its live binding (a :class:`Binding`, or a link's ``LinkBinding``)."""
    if ref.link is not None:  # the path names a node tree (or a material/world that has one)
        return links.resolve_link(ref.path, ref.link, lookup.resolve_struct(ref.path))
    if ref.array is not None:  # an image's pixels, a mesh's vertices or a mesh attribute
        return arrays.resolve_array(ref)
    return resolve(ref.path, ref.index)


def resolve_all(refs: Sequence[ParamRef]) -> list[Binding]:
    """Resolve every reference; reports *every* bad one in one error."""
    bindings, problems = [], []
    for ref in refs:
        try:
            bindings.append(resolve_ref(ref))
        except DataPathError as e:
            problems.append(f"parameter {ref.name!r}: {e}")
    if problems:
        raise DataPathError("\n".join(problems))
    shared = links.check_shared_inputs(bindings) + _shared_blocks(refs, bindings)
    if shared:
        raise DataPathError("\n".join(shared))
    return bindings


def _shared_blocks(refs: Sequence[ParamRef], bindings: Sequence) -> list[str]:
    """Two array parameters on one image or mesh would overwrite each other's values."""
    seen: dict[str, str] = {}
    problems = []
    for ref, b in zip(refs, bindings):
        if getattr(b, "is_array", False):
            key = getattr(b, "block_key", b.path)
            if key in seen:
                problems.append(f"parameters {seen[key]!r} and {ref.name!r} both change {key}; keep one")
            seen.setdefault(key, ref.name)
    return problems

"""Where an optimised parameter lives in a scene: the one parameter reference of the project.

A :class:`ParamRef` names a parameter and says where it is: a data path from ``bpy.data`` (plus an
array index), or a node tree's data path plus a :class:`LinkRef` (does a link between two named
sockets exist: a bool). It may also carry the range the user chose (``lo``/``hi``) and the kind
the user expects (``kind``, one of ``space.KINDS``; ``None``: whatever the property is).

The job file (``blender_addon.jobfile``), the panel's list (``blender_addon.props``), the render
settings the workers get (``blender_addon.jobspec``) and the benchmark scenes (``scenes.task.Param``,
which adds start and target values) all hold ParamRefs. In Blender a ref resolves to a live
``blender_addon.params.Binding``; kinds, bounds and rounding are the :class:`~.space.ParamSpec`'s.

Wire form (``to_dict``/``from_dict``)::

    {"name": "x", "path": 'objects["Ball"].location', "index": 0, "lo": -1.0, "hi": 1.0}
    {"name": "l3", "path": 'materials["Mat"].node_tree',
     "link": {"from_node": "Noise", "from_socket": "Color", "to_node": "Mix", "to_socket": "A"}}
    {"name": "albedo", "path": 'images["Albedo"]', "array": {"kind": "image", "channels": "RGB"}, "lo": 0, "hi": 1}
    {"name": "shape", "path": 'objects["Ball"]', "array": {"kind": "mesh", "mode": "normal", "group": "Top"}}
    {"name": "density", "path": 'objects["Ground"]', "array": {"kind": "attribute", "attribute": "density"}}

An ``array`` (an :class:`ArrayRef`) makes the parameter one block of many values: the pixels of an Image
datablock (all of them, chosen channels), the vertices of a mesh object (offsets along the rest
normals, or x, y, z offsets; optionally one vertex group's) or a named float attribute of a mesh object
(what a geometry-nodes tree or a shader reads). Its bounds hold for every value of the block.

Only the standard library and this package are imported: the Blender add-on vendors it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from .errors import ConfigError
from .space import KINDS, ParamSpec

LINK_FIELDS = ("from_node", "from_socket", "to_node", "to_socket")
_REF_KEYS = ("name", "path", "index", "link", "lo", "hi", "kind", "array")
ARRAY_KINDS = ("image", "mesh", "attribute")
MESH_MODES = ("normal", "xyz")
ARRAY_FIELDS = ("kind", "channels", "mode", "group", "attribute")


@dataclass(frozen=True)
class ArrayRef:
    """What block of values an array parameter is.

    ``kind="image"``: an Image datablock's pixels, ``channels`` of them ("RGB": the colour of an albedo
    map; default: RGB of an RGBA image, else every channel). ``kind="mesh"``: a mesh object's vertices,
    ``mode`` "normal" (one offset per vertex along its rest normal, the default) or "xyz" (three offsets
    per vertex from its rest position, object space), only ``group``'s vertices when given.
    ``kind="attribute"``: the values of a mesh object's float attribute named ``attribute`` (one per
    point, edge, face or face corner, whichever its domain is).
    """

    kind: str
    channels: str = ""
    mode: str = ""
    group: str = ""
    attribute: str = ""

    def __post_init__(self):
        if self.kind not in ARRAY_KINDS:
            raise ConfigError(f"an array parameter's kind is one of {', '.join(ARRAY_KINDS)}, got {self.kind!r}")
        for key in ("channels", "mode", "group", "attribute"):
            if not isinstance(getattr(self, key), str):
                raise ConfigError(f"an array parameter's {key} must be a string, got {getattr(self, key)!r}")
        if self.kind == "image":
            self._check_image()
        elif self.kind == "mesh":
            self._check_mesh()
        else:
            self._check_attribute()

    def _check_image(self) -> None:
        if self.mode or self.group or self.attribute:
            raise ConfigError("an image parameter has channels, not a mode, a vertex group or an attribute")
        channels = self.channels.upper()
        if channels and (set(channels) - set("RGBA") or len(set(channels)) != len(channels)):
            raise ConfigError(f"image channels are distinct letters of RGBA, e.g. 'RGB'; got {self.channels!r}")
        if channels and channels != "".join(c for c in "RGBA" if c in channels):
            ordered = "".join(sorted(channels, key="RGBA".index))
            raise ConfigError(f"image channels go in the order R, G, B, A; write {ordered!r}")
        object.__setattr__(self, "channels", channels)

    def _check_mesh(self) -> None:
        if self.channels or self.attribute:
            raise ConfigError("a mesh parameter has a mode and optionally a vertex group, not channels or an attribute")
        mode = self.mode or "normal"
        if mode not in MESH_MODES:
            raise ConfigError(
                f"a mesh parameter's mode is 'normal' (one offset per vertex along its normal) or 'xyz' (three "
                f"offsets per vertex), got {self.mode!r}"
            )
        object.__setattr__(self, "mode", mode)

    def _check_attribute(self) -> None:
        if self.channels or self.mode or self.group:
            raise ConfigError("an attribute parameter names its attribute only, not channels, a mode or a vertex group")
        if not self.attribute.strip():
            raise ConfigError('an attribute parameter needs the attribute\'s name, e.g. attribute = "density"')

    def to_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in ARRAY_FIELDS if getattr(self, k)}

    @classmethod
    def from_any(cls, array: Any, where: str = "array") -> ArrayRef:
        if isinstance(array, ArrayRef):
            return array
        if isinstance(array, str):
            array = {"kind": array}
        if not isinstance(array, Mapping):
            raise ConfigError(
                f"{where}: an array is {{kind, channels?, mode?, group?, attribute?}}, got {array!r}"[:300]
            )
        unknown = sorted(set(array) - set(ARRAY_FIELDS))
        if unknown:
            raise ConfigError(f"{where}: unknown array keys {unknown}; allowed: {', '.join(ARRAY_FIELDS)}")
        try:
            return cls(**{k: array[k] for k in ARRAY_FIELDS if k in array})
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"{where}: {exc}") from None

    def __str__(self) -> str:
        if self.kind == "image":
            return f"image pixels ({self.channels or 'default channels'})"
        if self.kind == "attribute":
            return f"mesh attribute {self.attribute!r}"
        return f"mesh vertices ({self.mode}{', group ' + self.group if self.group else ''})"


@dataclass(frozen=True)
class LinkRef:
    """A candidate link of a node tree: from an output socket of one node to an input of another.

    Nodes by name (not label); sockets by name among the node's enabled sockets, or by identifier
    (``A_Color``) when several enabled ones share the name.
    """

    from_node: str
    from_socket: str
    to_node: str
    to_socket: str

    def __post_init__(self):
        empty = [k for k in LINK_FIELDS if not isinstance(getattr(self, k), str) or not getattr(self, k)]
        if empty:
            raise ConfigError(f"a link needs the non-empty names {', '.join(LINK_FIELDS)}; missing or empty: {empty}")

    def to_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in LINK_FIELDS}

    @classmethod
    def from_any(cls, link: Any, where: str = "link") -> LinkRef:
        """A LinkRef, a mapping with the four names, or a sequence of them in LINK_FIELDS order."""
        if isinstance(link, LinkRef):
            return link
        if isinstance(link, Mapping):
            missing = [k for k in LINK_FIELDS if not isinstance(link.get(k), str) or not link[k]]
            unknown = sorted(set(link) - set(LINK_FIELDS))
            if missing or unknown:
                raise ConfigError(
                    f"{where}: a link needs the non-empty names {', '.join(LINK_FIELDS)}; "
                    f"missing or empty: {missing}, unknown keys: {unknown}"
                )
            return cls(**{k: link[k] for k in LINK_FIELDS})
        if isinstance(link, Sequence) and not isinstance(link, str) and len(link) == len(LINK_FIELDS):
            try:
                return cls(*link)
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None
        raise ConfigError(f"{where}: a link needs a table with {', '.join(LINK_FIELDS)}, got {link!r}"[:300])

    def __str__(self) -> str:
        return f"{self.from_node}.{self.from_socket} -> {self.to_node}.{self.to_socket}"


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{what} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ParamRef:
    """One optimised parameter: its name, where it is, and optionally its range and expected kind.

    A link parameter (``link`` set) is an on/off switch: its kind is ``bool``, it has no index and
    no range of its own (``lo``/``hi`` may only be 0 and 1).
    """

    name: str
    path: str
    index: int = -1
    link: LinkRef | None = None
    lo: float | None = None
    hi: float | None = None
    kind: str | None = None
    array: ArrayRef | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"a parameter needs a non-empty name, got {self.name!r}")
        where = f"parameter {self.name!r}"
        if not isinstance(self.path, str) or not self.path.strip():
            raise ConfigError(f"{where}: needs a data path such as 'objects[\"Ball\"].location', got {self.path!r}")
        if isinstance(self.index, bool) or not isinstance(self.index, int) or self.index < -1:
            raise ConfigError(f"{where}: index must be a whole number, -1 (a single value) or more, got {self.index!r}")
        if self.kind is not None and self.kind not in KINDS:
            raise ConfigError(f"{where}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        for bound in ("lo", "hi"):
            if getattr(self, bound) is not None:
                object.__setattr__(self, bound, _number(getattr(self, bound), f"{where}: {bound}"))
        if self.lo is not None and self.hi is not None and not self.lo < self.hi:
            raise ConfigError(f"{where}: needs lo < hi, got lo={self.lo:g}, hi={self.hi:g}; swap or widen them")
        if self.link is not None:
            object.__setattr__(self, "link", LinkRef.from_any(self.link, where))
            self._check_link(where)
        if self.array is not None:
            object.__setattr__(self, "array", ArrayRef.from_any(self.array, where))
            self._check_array(where)

    def _check_array(self, where: str) -> None:
        if self.link is not None:
            raise ConfigError(f"{where}: a parameter is a link or an array, not both")
        if self.kind not in (None, "float"):
            raise ConfigError(f"{where}: an array parameter holds float values, not {self.kind!r}")
        if self.index != -1:
            raise ConfigError(f"{where}: an array parameter is the whole block; leave the index out")

    def _check_link(self, where: str) -> None:
        if self.kind not in (None, "bool"):
            raise ConfigError(f"{where}: a link parameter is on/off (kind bool), not {self.kind!r}")
        if self.index != -1:
            raise ConfigError(f"{where}: a link parameter has no index; leave it out")
        if (self.lo, self.hi) not in ((None, None), (0.0, 1.0)):
            raise ConfigError(f"{where}: a link parameter is on/off; leave out its bounds")

    # --- what it is --------------------------------------------------------------------------------
    @property
    def value_kind(self) -> str | None:
        """The ParamSpec kind this ref asks for: ``bool`` for a link, else ``kind`` (None: detect it)."""
        return "bool" if self.link is not None else self.kind

    def spec(self, choices: Sequence[Any] | None = None) -> ParamSpec:
        """The optimiser's spec when the ref says everything itself (kind default float, both bounds)."""
        if self.array is not None:
            raise ConfigError(
                f"parameter {self.name!r}: an array parameter's shape comes from the scene; resolve it in Blender "
                "(blender_addon.params.spec_for)"
            )
        kind = self.value_kind or "float"
        lo, hi = (None, None) if kind in ("bool", "enum") else (self.lo, self.hi)
        return ParamSpec(self.name, lo, hi, kind=kind, choices=choices)

    def locator(self) -> ParamRef:
        """Only where the parameter is (name, path, index, link, array): what a render worker needs."""
        return ParamRef(self.name, self.path, self.index, self.link, array=self.array)

    def describe(self) -> str:
        """Where it is, for people: ``objects["Ball"].location[0]`` or ``TREE: N.Color -> Mix.A``."""
        if self.link is not None:
            return f"{self.path}: {self.link}"
        if self.array is not None:
            return f"{self.path}: {self.array}"
        return self.path + (f"[{self.index}]" if self.index >= 0 else "")

    # --- wire form ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "path": self.path, "index": self.index}
        if self.link is not None:
            d["link"] = self.link.to_dict()
        if self.array is not None:
            d["array"] = self.array.to_dict()
        for key in ("lo", "hi", "kind"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str | None = None) -> ParamRef:
        """The wire form back; ``kind = "link"`` (older job files) is accepted when a link is given."""
        where = where or "a parameter reference"
        if not isinstance(d, Mapping):
            raise ConfigError(f"{where} must be a mapping {{name, path, index}}, got {d!r}"[:300])
        unknown = sorted(set(d) - set(_REF_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown keys {unknown}; allowed: {', '.join(_REF_KEYS)}")
        kind = d.get("kind")
        if kind == "link":
            if d.get("link") is None:
                raise ConfigError(f"{where}: kind 'link' needs the link's four names {', '.join(LINK_FIELDS)}")
            kind = None
        index = d.get("index", -1)
        return cls(d.get("name"), d.get("path"), index, d.get("link"), d.get("lo"), d.get("hi"), kind, d.get("array"))

    def replace(self, **changes) -> ParamRef:
        return replace(self, **changes)


REF_FIELDS = tuple(f.name for f in fields(ParamRef))

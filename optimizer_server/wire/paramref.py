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
_REF_KEYS = ("name", "path", "index", "link", "lo", "hi", "kind")


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
        kind = self.value_kind or "float"
        lo, hi = (None, None) if kind in ("bool", "enum") else (self.lo, self.hi)
        return ParamSpec(self.name, lo, hi, kind=kind, choices=choices)

    def locator(self) -> ParamRef:
        """Only where the parameter is (name, path, index, link): what a render worker needs."""
        return ParamRef(self.name, self.path, self.index, self.link)

    def describe(self) -> str:
        """Where it is, for people: ``objects["Ball"].location[0]`` or ``TREE: N.Color -> Mix.A``."""
        if self.link is not None:
            return f"{self.path}: {self.link}"
        return self.path + (f"[{self.index}]" if self.index >= 0 else "")

    # --- wire form ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "path": self.path, "index": self.index}
        if self.link is not None:
            d["link"] = self.link.to_dict()
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
        return cls(d.get("name"), d.get("path"), index, d.get("link"), d.get("lo"), d.get("hi"), kind)

    def replace(self, **changes) -> ParamRef:
        return replace(self, **changes)


REF_FIELDS = tuple(f.name for f in fields(ParamRef))

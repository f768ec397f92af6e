"""Parameter space: bounds and kinds of the scene parameters, and the map to ``[0, 1]^n``.

Optimisers only ever see the normalised continuous vector ``x`` (``x = (θ - lo) / (hi - lo)``).
Discrete kinds (int, bool, enum) are *relaxed* there and rounded only when values are handed
to the objective (a renderer), exactly as the papers do for the LED / WICKER / NODE-GRAPH tasks.

A parameter is one value or an array block of many (``shape``): a vector, an image's texels
(H, W) / (H, W, C), or a mesh's vertices ((V,) or (V, 3) with ``edges``). A block's layout reaches the
methods as data (``Space.grids``, ``Space.graphs``; ``layout.py``), so that their probes can follow it
(smooth textures on an image grid, smooth displacements along a mesh).

Only numpy is imported here: the Blender add-on and the wire protocol use this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ConfigError
from .layout import BRIEF_ABOVE, Graph, Grid, brief, check_edges

KINDS = ("float", "int", "bool", "enum")
MAX_DIMS = 3  # (H, W, C): an image's texels, channels last


def round_half_up(values):
    """The one rounding of discrete values (int, bool, enum index): halves go up, as the renderer
    applies them. Works on numbers and arrays."""
    return np.floor(np.asarray(values, dtype=np.float64) + 0.5)


@dataclass(frozen=True)
class ParamSpec:
    """One optimised parameter.

    ``lo``/``hi`` are in the parameter's own units. ``bool`` defaults to ``[0, 1]``; ``enum``
    takes ``choices`` and works on the choice index ``[0, len(choices) - 1]``. ``shape`` makes it a
    block of ``prod(shape)`` values of the same kind and bounds: ``(k,)`` a vector, ``(H, W)`` or
    ``(H, W, C)`` an image's texels (row-major, channels last). ``edges`` makes the block a mesh's
    vertices, shape ``(V,)`` or ``(V, 3)``: vertex index pairs (a flat tuple a0, b0, a1, b1, …).
    """

    name: str
    lo: float | None = None
    hi: float | None = None
    kind: str = "float"
    choices: Sequence[Any] | None = field(default=None)
    shape: tuple[int, ...] = ()
    edges: tuple[int, ...] | None = None

    def __post_init__(self):
        self._check_shape()
        if self.edges is not None:
            if self.kind != "float":
                raise ConfigError(f"parameter {self.name!r}: a mesh block holds float values, not {self.kind!r}")
            object.__setattr__(self, "edges", check_edges(self.name, self.edges, self.shape))
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"parameter name must be a non-empty string, got {self.name!r}")
        if self.kind not in KINDS:
            raise ConfigError(f"parameter {self.name!r}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.kind == "enum":
            if self.choices is None or len(self.choices) < 2:
                raise ConfigError(f"parameter {self.name!r}: an enum needs `choices` with at least two entries")
            if len(set(map(str, self.choices))) != len(self.choices):
                raise ConfigError(f"parameter {self.name!r}: enum choices must be distinct, got {list(self.choices)}")
            object.__setattr__(self, "choices", tuple(self.choices))
            self._default_bounds(0.0, float(len(self.choices) - 1))
        elif self.choices is not None:
            raise ConfigError(f"parameter {self.name!r}: `choices` is only for kind 'enum', not {self.kind!r}")
        elif self.kind == "bool":
            self._default_bounds(0.0, 1.0)
        if self.lo is None or self.hi is None:
            raise ConfigError(f"parameter {self.name!r}: kind {self.kind!r} needs both `lo` and `hi`")
        for bound in ("lo", "hi"):
            value = getattr(self, bound)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ConfigError(f"parameter {self.name!r}: `{bound}` must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ConfigError(f"parameter {self.name!r}: `{bound}` must be finite, got {value!r}")
            object.__setattr__(self, bound, float(value))
        if not self.lo < self.hi:
            raise ConfigError(
                f"parameter {self.name!r}: needs lo < hi, got lo={self.lo:g}, hi={self.hi:g}; swap or widen them"
            )
        if not math.isfinite(self.hi - self.lo):
            raise ConfigError(
                f"parameter {self.name!r}: the range hi - lo = {self.hi:g} - ({self.lo:g}) overflows; "
                "give bounds that the parameter can actually take"
            )
        if self.kind == "int" and (self.lo != round(self.lo) or self.hi != round(self.hi)):
            raise ConfigError(
                f"parameter {self.name!r}: int bounds must be whole numbers, got [{self.lo:g}, {self.hi:g}]"
            )

    def _check_shape(self) -> None:
        shape = self.shape
        if isinstance(shape, (list, tuple)) and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in shape
        ):
            shape = tuple(int(v) for v in shape)
        else:
            shape = None
        if shape is None or len(shape) > MAX_DIMS or any(v < 1 for v in shape):
            raise ConfigError(
                f"parameter {self.name!r}: shape must be () for one value, (k,) for a vector or (H, W) / "
                f"(H, W, C) for an image's texels, with positive whole numbers; got {self.shape!r}"
            )
        if shape and self.kind == "enum":
            raise ConfigError(f"parameter {self.name!r}: an enum is one value; give each choice its own parameter")
        object.__setattr__(self, "shape", shape)

    @property
    def size(self) -> int:
        """How many values the parameter holds (1 for a scalar)."""
        return int(np.prod(self.shape)) if self.shape else 1

    def _default_bounds(self, lo: float, hi: float) -> None:
        for bound, default in (("lo", lo), ("hi", hi)):
            value = getattr(self, bound)
            if value is None:
                object.__setattr__(self, bound, default)
            elif value != default:
                raise ConfigError(
                    f"parameter {self.name!r}: a {self.kind} parameter has {bound}={default:g}; leave `{bound}` out"
                )

    @property
    def discrete(self) -> bool:
        return self.kind != "float"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "lo": self.lo, "hi": self.hi, "kind": self.kind}
        if self.choices is not None:
            d["choices"] = list(self.choices)
        if self.shape:
            d["shape"] = list(self.shape)
        if self.edges is not None:
            d["edges"] = list(self.edges)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ParamSpec:
        if not isinstance(d, dict):
            raise ConfigError(f"a parameter spec must be a mapping, got {type(d).__name__}")
        unknown = set(d) - {"name", "lo", "hi", "kind", "choices", "shape", "edges"}
        if unknown:
            raise ConfigError(
                f"parameter spec {d.get('name')!r}: unknown keys {sorted(unknown)}; "
                "allowed: name, lo, hi, kind, choices, shape, edges"
            )
        if "name" not in d:
            raise ConfigError("a parameter spec needs a `name`")
        kind = d.get("kind", "float")
        lo, hi = d.get("lo"), d.get("hi")
        if kind in ("bool", "enum"):  # their bounds are implied; accept them when consistent
            lo = None if lo in (None, 0, 0.0) else lo
            implied_hi = 1.0 if kind == "bool" else float(len(d.get("choices") or ()) - 1)
            hi = None if hi is None or hi == implied_hi else hi
        shape = d.get("shape", ())
        return cls(
            name=d["name"],
            lo=lo,
            hi=hi,
            kind=kind,
            choices=d.get("choices"),
            shape=tuple(shape) if isinstance(shape, list) else shape,
            edges=d.get("edges"),
        )


class Space:
    """An ordered list of :class:`ParamSpec` and the affine map of their values to the unit cube.

    The flat vector has one entry per value: a scalar takes one, an array block ``prod(shape)``, in
    the order of the specs.
    """

    def __init__(self, specs: Sequence[ParamSpec]):
        specs = list(specs)
        if not specs:
            raise ConfigError("a Space needs at least one ParamSpec")
        for s in specs:
            if not isinstance(s, ParamSpec):
                raise ConfigError(f"Space takes ParamSpec objects, got {type(s).__name__}")
        names = [s.name for s in specs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"duplicate parameter names {dupes}; every parameter needs its own name")
        self.specs: list[ParamSpec] = specs
        self.names: list[str] = names
        sizes = np.array([s.size for s in specs])
        self.offsets: list[int] = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
        self.lo = np.repeat([s.lo for s in specs], sizes).astype(np.float64)
        self.hi = np.repeat([s.hi for s in specs], sizes).astype(np.float64)
        self._span = self.hi - self.lo
        # int, bool and enum index all round to the nearest whole number
        self._round = np.repeat([s.discrete for s in specs], sizes)
        self.grids: list[Grid] = [
            Grid(s.name, off, s.shape) for s, off in zip(specs, self.offsets) if len(s.shape) >= 2 and s.edges is None
        ]
        """The image-shaped blocks (2 or 3 dimensions), in order."""
        self.graphs: list[Graph] = [
            Graph(s.name, off, s.shape, np.asarray(s.edges, dtype=np.int64).reshape(-1, 2))
            for s, off in zip(specs, self.offsets)
            if s.edges is not None
        ]
        """The mesh blocks (vertices joined by edges), in order."""

    @classmethod
    def unit(cls, n: int) -> Space:
        """``n`` continuous values in [0, 1], one block named "x" (problems posed in the unit cube)."""
        return cls([ParamSpec("x", 0.0, 1.0, shape=(int(n),))])

    @property
    def n(self) -> int:
        return len(self.lo)

    @property
    def resolution(self) -> np.ndarray:
        """(n,) unit-cube distance between neighbouring values: 0 for float, 1/(hi-lo) for int, bool, enum."""
        return np.where(self._round, 1.0 / self._span, 0.0)

    @property
    def continuous(self) -> bool:
        return not self._round.any()

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"Space({self.specs!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Space) and self.to_dict() == other.to_dict()

    # --- maps ---------------------------------------------------------------------------
    def from_unit(self, x) -> np.ndarray:
        """Unit-cube points ``(..., n)`` → parameter units, clipped to the bounds, discrete kinds rounded.

        Points outside the cube (a perturbation near a bound) are clipped so the objective is only
        ever asked for values the user allowed.
        """
        x = self._check_shape(np.asarray(x, dtype=np.float64), "x")
        values = self.lo + np.clip(x, 0.0, 1.0) * self._span
        if self._round.any():
            values = np.where(self._round, round_half_up(values), values)
        return values

    def to_unit(self, values) -> np.ndarray:
        """Parameter units (relaxed values allowed for discrete kinds) → unit cube, clipped to ``[0, 1]``."""
        values = self._check_shape(np.asarray(values, dtype=np.float64), "values")
        if not np.all(np.isfinite(values)):
            raise ConfigError("parameter values must be finite")
        return np.clip((values - self.lo) / self._span, 0.0, 1.0)

    def snap(self, x) -> np.ndarray:
        """Unit-cube points as the renderer sees them: clipped, discrete kinds rounded, back in [0, 1]."""
        return (self.from_unit(x) - self.lo) / self._span

    def values_from_named(self, named: dict[str, Any]) -> np.ndarray:
        """``{name: value}`` (enum values by choice, bools as bools, array blocks as nested lists or
        arrays of their shape) → parameter-unit vector."""
        missing = [n for n in self.names if n not in named]
        extra = sorted(set(named) - set(self.names))
        if missing or extra:
            raise ConfigError(f"values must name every parameter exactly: missing {missing}, unknown {extra}")
        out = np.empty(self.n)
        for s, offset in zip(self.specs, self.offsets):
            out[offset : offset + s.size] = _spec_values(s, named[s.name])
        return out

    def named(self, values) -> dict[str, Any]:
        """A parameter-unit vector → ``{name: python value}`` (ints as int, bools as bool, enums as
        choice, array blocks as nested lists of their shape)."""
        values = self._check_shape(np.asarray(values, dtype=np.float64), "values")
        if values.ndim != 1:
            raise ConfigError(f"named() takes one point of shape ({self.n},), got {values.shape}")
        return {s.name: _python_value(s, values[o : o + s.size]) for s, o in zip(self.specs, self.offsets)}

    def blocks(self, max_size: int) -> tuple[list[np.ndarray], list]:
        """The parameters as index blocks of the flat vector (arrays larger than ``max_size`` element
        by element), and each block's sort: (shape, bounds, kind) for a vector parameter, else None.
        Methods that search parameter by parameter use them; like sorts may trade values."""
        blocks, sorts = [], []
        for spec, offset in zip(self.specs, self.offsets):
            if spec.size <= max_size:
                blocks.append(np.arange(offset, offset + spec.size))
                sorts.append((spec.shape, spec.lo, spec.hi, spec.kind) if spec.size > 1 else None)
            else:
                blocks += [np.array([i]) for i in range(offset, offset + spec.size)]
                sorts += [None] * spec.size
        return blocks, sorts

    def named_brief(self, values) -> dict[str, Any]:
        """As :meth:`named`, but array blocks of more than ``layout.BRIEF_ABOVE`` values are summarised
        (shape, offset, min, max, mean): what progress messages and results carry in JSON, beside the
        full vector as a frame (``layout.expand`` puts the values back)."""
        values = self._check_shape(np.asarray(values, dtype=np.float64), "values")
        return {
            s.name: brief(values[o : o + s.size], s.shape, o)
            if s.size > BRIEF_ABOVE
            else _python_value(s, values[o : o + s.size])
            for s, o in zip(self.specs, self.offsets)
        }

    @property
    def has_big_blocks(self) -> bool:
        """Whether some block is too big to spell out in JSON (see :meth:`named_brief`)."""
        return any(s.size > BRIEF_ABOVE for s in self.specs)

    def centre(self) -> np.ndarray:
        return np.full(self.n, 0.5)

    def _check_shape(self, a: np.ndarray, what: str) -> np.ndarray:
        if a.ndim == 0 or a.shape[-1] != self.n:
            raise ConfigError(f"{what} must have last dimension {self.n} (one entry per value), got shape {a.shape}")
        return a

    # --- (de)serialisation for the wire and job files ---------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"params": [s.to_dict() for s in self.specs]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Space:
        if not isinstance(d, dict) or not isinstance(d.get("params"), list):
            raise ConfigError("a space must be a mapping with a list under `params`")
        return cls([ParamSpec.from_dict(p) for p in d["params"]])


def _spec_values(spec: ParamSpec, value: Any) -> np.ndarray:
    """One parameter's given value(s) → its flat parameter-unit values (enum by choice index)."""
    if spec.kind == "enum":
        if value not in spec.choices:
            raise ConfigError(f"parameter {spec.name!r}: {value!r} is not one of {list(spec.choices)}")
        return np.array([float(spec.choices.index(value))])
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"parameter {spec.name!r}: {value!r} is not a number or an array of numbers") from None
    if array.shape != spec.shape:
        raise ConfigError(f"parameter {spec.name!r}: expected shape {spec.shape}, got {array.shape}")
    return array.reshape(-1)


def _python_value(spec: ParamSpec, flat: np.ndarray) -> Any:
    """One parameter's flat parameter-unit values → what the user sees (rounded for discrete kinds)."""
    if spec.kind != "float":
        whole = np.clip(round_half_up(flat), spec.lo, spec.hi).astype(np.int64)
        if spec.kind == "enum":
            return spec.choices[int(whole[0])]
        flat = whole.astype(bool) if spec.kind == "bool" else whole
    if not spec.shape:
        return flat[0].item()
    return flat.reshape(spec.shape).tolist()

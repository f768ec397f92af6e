"""Parameter space: bounds and kinds of the scene parameters, and the map to ``[0, 1]^n``.

Optimisers only ever see the normalised continuous vector ``x`` (``x = (θ - lo) / (hi - lo)``).
Discrete kinds (int, bool, enum) are *relaxed* there and rounded only when values are handed
to the objective (a renderer), exactly as the papers do for the LED / WICKER / NODE-GRAPH tasks.

Only numpy is imported here: the Blender add-on and the wire protocol use this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ConfigError

KINDS = ("float", "int", "bool", "enum")


@dataclass(frozen=True)
class ParamSpec:
    """One optimised parameter.

    ``lo``/``hi`` are in the parameter's own units. ``bool`` defaults to ``[0, 1]``; ``enum``
    takes ``choices`` and works on the choice index ``[0, len(choices) - 1]``.
    """

    name: str
    lo: float | None = None
    hi: float | None = None
    kind: str = "float"
    choices: Sequence[Any] | None = field(default=None)

    def __post_init__(self):
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
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ParamSpec:
        if not isinstance(d, dict):
            raise ConfigError(f"a parameter spec must be a mapping, got {type(d).__name__}")
        unknown = set(d) - {"name", "lo", "hi", "kind", "choices"}
        if unknown:
            raise ConfigError(
                f"parameter spec {d.get('name')!r}: unknown keys {sorted(unknown)}; "
                "allowed: name, lo, hi, kind, choices"
            )
        if "name" not in d:
            raise ConfigError("a parameter spec needs a `name`")
        kind = d.get("kind", "float")
        lo, hi = d.get("lo"), d.get("hi")
        if kind in ("bool", "enum"):  # their bounds are implied; accept them when consistent
            lo = None if lo in (None, 0, 0.0) else lo
            implied_hi = 1.0 if kind == "bool" else float(len(d.get("choices") or ()) - 1)
            hi = None if hi is None or hi == implied_hi else hi
        return cls(name=d["name"], lo=lo, hi=hi, kind=kind, choices=d.get("choices"))


class Space:
    """An ordered list of :class:`ParamSpec` and the affine map to the unit cube."""

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
        self.lo = np.array([s.lo for s in specs], dtype=np.float64)
        self.hi = np.array([s.hi for s in specs], dtype=np.float64)
        self._span = self.hi - self.lo
        kinds = np.array([s.kind for s in specs])
        self._round = kinds != "float"  # int, bool and enum index all round to the nearest whole number

    @property
    def n(self) -> int:
        return len(self.specs)

    @property
    def resolution(self) -> np.ndarray:
        """(n,) unit-cube distance between neighbouring values: 0 for float, 1/(hi-lo) for int, bool, enum."""
        return np.where(self._round, 1.0 / self._span, 0.0)

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
            values = np.where(self._round, np.floor(values + 0.5), values)
        return values

    def to_unit(self, values) -> np.ndarray:
        """Parameter units (relaxed values allowed for discrete kinds) → unit cube, clipped to ``[0, 1]``."""
        values = self._check_shape(np.asarray(values, dtype=np.float64), "values")
        if not np.all(np.isfinite(values)):
            raise ConfigError("parameter values must be finite")
        return np.clip((values - self.lo) / self._span, 0.0, 1.0)

    def values_from_named(self, named: dict[str, Any]) -> np.ndarray:
        """``{name: value}`` (enum values by choice, bools as bools) → parameter-unit vector."""
        missing = [n for n in self.names if n not in named]
        extra = sorted(set(named) - set(self.names))
        if missing or extra:
            raise ConfigError(f"values must name every parameter exactly: missing {missing}, unknown {extra}")
        out = np.empty(self.n)
        for i, s in enumerate(self.specs):
            v = named[s.name]
            if s.kind == "enum":
                if v not in s.choices:
                    raise ConfigError(f"parameter {s.name!r}: {v!r} is not one of {list(s.choices)}")
                v = s.choices.index(v)
            out[i] = float(v)
        return out

    def named(self, values) -> dict[str, Any]:
        """A parameter-unit vector → ``{name: python value}`` (ints as int, bools as bool, enums as choice)."""
        values = self._check_shape(np.asarray(values, dtype=np.float64), "values")
        if values.ndim != 1:
            raise ConfigError(f"named() takes one point of shape ({self.n},), got {values.shape}")
        out: dict[str, Any] = {}
        for s, v in zip(self.specs, values):
            if s.kind == "float":
                out[s.name] = float(v)
            else:
                k = int(np.clip(np.floor(v + 0.5), s.lo, s.hi))
                out[s.name] = bool(k) if s.kind == "bool" else s.choices[k] if s.kind == "enum" else k
        return out

    def centre(self) -> np.ndarray:
        return np.full(self.n, 0.5)

    def _check_shape(self, a: np.ndarray, what: str) -> np.ndarray:
        if a.ndim == 0 or a.shape[-1] != self.n:
            raise ConfigError(
                f"{what} must have last dimension {self.n} (one entry per parameter), got shape {a.shape}"
            )
        return a

    # --- (de)serialisation for the wire and job files ---------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"params": [s.to_dict() for s in self.specs]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Space:
        if not isinstance(d, dict) or not isinstance(d.get("params"), list):
            raise ConfigError("a space must be a mapping with a list under `params`")
        return cls([ParamSpec.from_dict(p) for p in d["params"]])

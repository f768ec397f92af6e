"""Where array blocks sit in a space's flat vector, the structure methods follow, and their brief form.

An image's texels (``Grid``: H×W or H×W×C, row-major, channels last) and a mesh's vertices (``Graph``:
one value per vertex, or three, with the mesh's edges) reach the methods as data, so that probes can be
smooth on the image grid or along the mesh's surface (``methods/gauss_newton.py``).

Big blocks are never spelled out in JSON: progress and results name them briefly (``brief``: shape,
offset, min, max, mean) and carry the full vector as one raw float32 frame, which ``expand`` puts back.

Only numpy is imported here: the Blender add-on vendors this package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConfigError

BRIEF_ABOVE = 64
"""Array blocks with more values than this are summarised in JSON (their values travel as a frame)."""


@dataclass(frozen=True)
class Grid:
    """Where an image-shaped block sits in the flat vector: ``x[offset : offset + H·W·C]`` holds its
    texels row-major, channels last."""

    name: str
    offset: int
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass(frozen=True, eq=False)
class Graph:
    """Where a mesh block sits in the flat vector: ``x[offset : offset + V·C]`` holds C values per vertex
    (C = 1: offsets along the normals; C = 3: x, y, z), vertex-major; ``edges`` (E, 2) joins vertices."""

    name: str
    offset: int
    shape: tuple[int, ...]
    edges: np.ndarray

    @property
    def vertices(self) -> int:
        return self.shape[0]

    @property
    def channels(self) -> int:
        return self.shape[1] if len(self.shape) == 2 else 1

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


def check_edges(name: str, edges: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A mesh block's edges as a flat tuple (a0, b0, a1, b1, …) of vertex indices, checked against
    its shape ((V,) or (V, 3)); a ConfigError names what is wrong."""
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 3):
        raise ConfigError(
            f"parameter {name!r}: a mesh block has shape (V,) (one offset per vertex) or (V, 3) (x, y, z per "
            f"vertex), got {shape}"
        )
    try:
        flat = np.asarray(edges, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise ConfigError(f"parameter {name!r}: edges must be vertex indices, pairs (a, b) or a flat list") from None
    if flat.size % 2 or flat.size == 0:
        raise ConfigError(f"parameter {name!r}: edges must be a non-empty list of vertex index pairs")
    pairs = flat.reshape(-1, 2)
    if pairs.min() < 0 or pairs.max() >= shape[0]:
        raise ConfigError(f"parameter {name!r}: edge vertex indices must lie in 0..{shape[0] - 1}")
    if np.any(pairs[:, 0] == pairs[:, 1]):
        raise ConfigError(f"parameter {name!r}: an edge joins a vertex to itself")
    return tuple(int(v) for v in flat)


def brief(flat: np.ndarray, shape: Sequence[int], offset: int) -> dict[str, Any]:
    """A big block in JSON: its shape, where it sits in the vector frame, and its range."""
    return {
        "shape": list(shape),
        "offset": int(offset),
        "min": float(flat.min()),
        "max": float(flat.max()),
        "mean": float(flat.mean()),
    }


def is_brief(value: Any) -> bool:
    return isinstance(value, dict) and {"shape", "offset"} <= set(value)


def expand(named: dict[str, Any] | None, vector: np.ndarray | None) -> dict[str, Any] | None:
    """Put the values of briefly named blocks back from the full vector (float64 arrays of their shape)."""
    if not named or vector is None:
        return named
    vector = np.asarray(vector, dtype=np.float64).reshape(-1)
    out = dict(named)
    for name, value in named.items():
        if is_brief(value):
            shape = tuple(int(v) for v in value["shape"])
            start = int(value["offset"])
            size = int(np.prod(shape))
            if start < 0 or start + size > vector.size:
                raise ConfigError(f"{name}: the values frame holds {vector.size} values, too few for the block")
            out[name] = vector[start : start + size].reshape(shape).copy()
    return out


def describe_shape(shape: Sequence[int], unit: str) -> str:
    """``64×64×3 texels``, ``2,562 vertices``: how the panel and the logs name a block."""
    dims = "×".join(f"{d:,}" for d in shape)
    return f"{dims} {unit}"

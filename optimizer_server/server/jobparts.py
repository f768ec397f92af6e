"""What a job is made of besides its method: the submitted configuration (``JobConfig``) and the
renders one step waits for (``RenderBatch``)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..wire.errors import ConfigError
from ..wire.space import Space


@dataclass
class JobConfig:
    """What a client submitted, validated (the fields of the `submit` message)."""

    space: Space
    method: str
    budget: int
    target: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    requires: dict[str, Any] = field(default_factory=dict)
    start: dict[str, Any] | None = None
    name: str = ""
    render_timeout_s: float | None = None
    start_vector: np.ndarray | None = None
    """The start as one vector in parameter units (sent as a frame when blocks are big); wins over ``start``."""
    target_vector: np.ndarray | None = None
    """The target values as one vector (a frame, when blocks are big); wins over ``target["values"]``."""
    scene: dict[str, Any] | None = None
    """The job's scene as content ({sha256, size, name}), in the server's scene store; workers without
    it fetch it (docs/protocol.md, "Scenes")."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobConfig:
        d = dict(d)
        d["space"] = Space.from_dict(d["space"])
        return cls(**d)

    def checked_vector(self, vector, what: str) -> np.ndarray:
        vector = np.array(vector, dtype=np.float64).reshape(-1)
        if vector.size != self.space.n or not np.all(np.isfinite(vector)):
            raise ConfigError(
                f"the {what} vector must hold {self.space.n} finite values (one per parameter value), got {vector.size}"
            )
        return vector

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["space"] = self.space.to_dict()
        return d

    def start_unit(self) -> np.ndarray | None:
        if self.start_vector is not None:
            return self.space.to_unit(self.start_vector)
        if self.start is None:
            return None
        return self.space.to_unit(self.space.values_from_named(self.start))

    def target_values(self) -> np.ndarray:
        """(1, n) target parameter values, clipped and rounded like every other render."""
        if self.target_vector is not None:
            values = self.target_vector
        else:
            values = self.space.values_from_named(self.target["values"])
        return self.space.from_unit(self.space.to_unit(values))[None]


class RenderBatch:
    """The renders one step of a job waits for: the target, one iteration's samples, or the answer."""

    def __init__(self, purpose: str, iteration: int, values: np.ndarray, seeds: np.ndarray, settings: dict[str, Any]):
        self.purpose = purpose  # "target", "samples" or "final" (the answer, for the verdict)
        self.iteration = iteration
        self.values = np.ascontiguousarray(values, dtype=np.float64)
        self.seeds = np.asarray(seeds, dtype=np.int64)
        self.settings = settings
        size = len(self.values)
        self.losses = np.full(size, np.nan)
        self.residuals: np.ndarray | None = None  # (size, P), for methods that use the pixels
        self.images: list = [None] * size  # kept for the target and the final renders only
        self.received = np.zeros(size, dtype=bool)
        self.attempts = np.zeros(size, dtype=np.int64)
        self.unassigned = deque(range(size))
        self.started = time.perf_counter()
        self.render_s = 0.0
        self.loss_s = 0.0
        self.wire_s = 0.0  # summed over render messages: round trip minus the worker's render time
        self.messages = 0

    def __len__(self) -> int:
        return len(self.values)

    @property
    def complete(self) -> bool:
        return bool(self.received.all())

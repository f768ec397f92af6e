"""One job preparation for the panel (``session.py``) and the batch runner (``batch.py``).

From the parameter references and the render settings to what ``Run.start`` takes::

    job = prepare.prepare(refs, width, height, samples, frame)   # resolves every ref (bpy)
    run.start(**job.submit_args(method, budget, seed, options, preset, target, mask, name))
    job.units(named)          # {name: value} from the server → parameter units (enums checked)

The optimiser's space comes from the live properties (kinds, default bounds) and the refs' own
ranges (``params.spec_for``); named values become parameter units in one place, the space's
``values_from_named``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer_server.wire.paramref import ParamRef
from optimizer_server.wire.space import Space

from . import jobspec, params


@dataclass
class PreparedJob:
    refs: list[ParamRef]
    bindings: list
    space: Space
    settings: dict[str, Any]
    start_units: list[float]
    """The scene's values when the job was prepared, in parameter units."""

    @property
    def names(self) -> list[str]:
        return [ref.name for ref in self.refs]

    def start_named(self) -> dict[str, Any]:
        """The start values as Blender holds them (int, bool, enum choice, float), by name."""
        return {ref.name: b.to_raw(v) for ref, b, v in zip(self.refs, self.bindings, self.start_units)}

    def units(self, named: dict[str, Any]) -> list[float]:
        """{name: value} (as the server or a job file writes it) → parameter units."""
        return [float(v) for v in self.space.values_from_named(named)]

    def submit_args(
        self,
        method: str,
        budget: int,
        seed: int,
        options: dict[str, Any],
        preset: str | None,
        target: np.ndarray,
        mask: np.ndarray | None,
        name: str,
    ) -> dict[str, Any]:
        """The keyword arguments of ``Run.start`` (the method's options with its preset)."""
        options = dict(options)
        if preset:
            options["preset"] = preset
        return dict(
            space=self.space,
            method=method,
            budget=budget,
            seed=seed,
            target_image=target,
            mask=mask,
            options=options,
            start=self.start_named(),
            name=name,
            settings=self.settings,
        )


def prepare(refs: Sequence[ParamRef], width: int, height: int, samples: int, frame: int | None = None) -> PreparedJob:
    """Resolve every reference in the open scene (one error naming every bad one), build the space
    and the workers' render settings, and read the start values. Nothing in the scene changes."""
    refs = list(refs)
    bindings = params.resolve_all(refs)
    space = Space([params.spec_for(ref, b) for ref, b in zip(refs, bindings)])
    settings = jobspec.render_settings(width, height, samples, refs, frame=frame)
    return PreparedJob(refs, bindings, space, settings, params.read_values(bindings))

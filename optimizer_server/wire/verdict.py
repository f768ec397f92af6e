"""Whether a run found its target, said in words: the final image's loss against the target's own
render noise.

Two renders of the same scene with different noise seeds differ by Monte-Carlo noise alone; their
loss is the *noise floor*, the smallest loss a perfect answer can show. A run **matched** when its
answer renders within ``MATCH_FACTOR`` times that floor (plus a hair for noise-free renders, whose
floor is 0). The server, the batch runner, ``minimize`` and the panel all report this one verdict.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

MATCH_FACTOR = 1.5
"""A perfect answer's loss is about the floor (both are two independent noise images apart); 1.5×
leaves room for the spread of a loss measured on a finite image and a sub-pixel parameter error."""
NOISE_FREE_TOLERANCE = 1e-12
"""The matched loss of a noise-free renderer (floor 0): equal images, up to float rounding."""


def match_threshold(noise_floor: float) -> float:
    """The largest loss that still counts as the target's image."""
    return MATCH_FACTOR * max(0.0, noise_floor) + NOISE_FREE_TOLERANCE


@dataclass(frozen=True)
class Verdict:
    matched: bool
    loss: float
    """The answer's loss: its render against the target."""
    noise_floor: float
    """The loss between two renders of the target (or of the answer) with different noise seeds."""
    best_loss: float
    """The best single sample rendered during the run."""

    @classmethod
    def judge(cls, loss: float, noise_floor: float, best_loss: float | None = None) -> Verdict:
        best = loss if best_loss is None or not math.isfinite(best_loss) else min(best_loss, loss)
        return cls(bool(best <= match_threshold(noise_floor)), float(loss), float(noise_floor), float(best))

    def text(self) -> str:
        """One line for a log, a panel or a report."""
        if self.matched:
            return (
                f"matched: the result renders like the target within its noise "
                f"(loss {self.best_loss:.3g}, noise floor {self.noise_floor:.3g})"
            )
        floor = (
            f"noise floor {self.noise_floor:.3g}, {self.best_loss / self.noise_floor:.3g}× it"
            if self.noise_floor > 0
            else "noise-free renders"
        )
        return (
            f"not matched: best loss {self.best_loss:.3g} ({floor}): the target was not found; try more "
            "renders, other start values or bounds that contain the target"
        )

    def headline(self) -> tuple[str, str]:
        """Two short lines for a narrow panel: what happened, and what it means or what to try."""
        if self.matched:
            return "Matches the target", "renders like it, within its noise"
        if self.noise_floor > 0:
            return (
                "Target not reached",
                f"best render {self.best_loss / self.noise_floor:.3g}× the noise; more renders?",
            )
        return "Target not reached", f"best loss {self.best_loss:.3g}; more renders?"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.text()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        return cls(bool(d["matched"]), float(d["loss"]), float(d["noise_floor"]), float(d["best_loss"]))

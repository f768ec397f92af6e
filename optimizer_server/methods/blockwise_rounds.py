"""``blockwise``'s sample streams and what it does with k workers (``Method.set_parallel``): the start's
Sobol design and each block's Sobol stream; whole rounds over the workers, the extra samples that fill
a round, the step rule for boxes of several sizes, and re-planning the next batch when the worker count
changes. A mixin of ``Blockwise`` (blockwise.py), which owns the state it uses.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import qmc

from .rounds import whole_rounds

KINDS = tuple(range(7))  # what each sample of a batch is: global, local, pair, swap, combo, incumbent, design
STATES = (0, 1, 2)  # a block's state: active, stuck, inert
_GLOBAL, _LOCAL, _PAIR, _SWAP, _COMBO, _INCUMBENT, _DESIGN = KINDS
ACTIVE, STUCK, INERT = STATES


class KWorkerRounds:
    """Blockwise's sample streams and k-worker parts (``self`` is a ``Blockwise``)."""

    def _design(self):
        """The Sobol design over all parameters, the start first (with k workers: whole rounds over them)."""
        o = self.options
        count = int(min(max(4, o.global_share * self.budget), 5 * self.n, max(1, self.budget // 2)))
        if self.parallel > 1:
            count = max(1, min(whole_rounds(count, self.parallel), self.budget // 2))
        with warnings.catch_warnings():  # scipy: a count that is no power of two loses balance; fine here
            warnings.simplefilter("ignore", UserWarning)
            points = qmc.Sobol(d=self.n, scramble=True, seed=np.random.default_rng([self.seed, 0x5B])).random(count)
        points[0] = self.x0
        return points, np.full(count, -1), np.full(count, _DESIGN)

    def _sobol(self, j: int, count: int) -> np.ndarray:
        """The next ``count`` points of block j's scrambled Sobol stream over its whole range."""
        stream = qmc.Sobol(d=len(self.blocks[j]), scramble=True, seed=np.random.default_rng([self.seed, j, 0x5EED]))
        if self.drawn[j]:  # (scipy refuses to fast-forward by zero)
            stream.fast_forward(int(self.drawn[j]))
        self.drawn[j] += count
        with warnings.catch_warnings():  # a count that is no power of two loses Sobol's balance; fine here
            warnings.simplefilter("ignore", UserWarning)
            return stream.random(count)

    def _more_samples(self, count: int, rng):
        """``count`` more samples for the blocks that are not inert (all when every one is): whole-range
        ones continuing each block's Sobol stream, and for an active block every other one local, in boxes
        of half, a quarter and an eighth of its radius (the global ones cross plateaus; the finer ones do
        at once what shrinking the box over the next iterations would)."""
        live = [j for j, state in enumerate(self.state) if state != INERT] or list(range(len(self.blocks)))
        share = np.bincount(np.arange(count) % len(live), minlength=len(live))
        for j, m in zip(live, share):
            block = self.blocks[j]
            n_local = int(m) // 2 if self.state[j] == ACTIVE else 0
            scales = self.radius[j] * 0.5 ** (1 + np.arange(n_local) % 3)
            near = self.incumbent[block] + (2.0 * rng.random((n_local, len(block))) - 1.0) * scales[:, None]
            far = self._sobol(j, int(m) - n_local) if int(m) > n_local else np.zeros((0, len(block)))
            for point, kind in self._block_points(j, far, near):
                yield point, j, kind

    def _block_points(self, j: int, far: np.ndarray, near: np.ndarray):
        """The incumbent with block j set to each whole-range value (``far``) and each local one
        (``near``, mirrored at 0 and 1: a value pushed past a bound stays inside, not on it)."""
        near = np.abs(near)
        near = np.where(near > 1.0, 2.0 - near, near).clip(0.0, 1.0)
        for values, kind in ((far, _GLOBAL), (near, _LOCAL)):
            for value in values:
                point = self.incumbent.copy()
                point[self.blocks[j]] = value
                yield point, kind

    def _next_plan(self, left: int):
        """The next iteration's plan, cut to the renders left (the last iteration spends exactly the
        budget); what it started from is kept so that a new worker count can re-plan it."""
        self._plan_base = {
            "iteration": self.iteration,
            "left": left,
            "drawn": self.drawn.copy(),
            "rotation": self.rotation,
        }
        return tuple(a[: max(1, left)] for a in self._round(self.iteration))

    def _parallel_changed(self) -> None:
        """Re-plan the next batch for the new worker count (the CMA-ES phase keeps its population)."""
        if self.local is not None or self._plan is None:
            return
        if self._plan_base is None:  # no tell yet: the design
            self._plan = self._design()
            return
        base = self._plan_base
        self.drawn, self.rotation = base["drawn"].copy(), int(base["rotation"])
        iteration, self.iteration = self.iteration, int(base["iteration"])
        try:
            self._plan = self._next_plan(int(base["left"]))
        finally:
            self.iteration = iteration

    def _step_radius(self, j: int, point: np.ndarray) -> float:
        """The radius of block j's box that found ``point``: its own, or with k workers (boxes of several
        sizes at once) the size of the step taken, at least the smallest box's."""
        if self.parallel <= 1:
            return self.radius[j]
        block = self.blocks[j]
        step = float(np.max(np.abs(point[block] - self.incumbent_before[block])))
        return min(self.radius[j], max(step, self.radius[j] / 8))

"""``blockwise``: global and local search block by block, for the few-parameter scenes with plateaus
and traps (what ``auto`` runs up to 100 parameters).

A *block* is one parameter of the Space (a scalar, or a small vector such as a location or a colour;
larger arrays count element by element). Rendering scenes makes blocks act almost independently: an
object's position changes the pixels where it is, a colour where it is lit. So one iteration renders,
in one batch:

* the incumbent (re-rendered with the batch's seed: every comparison in the batch is paired);
* per block, samples over its *whole range* (a Sobol stream per block: global moves across plateaus and
  ridges) and in a box of radius ρ_b around the incumbent's value (local moves, with the block's last
  step repeated and, given the residual images, its Gauss-Newton step); an inert block (no effect, e.g.
  an unlit floor's colour) gets one global sample, a stuck one (behind a ridge) mostly global ones;
* joint moves of two random blocks, and swaps of like blocks (two objects each on the other's target);
* the incumbent with every block's improvement of the last batch combined.

The best candidate that beats the incumbent replaces it; ρ_b grows after a local success and shrinks
otherwise. Before the first iteration a scrambled Sobol design over all parameters picks the start
(``global_share`` of the budget). When no candidate has improved for ``patience`` sweeps, a CMA-ES
run refines all parameters jointly from the incumbent (coupled parameters); when it stalls, the block
search resumes with its radii reset and a larger CMA-ES population next time (IPOP). It never stops
before the budget is spent: the caller stops it when the image matches the target. Under render
noise, once the search has left the start's plateau, "improved" means that the incumbent's re-rendered
loss reached a new low, and CMA-ES's mean (which averages the noise) is the incumbent.

Randomness is derived from (seed, iteration); the state is small (the CMA-ES run replays its history).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..wire.errors import ConfigError
from .base import CommonOptions, Method
from .blackbox import CMAES
from .blockwise_rounds import KINDS, STATES, KWorkerRounds, whole_rounds
from .blockwise_state import BlockwiseState
from .registry import register
from .residual_models import secant_step

_GLOBAL, _LOCAL, _PAIR, _SWAP, _COMBO, _INCUMBENT, _DESIGN = KINDS
ACTIVE, STUCK, INERT = STATES

_MAX_BLOCK = 4  # arrays larger than this search element by element (a texture, an LED panel)
_RECHECK = 8  # a noise-free renderer's incumbent is still re-rendered every this many iterations


def _since_lowest(losses: list[float]) -> int:
    """How many entries ago the lowest of these losses came."""
    return len(losses) - 1 - int(np.argmin(losses))


@dataclass
class BlockwiseOptions(CommonOptions):
    global_share: float = 0.05
    """Share of the budget rendered as a scrambled Sobol design over all parameters before the search
    (at least 4 points, at most 5 per parameter); its best point is the first incumbent."""
    samples_per_block: int = 8
    """Most renders per block per iteration (global and local samples together; a block of d values
    takes 2 + 2d)."""
    radius: float = 0.25
    """Initial half-width of a block's local box, unit-cube units."""
    radius_min: float = 0.002
    """A box that shrinks below this is reset to `radius` (the block starts over)."""
    pair_moves: int = 2
    """Joint global moves of two random blocks per iteration."""
    swaps: bool = True
    """Try swapping the values of like blocks (same shape and bounds) every iteration."""
    max_batch: int = 48
    """Most renders per iteration: with many blocks, each iteration takes a rotating subset of them."""
    patience: int = 4
    """Sweeps (the iterations that visit every block once) without an improvement before joint CMA-ES."""
    flat_tolerance: float = 1e-6
    """A loss change smaller than this fraction of the incumbent's loss counts as none."""

    GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {
        "sampling": ("global_share", "samples_per_block", "pair_moves", "swaps", "max_batch", "flat_tolerance"),
        "step": ("radius", "radius_min", "patience"),
    }
    BASIC: ClassVar[tuple[str, ...]] = ("samples_per_block", "radius")

    def validate(self, name: str) -> None:
        if not 0 <= self.global_share < 1:
            raise ConfigError(f"{name}: global_share must be in [0, 1), got {self.global_share}")
        if self.samples_per_block < 2 or self.max_batch < 4 or self.pair_moves < 0 or self.patience < 1:
            raise ConfigError(f"{name}: need samples_per_block >= 2, max_batch >= 4, pair_moves >= 0, patience >= 1")
        if not 0 < self.radius_min < self.radius <= 1:
            raise ConfigError(f"{name}: need 0 < radius_min < radius <= 1, got {self.radius_min}, {self.radius}")


@register
class Blockwise(KWorkerRounds, BlockwiseState, Method):
    name = "blockwise"
    description = (
        "Global and local random search block by block (a Sobol design first, whole-range samples per "
        "parameter, swaps of like objects, CMA-ES refinement with restarts): crosses plateaus and traps"
    )
    Options = BlockwiseOptions

    def _setup(self) -> None:
        self.blocks, kinds = self.space.blocks(_MAX_BLOCK)
        count = len(self.blocks)
        self.incumbent = self.x0.copy()
        self.step = np.zeros(self.n)  # the last successful local move (its block's part is repeated next)
        self.proposals: dict[int, np.ndarray] = {}  # block → its Gauss-Newton step's values, next iteration
        self.wants_residuals = self.capabilities.residuals  # used when the caller has the images
        self.incumbent_loss = float("inf")
        self.incumbent_residual: np.ndarray | None = None
        self.noise_free = False  # set when the incumbent, re-rendered with another seed, lost nothing
        self.radius = np.full(count, self.options.radius)
        # a discrete block's box always reaches the neighbouring values (a bool's box reaches the other side)
        self.radius_floor = np.array([0.75 * float(self.space.resolution[b].max()) for b in self.blocks])
        self.sweep = 1
        self.state = np.full(count, ACTIVE)
        self.drawn = np.zeros(count, dtype=np.int64)  # points each block's Sobol stream has given
        self.rotation = 0  # where the next iteration's subset of blocks starts
        self.quiet = 0  # iterations without an improvement
        self.rerendered: list[float] = []  # the incumbent's losses re-rendered each iteration (under noise)
        self.located = False  # under noise: the search has left the start's plateau for a basin
        self.jitter = 0.0  # under noise: the median change of the incumbent's loss between re-renders
        self.walk: list[float] = []  # under noise, once located: the incumbent's RMS move per iteration
        self.restarts = 0
        self.combo: np.ndarray | None = None
        self.local: CMAES | None = None
        # like blocks (vectors of the same shape, bounds and kind: objects of one sort) may trade places
        self.like = [
            (a, b) for a in range(count) for b in range(a + 1, count) if kinds[a] is not None and kinds[a] == kinds[b]
        ]
        self._plan_base = None  # what the plan of the next iteration started from (for a re-plan)
        self._plan = self._design()

    # --- what the next batch renders ----------------------------------------------------------------
    def _batch_size(self) -> int:
        return len(self._plan[0]) if self.local is None else self.local._batch_size() + 1

    def _ask(self) -> np.ndarray:
        if self.local is not None:  # the incumbent first, then the CMA-ES population
            return np.vstack([self.incumbent[None], self.local.ask().x])
        return self._plan[0]

    def _round(self, iteration: int):
        """One iteration of the block search: (points, owning block or -1, kind) arrays. With k workers,
        more whole-range samples fill the batch to whole rounds over them."""
        o = self.options
        rng = np.random.default_rng([self.seed, iteration, 0xB10C])
        points, owners, kinds = [], [], []

        def add(point, owner, kind):
            points.append(point), owners.append(owner), kinds.append(kind)

        # the incumbent again, for paired comparisons; a noise-free renderer needs that only now and then
        if not self.noise_free or iteration % _RECHECK == 0:
            add(self.incumbent, -1, _INCUMBENT)

        if self.combo is not None:
            add(self.combo, -1, _COMBO)
        like = (
            self.like
            if len(self.like) <= o.max_batch // 4
            else [self.like[i] for i in rng.choice(len(self.like), o.max_batch // 4, replace=False)]
        )
        for a, b in like if o.swaps else ():
            swapped = self.incumbent.copy()
            swapped[self.blocks[a]], swapped[self.blocks[b]] = (
                self.incumbent[self.blocks[b]],
                self.incumbent[self.blocks[a]],
            )
            add(swapped, -1, _SWAP)
        for _ in range(o.pair_moves if len(self.blocks) > 1 else 0):
            pair = rng.choice(len(self.blocks), 2, replace=False)
            moved = self.incumbent.copy()
            for j in pair:
                moved[self.blocks[j]] = rng.random(len(self.blocks[j]))
            add(moved, -1, _PAIR)
        room = max(max(map(self._samples, range(len(self.blocks)))), o.max_batch - len(points))
        for j in self._subset(room):
            for point, kind in self._block_samples(j, rng):
                add(point, j, kind)
        if self.parallel > 1:
            for point, j, kind in self._more_samples(whole_rounds(len(points), self.parallel) - len(points), rng):
                add(point, j, kind)
        return np.array(points), np.array(owners), np.array(kinds)

    def _samples(self, j: int) -> int:
        """Renders for block j per iteration: 2 + 2 per value (a line needs fewer than a colour), at most
        `samples_per_block`."""
        return min(self.options.samples_per_block, 2 + 2 * len(self.blocks[j]))

    def _subset(self, room: int) -> list[int]:
        """The blocks this iteration searches: as many as fit, in plain rotation. An inert block costs
        one sample but is never skipped: "inert" may only mean its samples missed the one place that
        matters."""
        count = len(self.blocks)
        cost = [1 if s == INERT else self._samples(j) for j, s in enumerate(self.state)]
        chosen, used = [], 0
        for j in ((self.rotation + k) % count for k in range(count)):
            if used + cost[j] > room and chosen:
                break
            chosen.append(j)
            used += cost[j]
        self.rotation = (self.rotation + len(chosen)) % count
        self.sweep = max(1, math.ceil(count / len(chosen)))  # iterations to visit every block once
        return chosen

    def _block_samples(self, j: int, rng):
        """Block j's candidates: whole-range samples from its Sobol stream, and local ones: uniform in
        the box of half-width ρ_b around the incumbent (mirrored into the cube), the first of them one
        more step along the block's last successful move (a pattern move)."""
        block = self.blocks[j]
        count = self._samples(j)
        if self.state[j] == INERT:
            n_global, n_local = 1, 0
        elif self.state[j] == STUCK:
            n_global, n_local = count - 2, 2
        else:
            n_global, n_local = 1, count - 1
        far = self._sobol(j, n_global)
        centre = self.incumbent[block]
        reach = max(self.radius[j], self.radius_floor[j])
        near = centre + (2.0 * rng.random((n_local, len(block))) - 1.0) * reach
        if n_local and np.any(self.step[block]):
            near[0] = centre + self.step[block]
        if n_local > 1 and j in self.proposals:  # the block's Gauss-Newton step, from the last residual images
            near[1] = self.proposals[j]
        yield from self._block_points(j, far, near)

    # --- what the renders tell ----------------------------------------------------------------------
    def _tell(self, x: np.ndarray, losses: np.ndarray, residuals: np.ndarray | None = None) -> None:
        left = self.budget - self.evaluations - len(x)  # after this batch
        if self.local is not None:
            self._tell_local(x, losses, residuals, left)
        else:
            points, owners, kinds = self._plan
            self.incumbent_before = self.incumbent.copy()
            if kinds[0] == _DESIGN:
                best = int(np.argmin(losses))
                self.incumbent, self.incumbent_loss = points[best].copy(), float(losses[best])
                self.incumbent_residual = None if residuals is None else residuals[best].copy()
            else:
                self._tell_round(points, owners, kinds, losses, residuals)
                if self.located:  # how far the incumbent moves per iteration in its noisy basin
                    self.walk.append(float(np.sqrt(np.mean((self.incumbent - self.incumbent_before) ** 2))))
            if self.quiet >= self.options.patience * self.sweep:
                self._start_local(left)
        self._plan = self._next_plan(left) if self.local is None else None

    def _tell_round(self, points, owners, kinds, losses, residuals) -> None:
        o = self.options
        if kinds[0] == _INCUMBENT:  # re-rendered with a new seed: the same loss means a noise-free renderer
            self.noise_free = bool(losses[0] == self.incumbent_loss)
            self.incumbent_loss = float(losses[0])
            self.rerendered = [] if self.noise_free else [*self.rerendered, self.incumbent_loss]
            if len(self.rerendered) > 2:  # how much its loss jitters from one seed to the next
                self.jitter = float(np.median(np.abs(np.diff(self.rerendered))))
            if residuals is not None:
                self.incumbent_residual = residuals[0].copy()
        base = self.incumbent_loss
        if residuals is not None:
            self._fit_models(points, owners, kinds, residuals)
        tol = o.flat_tolerance * max(abs(base), 1e-300)
        improved = {}
        for j in np.unique(owners[owners >= 0]):
            mine = np.flatnonzero(owners == j)
            best = mine[int(np.argmin(losses[mine]))]
            if losses[best] < base - tol:
                improved[j] = best
                self.state[j] = ACTIVE
                self.radius[j] = (
                    min(0.5, 1.5 * self._step_radius(j, points[best])) if kinds[best] == _LOCAL else o.radius
                )
            else:
                self.state[j] = INERT if np.all(np.abs(losses[mine] - base) <= tol) else STUCK
                self.radius[j] = self.radius[j] * 0.5 if self.radius[j] * 0.5 >= o.radius_min else o.radius
        candidates = np.flatnonzero(kinds != _INCUMBENT)
        winner = candidates[int(np.argmin(losses[candidates]))] if len(candidates) else None
        self.combo = None
        if winner is not None and losses[winner] < base - tol:
            self.step = np.where(kinds[winner] == _LOCAL, points[winner] - self.incumbent, 0.0)
            self.incumbent, self.quiet = points[winner].copy(), 0
            self.incumbent_loss = float(losses[winner])
            if residuals is not None:
                self.incumbent_residual = residuals[winner].copy()
            others = [i for j, i in improved.items() if i != winner] if owners[winner] >= 0 else []
            if others:  # every block's own improvement at once, tried next iteration
                self.combo = self.incumbent.copy()
                for i in others:
                    block = self.blocks[owners[i]]
                    self.combo[block] = points[i][block]
        else:
            self.quiet += 1
        if len(self.rerendered) > 2:
            # Under render noise nearly every batch in a basin has a "winner" (the luckiest of many paired
            # draws), so the incumbent random-walks and quiet never grows. Once the re-rendered incumbent
            # (an unbiased loss) has improved well beyond its jitter, the search is located: quiet then
            # counts the iterations since that re-rendered loss was last at its lowest, and a walk among
            # equal points hands the fine work to CMA-ES, whose mean averages the noise. On the start's
            # plateau every gain counts as progress: there the search must roam.
            h = self.rerendered
            self.located = self.located or h[0] - min(h) > 4 * self.jitter
            if self.located:
                self.quiet = _since_lowest(h)

    def _fit_models(self, points, owners, kinds, residuals) -> None:
        """Where the renders' residual images reach the method: per block, a linear model of the residual
        image fitted to the block's local samples (paired with the incumbent's render), and its
        Gauss-Newton step, tried next iteration. A colour is linear in the image: one step lands on it."""
        self.proposals = {}
        r0 = self.incumbent_residual.astype(np.float64)
        for j in np.unique(owners[(owners >= 0) & (kinds == _LOCAL)]):
            mine = np.flatnonzero((owners == j) & (kinds == _LOCAL))
            block = self.blocks[j]
            if len(mine) < len(block) + 1:
                continue
            dx = points[mine][:, block] - self.incumbent_before[block]
            step = secant_step(dx, residuals[mine].astype(np.float64) - r0, r0)
            length = np.sqrt(np.mean(step**2))
            if np.isfinite(length) and length > 0:
                step *= min(1.0, 2.0 * self.radius[j] / length)  # no further than the box's reach
                self.proposals[int(j)] = np.clip(self.incumbent[block] + step, 0.0, 1.0)

    def _start_local(self, left: int) -> None:
        """A joint CMA-ES run from the incumbent, its population doubling with every restart."""
        population = (4 + int(3 * math.log(self.n))) * 2**self.restarts
        if self.parallel > 1:  # the incumbent and the population in whole rounds over the k workers
            population = whole_rounds(population + 1, self.parallel) - 1
        population = min(population, left - 1)
        if population >= 2:
            sigma0 = float(np.clip(np.exp(np.mean(np.log(self.radius))), 0.01, 0.3))
            if self.walk:  # under noise: no wider than the incumbent's recent walk (how well it is located)
                recent = np.asarray(self.walk[-self.options.patience * self.sweep :])
                sigma0 = float(np.clip(np.sqrt(np.mean(recent**2)), 0.005, sigma0))
            seed = self.seed + 7919 * (self.restarts + 1)
            self.local_args = {"budget": max(1, left), "seed": seed, "sigma0": sigma0, "popsize": population}
            self.local_start, self.local_since, self.local_losses = self.incumbent.copy(), 0, []
            self.local = self._make_local()

    def _make_local(self) -> CMAES:
        a = self.local_args
        return CMAES(self.space, x0=self.local_start, **a)

    def _tell_local(self, x, losses, residuals, left: int) -> None:
        base = losses[0]
        self.local.tell(self.local.ask(), losses[1:])
        if not self.located:  # noise-free, or still on the start's plateau: the best sample, if better
            best = 1 + int(np.argmin(losses[1:]))
            keep = best if losses[best] < base - self.options.flat_tolerance * max(abs(base), 1e-300) else 0
            self.incumbent, self.incumbent_loss = np.clip(x[keep], 0.0, 1.0), float(losses[keep])
            if residuals is not None:
                self.incumbent_residual = residuals[keep].copy()
            self.local_since = 0 if keep else self.local_since + 1
        else:
            # In a basin under noise a population's best sample is mostly the luckiest draw; CMA-ES's mean
            # averages over the population, so it becomes the incumbent (rendered first in the next batch),
            # and the run stalls when that re-rendered mean has not reached a new low for a while.
            self.local_losses.append(float(base))
            self.local_since = _since_lowest(self.local_losses)
            self.incumbent, self.incumbent_loss = self.local.current, float(base)
            if residuals is not None:
                self.incumbent_residual = residuals[0].copy()
        stalled = self.local_since > 10 + 20 * self.n / self.local.batch_size
        if stalled or self.local._converged() or self.local.batch_size + 1 > left:
            self.local = None  # back to the block search, looking everywhere again
            self.restarts += 1
            self.quiet, self.rerendered = 0, []
            self.radius[:] = self.options.radius
            self.state[:] = ACTIVE

    # --- the estimate and the state -------------------------------------------------------------------
    @property
    def current(self) -> np.ndarray:
        return self.incumbent.copy()

    @property
    def sigma(self) -> float:
        if self.local is not None:
            return self.local.sigma
        return float(np.exp(np.mean(np.log(self.radius))))

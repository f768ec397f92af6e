"""Derivative-free Gauss-Newton on the rendered images (``gauss_newton``).

Every render gives a whole image, not just its loss; scalar methods throw the pixels away. When the
loss is a sum of squared residuals (image - target, per pixel and channel), each probe tells the
method how the *image* responds to a parameter change: ``r(θ + δ) - r(θ) ≈ J δ`` with ``J`` the
unknown Jacobian of the residuals. This method keeps the recent probes' offsets ``δ_k`` and image
responses ``Jδ_k``, and steps to the best point of their span under a linear model of the residuals:

    min_c  |r(θ) + Σ_k c_k Jδ_k|²  + λ |Σ_k c_k δ_k|²,      step = Σ_k c_k δ_k,

with λ (Levenberg-Marquardt) set so the step stays inside a trust region whose radius follows how
well the model predicted the last step (standard trust-region ratio test). It is the subspace form
of derivative-free Gauss-Newton for least squares (DFO-GN / DFO-LS, Cartis & Roberts 2019), with
random probes instead of an interpolation set, so each iteration's renders run in parallel.

One iteration renders one batch: the candidate step proposed from the last model, plus
``samples - 1`` probes around that candidate. Whether the candidate is accepted or not, its probes
and the secant from the current point to it join the model. On a linear image formation (texels
seen through a blur) every probe stays valid, so the span grows by ``samples`` directions per
iteration; ``memory`` bounds it (oldest dropped first) for nonlinear ones and for memory.

The caller must pass each sample's residual vector to ``tell`` (the server does so for image
losses; ``minimize`` when ``f`` returns (B, P) residuals). Measured in docs/efficiency.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

import numpy as np

from ..errors import ConfigError, TellError
from .base import CommonOptions, Method
from .registry import register


@dataclass
class GaussNewtonOptions(CommonOptions):
    samples: int = 20
    """Renders per iteration: the candidate step plus `samples - 1` probes around it."""
    sigma: float = 0.05
    """Probe size: the spread of each probe's offset per parameter, in unit-cube units."""
    discrete_sigma: float = 0.7
    """Discrete parameters (int, bool, enum) are probed at least this many value spacings away, so a
    probe changes them at all (as ZeroGrads' option of the same name)."""
    memory: int = 800
    """Most probe directions kept in the model (oldest dropped; never more than 2n + samples). The model
    costs memory × (pixels + parameters) float32 and two memory³ eigen-decompositions per iteration
    (texture4096: 1,160 renders with 800, 1,300-1,480 with 400)."""
    radius: float = 0.1
    """Initial trust-region radius: the step's RMS per parameter, in unit-cube units."""
    radius_min: float = 1e-6
    """The radius never shrinks below this (a step that small changes no image)."""
    radius_max: float = 0.5
    """The radius never grows beyond this."""

    def validate(self, name: str) -> None:
        if self.samples < 2:
            raise ConfigError(f"{name}: samples must be >= 2 (the candidate and at least one probe), got {self.samples}")
        if self.memory < 1:
            raise ConfigError(f"{name}: memory must be >= 1, got {self.memory}")
        if not self.sigma > 0 or self.discrete_sigma < 0:
            raise ConfigError(f"{name}: need sigma > 0 and discrete_sigma >= 0")
        if not 0 < self.radius_min <= self.radius <= self.radius_max:
            raise ConfigError(f"{name}: need 0 < radius_min <= radius <= radius_max, got "
                              f"{self.radius_min}, {self.radius}, {self.radius_max}")


# trust-region ratio test: actual / predicted reduction of the squared residual
_SHRINK_BELOW, _GROW_ABOVE, _SHRINK, _GROW = 0.25, 0.75, 0.25, 2.0
# at most this many directions per parameter are kept (plus one batch): more only average in stale
# directions from far-away points, which on a nonlinear image misfit the Jacobian (discs2, 5 seeds:
# 3-4 solved with 2n + 20 directions kept, 2 with 800; docs/efficiency.md)
_DIRECTIONS_PER_PARAMETER = 2
# offset directions whose singular value is below sqrt(this) of the largest count as repeats (dropped)
_RANK_TOLERANCE = 1e-8


@register
class GaussNewton(Method):
    name = "gauss_newton"
    description = ("Derivative-free Gauss-Newton on the rendered images: a linear model of the pixel residuals "
                   "from random probes, trust-region steps (needs residual images, not only losses)")
    Options = GaussNewtonOptions
    wants_residuals = True

    def _setup(self) -> None:
        o = self.options
        self.theta = self.x0.copy()  # the accepted point
        self.r: Optional[np.ndarray] = None  # its residual vector (None until the first batch)
        self.candidate = self.x0.copy()  # the point the next batch renders first
        self.predicted = 0.0  # the model's predicted reduction of |r|² at the candidate
        self.on_boundary = False  # whether the model's step was cut by the trust region
        self.radius = float(o.radius)
        # the model's directions live in ring buffers of `capacity` rows (allocated at the first tell, when
        # the residuals' size is known): a new row overwrites the oldest, nothing big is copied per iteration.
        # The least-squares model does not depend on the rows' order.
        self.capacity = min(o.memory, _DIRECTIONS_PER_PARAMETER * self.n + o.samples)
        self.count = 0  # rows in use
        self.slot = 0  # the row the next direction is written to
        self._offsets: Optional[np.ndarray] = None  # (capacity, n) float32: δ_k
        self._responses: Optional[np.ndarray] = None  # (capacity, P) float32: Jδ_k
        self._gram_offsets = np.zeros((self.capacity, self.capacity))  # δ_i·δ_j, kept up to date row by row
        self._gram_responses = np.zeros((self.capacity, self.capacity))  # Jδ_i·Jδ_j
        self.probe_sigma = np.maximum(o.sigma, o.discrete_sigma * self.resolution)

    def _batch_size(self) -> int:
        return self.options.samples

    @property
    def current(self) -> np.ndarray:
        return self.theta.copy()

    @property
    def sigma(self) -> float:
        return self.radius

    def _probe_offsets(self, iteration: int) -> np.ndarray:
        """(samples - 1, n) offsets around the candidate, mirrored where they would leave the unit cube
        (a clipped probe would waste its parameter); derived from (seed, iteration): no RNG state to save."""
        rng = np.random.default_rng([self.seed, iteration, 0x6A55])
        eps = rng.standard_normal((self.options.samples - 1, self.n)) * self.probe_sigma
        c = self.candidate
        outside = (c + eps > 1.0) | (c + eps < 0.0)
        eps = np.where(outside, -eps, eps)
        return np.clip(c + eps, 0.0, 1.0) - c

    def _ask(self) -> np.ndarray:
        return np.vstack([self.candidate[None], self.candidate + self._probe_offsets(self.iteration)])

    # --- the model -------------------------------------------------------------------------------
    @property
    def offsets(self) -> np.ndarray:
        """(count, n) the probe offsets in the model (a view)."""
        return self._offsets[:self.count] if self._offsets is not None else np.zeros((0, self.n), np.float32)

    @property
    def responses(self) -> np.ndarray:
        """(count, P) their image responses (a view)."""
        return self._responses[:self.count]

    def _add_directions(self, offsets: np.ndarray, responses: np.ndarray) -> None:
        """Write the rows over the oldest ones; the Gram matrices get the new rows' products only."""
        offsets, responses = offsets[-self.capacity:], responses[-self.capacity:]
        rows = (self.slot + np.arange(len(offsets))) % self.capacity
        self._offsets[rows] = offsets
        self._responses[rows] = responses
        self.slot = int((self.slot + len(offsets)) % self.capacity)
        self.count = min(self.count + len(offsets), self.capacity)
        for gram, data in ((self._gram_offsets, self._offsets), (self._gram_responses, self._responses)):
            cross = (data[rows] @ data[:self.count].T).astype(np.float64)  # (new, count), float32 products
            gram[rows, :self.count] = cross
            gram[:self.count, rows] = cross.T

    def _propose(self) -> None:
        """The candidate step from the current model: LM-damped so its RMS per parameter is <= radius.

        The offsets E (m × n) span a k-dimensional subspace with orthonormal basis V = EᵀU S⁻¹ (from
        the eigen-decomposition EEᵀ = U S² U ᵀ, tiny singular values dropped: nearly repeated
        directions). The Jacobian restricted to it is fitted by least squares to the responses D,
        B = J V ≈ Dᵀ U S⁻¹ (exact interpolation when the directions are independent, a regression
        when there are more than n), and the step is V w with w = argmin |r + B w|² + μ |w|².
        Only the two Gram matrices and D r are needed: nothing of size P × k is ever formed."""
        if self.count == 0:
            self.candidate, self.predicted = self.theta.copy(), 0.0
            return
        # products with the big (m × P, m × n) float32 arrays stay in float32: a float64 copy of them
        # would cost more than everything else at 196,608 texels
        b = (self.responses @ self.r.astype(np.float32)).astype(np.float64)  # D r
        s2, u = np.linalg.eigh(self._gram_offsets[:self.count, :self.count])
        keep = s2 > _RANK_TOLERANCE * max(s2.max(), 1e-300)
        if not keep.any():
            self.candidate, self.predicted = self.theta.copy(), 0.0
            return
        u, s_inv = u[:, keep], 1.0 / np.sqrt(s2[keep])
        to_coords = u * s_inv  # (m, k): c = to_coords @ w gives the step Eᵀc = V w
        h = to_coords.T @ self._gram_responses[:self.count, :self.count] @ to_coords  # BᵀB
        g = to_coords.T @ b  # Bᵀr
        lam, q = np.linalg.eigh(0.5 * (h + h.T))
        lam = np.maximum(lam, 0.0) + 1e-12 * max(lam.max(), 1e-300)
        beta = q.T @ g
        limit = self.radius ** 2 * self.n  # |step|² on the trust boundary

        def step_norm2(damping: float) -> float:
            return float(np.sum((beta / (lam + damping)) ** 2))

        damping = 0.0
        if step_norm2(0.0) > limit:  # bisect log(damping) until the step lies on the trust boundary
            scale, lo, hi = max(lam.max(), 1e-300), -14.0, 14.0
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if step_norm2(scale * 10.0 ** mid) > limit else (lo, mid)
            damping = scale * 10.0 ** hi
        self.on_boundary = damping > 0.0
        w = -q @ (beta / (lam + damping))
        step = (self.offsets.T @ (to_coords @ w).astype(np.float32)).astype(np.float64)
        self.candidate = np.clip(self.theta + step, 0.0, 1.0)
        # the prediction for the step actually taken: clipping to the cube removes part of it, so
        # predict with the clipped step's component in the span (what leaves the span has no known response)
        w = to_coords.T @ (self.offsets @ (self.candidate - self.theta).astype(np.float32)).astype(np.float64)
        self.predicted = float(-2.0 * g @ w - w @ h @ w)

    def _tell(self, x: np.ndarray, losses: np.ndarray, residuals: np.ndarray) -> None:
        o = self.options
        cand_r = residuals[0].astype(np.float64)
        if self._responses is not None and residuals.shape[1] != self._responses.shape[1]:
            raise TellError(f"{self.name}: residual vectors have {residuals.shape[1]} entries, earlier ones had "
                            f"{self._responses.shape[1]}; the image size must stay the same during a run")
        if self._responses is None:
            self._offsets = np.zeros((self.capacity, self.n), dtype=np.float32)
            self._responses = np.zeros((self.capacity, residuals.shape[1]), dtype=np.float32)
        # probes around the candidate and the secant from θ to it are valid directions either way
        offsets = x[1:] - x[0]
        responses = residuals[1:] - residuals[0]
        if self.r is not None and np.any(self.candidate != self.theta):
            offsets = np.vstack([offsets, (self.candidate - self.theta)[None]])
            responses = np.vstack([responses, (cand_r - self.r)[None]])
        if self.r is None:
            accept = True
        else:
            actual = float(self.r @ self.r - cand_r @ cand_r)
            ratio = actual / self.predicted if self.predicted > 0 else -1.0
            accept = actual > 0
            if ratio < _SHRINK_BELOW:
                self.radius = max(o.radius_min, self.radius * _SHRINK)
            elif ratio > _GROW_ABOVE and self.on_boundary:  # the model's step, before clipping to the cube
                self.radius = min(o.radius_max, self.radius * _GROW)
        if accept:
            self.theta, self.r = self.candidate.copy(), cand_r
        self._add_directions(offsets, responses)
        self._propose()

    # --- state -----------------------------------------------------------------------------------
    def _state_dict(self) -> Dict[str, Any]:
        c = self.count
        return {"theta": self.theta.copy(), "r": None if self.r is None else self.r.copy(),
                "candidate": self.candidate.copy(), "predicted": self.predicted, "radius": self.radius,
                "on_boundary": self.on_boundary, "slot": self.slot,
                "offsets": self.offsets.copy(), "responses": None if self._responses is None else self.responses.copy(),
                "gram_offsets": self._gram_offsets[:c, :c].copy(), "gram_responses": self._gram_responses[:c, :c].copy()}

    def _load_state_dict(self, s: Dict[str, Any]) -> None:
        self.theta = np.asarray(s["theta"], dtype=np.float64)
        self.r = None if s["r"] is None else np.asarray(s["r"], dtype=np.float64)
        self.candidate = np.asarray(s["candidate"], dtype=np.float64)
        self.predicted, self.radius = float(s["predicted"]), float(s["radius"])
        self.on_boundary, self.slot = bool(s["on_boundary"]), int(s["slot"])
        offsets = np.asarray(s["offsets"], dtype=np.float32)
        c = self.count = len(offsets)
        self._offsets = self._responses = None
        if s["responses"] is not None:
            responses = np.asarray(s["responses"], dtype=np.float32)
            self._offsets = np.zeros((self.capacity, self.n), dtype=np.float32)
            self._responses = np.zeros((self.capacity, responses.shape[1]), dtype=np.float32)
            self._offsets[:c], self._responses[:c] = offsets, responses
        self._gram_offsets[:c, :c] = np.asarray(s["gram_offsets"], dtype=np.float64)
        self._gram_responses[:c, :c] = np.asarray(s["gram_responses"], dtype=np.float64)

"""The linear models of the residual images that ``gauss_newton`` steps with.

Both keep probe offsets ``δ_k`` (rows of D, float32) and their image responses ``Jδ_k`` (rows of Y)
and describe the span of the offsets by an orthonormal basis ``V = Dᵀ C``. In its coordinates z a step
``s = V z`` changes the squared residual by the Gauss-Newton model

    m(z) = 2 g·z + zᵀ H z,      g = Cᵀ Y r,   H = Cᵀ (Y Yᵀ) C,

so a model hands the method ``C`` (as a map from z to row coefficients), ``g``, ``H`` and a spectral
basis of H for the Levenberg-Marquardt path. Per iteration only the new rows' products with the kept
ones are computed.

``EigenModel`` (up to 800 directions): a ring buffer, C from the eigen-decomposition of ``D Dᵀ`` and the
spectrum of H from a second one. With more directions than parameters the fit is a least-squares
regression, which keeps refreshing the Jacobian of a nonlinear image (discs). Two k³ decompositions
per iteration: 6 s each at k = 3,000, too slow for the thousands of directions a texture needs.

``KrylovModel`` (thousands of directions, n >= 2,000): the probes are orthonormalised as they arrive
(Gram-Schmidt, twice), the same combinations applied to their responses, so C is the identity and H
grows by the new rows' products only; nothing is decomposed per iteration. H's spectrum near the step
comes from ~100 Lanczos steps started at g (the Krylov space the conjugate-gradient step lies in). A
probe that (nearly) repeats the span adds no row. When full, the older half of the basis is dropped:
the rest stays orthonormal, so nothing is rebuilt.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# offset directions whose singular value is below sqrt(this) of the largest count as repeats (dropped)
_RANK_TOLERANCE = 1e-8
# KrylovModel: a new direction whose part outside the kept span has less than this share of its
# squared length adds nothing reliable in float32 and is not kept
_NEW_SHARE_MIN = 1e-4
_LANCZOS_STEPS = 100


class Subspace:
    """One iteration's view of a model: z-coordinates ↔ steps, and the quadratic model in z."""

    def __init__(
        self, to_rows: np.ndarray | None, g: np.ndarray, h: np.ndarray, basis: np.ndarray, curvatures: np.ndarray
    ):
        self.to_rows = to_rows  # (count, k): row coefficients c = to_rows @ z give the step Dᵀc; None: c = z
        self.g, self.h = g, h  # (k,), (k, k)
        self.basis, self.curvatures = basis, curvatures  # (k, m) orthonormal columns, (m,) ≥ 0: H ≈ B diag Bᵀ there
        self.beta = basis.T @ g


class _ProbeModel:
    """What both models keep: up to `capacity` directions (float32 rows over the n parameters) and
    each one's image response (rows over the P pixels); `count` rows in use."""

    def __init__(self, n: int, capacity: int, pixels: int):
        self.n, self.capacity, self.pixels = n, capacity, pixels
        self.offsets_buf = np.zeros((capacity, n), dtype=np.float32)
        self.responses_buf = np.zeros((capacity, pixels), dtype=np.float32)
        self.count = 0

    @property
    def offsets(self) -> np.ndarray:
        return self.offsets_buf[: self.count]

    @property
    def responses(self) -> np.ndarray:
        return self.responses_buf[: self.count]


class EigenModel(_ProbeModel):
    kind = "eigen"

    def __init__(self, n: int, capacity: int, pixels: int):
        super().__init__(n, capacity, pixels)
        # ring buffers: a new row overwrites the oldest; the least-squares model does not depend on order
        self.gram_offsets = np.zeros((capacity, capacity))
        self.gram_responses = np.zeros((capacity, capacity))
        self.slot = 0  # the row the next direction is written to

    def add(self, offsets: np.ndarray, responses: np.ndarray) -> None:
        offsets, responses = offsets[-self.capacity :], responses[-self.capacity :]
        rows = (self.slot + np.arange(len(offsets))) % self.capacity
        self.offsets_buf[rows] = offsets
        self.responses_buf[rows] = responses
        self.slot = int((self.slot + len(offsets)) % self.capacity)
        self.count = min(self.count + len(offsets), self.capacity)
        for gram, data in ((self.gram_offsets, self.offsets_buf), (self.gram_responses, self.responses_buf)):
            cross = (data[rows] @ data[: self.count].T).astype(np.float64)  # (new, count), float32 products
            gram[rows, : self.count] = cross
            gram[: self.count, rows] = cross.T

    def subspace(self, r32: np.ndarray) -> Subspace | None:
        """Orthonormal basis V = Dᵀ U S⁻¹ from D Dᵀ = U S² Uᵀ (tiny singular values dropped: nearly
        repeated directions); the Jacobian on it fitted by least squares, J V ≈ Yᵀ U S⁻¹."""
        c = self.count
        if c == 0:
            return None
        s2, u = np.linalg.eigh(self.gram_offsets[:c, :c])
        keep = s2 > _RANK_TOLERANCE * max(s2.max(), 1e-300)
        if not keep.any():
            return None
        to_rows = u[:, keep] / np.sqrt(s2[keep])
        h = to_rows.T @ self.gram_responses[:c, :c] @ to_rows
        h = 0.5 * (h + h.T)
        g = to_rows.T @ (self.responses @ r32).astype(np.float64)
        lam, q = np.linalg.eigh(h)
        return Subspace(to_rows, g, h, q, np.maximum(lam, 0.0))

    def state_dict(self) -> dict[str, Any]:
        c = self.count
        return {
            "slot": self.slot,
            "offsets": self.offsets.copy(),
            "responses": self.responses.copy(),
            "gram_offsets": self.gram_offsets[:c, :c].copy(),
            "gram_responses": self.gram_responses[:c, :c].copy(),
        }

    def load_state_dict(self, s: dict[str, Any]) -> None:
        c = self.count = len(s["offsets"])
        self.slot = int(s["slot"])
        self.offsets_buf[:c] = s["offsets"]
        self.responses_buf[:c] = s["responses"]
        self.gram_offsets[:c, :c] = s["gram_offsets"]
        self.gram_responses[:c, :c] = s["gram_responses"]


class KrylovModel(_ProbeModel):
    kind = "krylov"

    def __init__(self, n: int, capacity: int, pixels: int):
        # rows 0..count-1, oldest first: the offsets are an orthonormal basis q_i of the probes' span
        # (Gram-Schmidt), the responses the image response J q_i of each (the same combination of the
        # probes' responses)
        super().__init__(n, capacity, pixels)
        self.h = np.zeros((capacity, capacity))  # H_ij = J q_i · J q_j

    def add(self, offsets: np.ndarray, responses: np.ndarray) -> None:
        """Orthonormalise the new offsets against the basis (twice: the second pass restores what
        float32 rounding leaves when a probe nearly repeats the span) and among themselves; apply
        the same combinations to their responses. Products are float32 on well-scaled rows only:
        Gram matrices of the raw probes, inverted, lost all precision once smooth probes nearly
        repeated each other (texture65536 with a grid, ~500 directions)."""
        offsets, responses = offsets[-self.capacity :], responses[-self.capacity :]
        if self.count + len(offsets) > self.capacity:
            self._drop_oldest(keep=min(self.capacity // 2, self.capacity - len(offsets)))
        c = self.count
        q, u = self.offsets, self.responses
        norms2 = np.einsum("ij,ij->i", offsets, offsets).astype(np.float64)
        d, y = offsets.copy(), responses.copy()
        for _ in range(2):
            coef = d @ q.T  # (b, c)
            d -= coef @ q
            y -= coef @ u
        # within the block: pivoted Cholesky of the remainders' Gram, rows that repeat others skipped
        kept, factor = _pivoted_cholesky((d @ d.T).astype(np.float64), norms2 * _NEW_SHARE_MIN)
        a = len(kept)
        if a == 0:
            return
        inv = np.linalg.inv(factor).astype(np.float32)
        self.offsets_buf[c : c + a] = inv @ d[kept]
        self.responses_buf[c : c + a] = inv @ y[kept]
        cross = (self.responses_buf[c : c + a] @ self.responses_buf[: c + a].T).astype(np.float64)  # (a, c + a)
        self.h[c : c + a, : c + a] = cross
        self.h[: c + a, c : c + a] = cross.T
        self.count = c + a

    def _drop_oldest(self, keep: int) -> None:
        """Keep the newest `keep` basis rows: still orthonormal, their responses and H unchanged."""
        c = self.count
        start = c - keep
        for buf in (self.offsets_buf, self.responses_buf):
            buf[:keep] = buf[start:c]  # no overlap: keep <= c - keep
        self.h[:keep, :keep] = self.h[start:c, start:c].copy()
        self.count = keep

    def subspace(self, r32: np.ndarray) -> Subspace | None:
        c = self.count
        if c == 0:
            return None
        h = self.h[:c, :c]
        g = (self.responses @ r32).astype(np.float64)
        basis, curvatures = _lanczos_spectrum(h, g, _LANCZOS_STEPS)
        return Subspace(None, g, h, basis, curvatures)

    def state_dict(self) -> dict[str, Any]:
        c = self.count
        return {"basis": self.offsets.copy(), "images": self.responses.copy(), "h": self.h[:c, :c].copy()}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        c = self.count = len(s["basis"])
        self.offsets_buf[:c] = s["basis"]
        self.responses_buf[:c] = s["images"]
        self.h[:c, :c] = s["h"]


def _pivoted_cholesky(schur: np.ndarray, floor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cholesky of `schur` taking the rows in order and skipping a row whose remaining diagonal is not
    above `floor` (it repeats earlier ones): (indices kept, lower-triangular factor of those)."""
    a = schur.copy()
    b = len(a)
    factor = np.zeros((b, b))
    kept = []
    for i in range(b):
        d = a[i, i]
        if not (d > floor[i] and d > 0):
            continue
        col = a[i:, i] / np.sqrt(d)
        factor[i:, i] = col
        a[i:, i:] -= np.outer(col, col)
        kept.append(i)
    kept_idx = np.asarray(kept, dtype=np.int64)
    return kept_idx, factor[np.ix_(kept_idx, kept_idx)]


def _lanczos_spectrum(h: np.ndarray, g: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """An orthonormal basis of the Krylov space {g, Hg, H²g, ...} (at most `steps` long, fully
    re-orthogonalised) rotated to H's Ritz vectors there, and their Ritz values."""
    k = len(g)
    norm = float(np.linalg.norm(g))
    if norm == 0.0:
        return np.zeros((k, 0)), np.zeros(0)
    steps = min(steps, k)
    q = np.zeros((k, steps))
    alpha, beta = np.zeros(steps), np.zeros(steps)
    v = g / norm
    scale = max(float(np.abs(h).max()), 1e-300)
    m = steps
    for j in range(steps):
        q[:, j] = v
        w = h @ v
        alpha[j] = v @ w
        w -= q[:, : j + 1] @ (q[:, : j + 1].T @ w)  # full re-orthogonalisation (twice is enough)
        w -= q[:, : j + 1] @ (q[:, : j + 1].T @ w)
        beta[j] = float(np.linalg.norm(w))
        if beta[j] <= 1e-12 * scale:  # the Krylov space is invariant: exact from here
            m = j + 1
            break
        v = w / beta[j]
    t = np.diag(alpha[:m]) + np.diag(beta[: m - 1], 1) + np.diag(beta[: m - 1], -1)
    ritz, y = np.linalg.eigh(t)
    return q[:, :m] @ y, np.maximum(ritz, 0.0)


def secant_step(offsets: np.ndarray, responses: np.ndarray, residual: np.ndarray) -> np.ndarray:
    """The Gauss-Newton step of a linear residual model fitted to secants: ``offsets`` (k, d) parameter
    changes, ``responses`` (k, P) the residual images' changes they caused, ``residual`` (P,) the
    residual at the point; the step δ (d,) minimises |residual + J δ|² with J fitted by least squares.
    (blockwise uses it per block, with a handful of samples: no model to keep.)"""
    jac_t, *_ = np.linalg.lstsq(offsets, responses, rcond=None)  # (d, P): each parameter's image response
    step, *_ = np.linalg.lstsq(jac_t.T, -residual, rcond=None)
    return step

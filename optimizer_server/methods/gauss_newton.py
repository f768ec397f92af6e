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

One iteration renders one batch: the candidate step proposed from the last model, plus probes
around that candidate. Whether the candidate is accepted or not, its probes join the model. On a
linear image formation (texels seen through a blur) every probe stays valid, so the span grows by
about ``samples`` directions per iteration; ``memory`` bounds it for nonlinear ones and for memory.

Renders are Monte-Carlo noisy, and four things keep that noise out of the steps (docs/methods.md
§4.2 has the measurements):

- The probes share a noise seed of their own, not the candidate's, and their responses are taken
  about their own mean. With common random numbers a probe's response holds how that seed's noise
  pattern moves with the parameters; a step computed from a residual of the same seed would "fit"
  that noise, predict reductions five times too large, fail the ratio test and shrink the radius
  until nothing moves.
- θ is rendered again beside each candidate, at the candidate's seed: the ratio test compares the
  two under the same noise, and while candidates lose, θ's residual is the mean of its renders.
  Otherwise θ keeps the residual of the render that won it its place, a lucky draw by selection,
  that every later candidate must beat.
- Once the noise shows, batches grow to ``noisy_samples`` (40): more probes average more noise into
  each model update and ratio test.
- Once the noise shows, a trust radius that collapses (below ``restart_below``) restarts from
  ``restart_radius``: late in a run the predicted reductions sink below the noise of the measured
  ones, and the ratio test would go on shrinking the radius on noise alone.

A deterministic function needs none of this. With ``noise = "auto"`` (the default) θ's second render,
at another seed, decides: bit-identical switches it all off, which gives one more direction per
batch (responses about the candidate, and the secant from θ to it) and no repeated render.

How the model is kept and solved (an exact eigen-decomposition up to 800 directions, an incremental
factorisation and Lanczos for the thousands a texture needs) is in ``residual_models.py``.

Where the space holds an image's texels (an array parameter of shape (H, W) or (H, W, C),
``Space.grids``), the probes are smooth on that grid: an image through a camera resolves smooth
texel changes far better than per-texel noise, so each render teaches the model much more
(texture65536: see docs/efficiency.md). Where it holds a mesh's vertices (``Space.graphs``), the probes
are noise smoothed along the mesh's edges (Laplacian smoothing), for the same reason: a render sees a
smooth bulge, not one vertex pushed alone (docs/results-highdim.md).

The caller must pass each sample's residual vector to ``tell`` (capability ``residuals``: the server
and the scene harness for image losses; ``minimize`` when ``f`` returns (B, P) residuals). Measured
in docs/efficiency.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..wire.errors import ConfigError, StateError, TellError
from .base import CommonOptions, Method
from .registry import register
from .residual_models import EigenModel, KrylovModel
from .rounds import rounds_batch
from .structured import StructuredNoise, smooth_noise

__all__ = ["GaussNewton", "GaussNewtonOptions", "smooth_noise"]


@dataclass
class GaussNewtonOptions(CommonOptions):
    samples: int = 20
    """Renders per iteration: the candidate step plus `samples - 1` probes around it (for a deterministic
    function, and for noisy ones until their noise shows)."""
    noisy_samples: int = 40
    """Renders per iteration once the evaluations are known to be noisy: the candidate, θ again and the
    probes. A bigger batch per step averages more noise into each model update and ratio test (ci scenes,
    600 renders, 40 against 20: MESH vertex error 0.0043 against 0.0053 radii, CAUSTIC image error 0.087
    against 0.187 of the start's); on a deterministic texture it would cost 160 renders instead of 60."""
    sigma: float = 0.05
    """Probe size: the spread of each probe's offset per parameter, in unit-cube units."""
    discrete_sigma: float = 0.7
    """Discrete parameters (int, bool, enum) are probed at least this many value spacings away, so a
    probe changes them at all (as ZeroGrads' option of the same name)."""
    memory: int = 3000
    """Most probe directions kept in the model. Below 2,000 parameters at most 800 (and 2n + samples),
    refitted by eigen-decompositions each iteration, oldest dropped first. From 2,000 parameters at most
    n/2 and what fits in `memory_gib`, kept as an orthonormal basis; when full, its older half is dropped."""
    memory_gib: float = 2.0
    """Bound on the model's probe offsets and responses (directions × (parameters + pixels) float32)."""
    smooth_probes: bool = True
    """Probe the space's image-shaped parameters (``Space.grids``) with smooth textures instead of
    independent noise per texel."""
    grid_smoothness: float = 4.0
    """Correlation length of the smooth probes, in texels (the σ of a Gaussian filter)."""
    graph_smoothness: float = 4.0
    """Correlation length of the smooth probes on a mesh, in edges (2·length² Laplacian smoothing steps)."""
    noise: str = "auto"
    """noisy: the evaluations are Monte-Carlo noisy (renders): probes get a noise seed of their own, the
    current point is rendered again beside each candidate, and batches grow to `noisy_samples`.
    exact: a deterministic function. auto: noisy until the current point, rendered again at another
    seed, comes back bit-identical; exact from then on."""
    radius: float = 0.1
    """Initial trust-region radius: the step's RMS per parameter, in unit-cube units."""
    radius_min: float = 1e-6
    """The radius never shrinks below this (a step that small changes no image)."""
    radius_max: float = 0.5
    """The radius never grows beyond this."""
    restart_below: float = 0.001
    """Noisy evaluations only: once the radius shrinks below this, it is set back to `restart_radius` (0: never).
    Under render noise a collapsed radius means the ratio test has been measuring noise, not that θ is a
    minimum: the predicted reductions of small steps sink below the noise of the measured ones."""
    restart_radius: float = 0.02
    """The radius a noisy run restarts from (the model and θ are kept: a soft restart)."""

    GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {
        "sampling": (
            "samples",
            "noisy_samples",
            "sigma",
            "discrete_sigma",
            "smooth_probes",
            "grid_smoothness",
            "graph_smoothness",
            "noise",
        ),
        "surrogate": ("memory", "memory_gib"),
        "step": ("radius", "radius_min", "radius_max", "restart_below", "restart_radius"),
    }
    BASIC: ClassVar[tuple[str, ...]] = ("samples", "sigma")

    def validate(self, name: str) -> None:
        if self.samples < 2 or self.noisy_samples < 2:
            raise ConfigError(
                f"{name}: samples and noisy_samples must be >= 2 (the candidate and at least one probe), got "
                f"{self.samples} and {self.noisy_samples}"
            )
        if self.memory < 1 or not self.memory_gib > 0:
            raise ConfigError(f"{name}: need memory >= 1 and memory_gib > 0, got {self.memory} and {self.memory_gib}")
        if not self.sigma > 0 or self.discrete_sigma < 0:
            raise ConfigError(f"{name}: need sigma > 0 and discrete_sigma >= 0")
        if not 0 < self.radius_min <= self.radius <= self.radius_max:
            raise ConfigError(
                f"{name}: need 0 < radius_min <= radius <= radius_max, got "
                f"{self.radius_min}, {self.radius}, {self.radius_max}"
            )
        restart_ok = self.restart_below == 0 or self.restart_below < self.restart_radius <= self.radius_max
        if self.restart_below < 0 or not restart_ok:
            raise ConfigError(
                f"{name}: need restart_below >= 0 and, unless it is 0, restart_below < restart_radius <= radius_max, "
                f"got {self.restart_below}, {self.restart_radius}, {self.radius_max}"
            )
        if not self.grid_smoothness > 0:
            raise ConfigError(f"{name}: grid_smoothness must be > 0 texels, got {self.grid_smoothness}")
        if self.noise not in NOISE_MODES:
            raise ConfigError(f"{name}: noise must be one of {', '.join(NOISE_MODES)}, got {self.noise!r}")
        if not self.graph_smoothness >= 0:
            raise ConfigError(f"{name}: graph_smoothness must be >= 0 edges, got {self.graph_smoothness}")


NOISE_MODES = ("auto", "noisy", "exact")
_NOISE_SHOWN = {"auto": None, "noisy": True, "exact": False}  # what each mode knows of the noise at the start
# trust-region ratio test: actual / predicted reduction of the squared residual
_SHRINK_BELOW, _GROW_ABOVE, _SHRINK, _GROW = 0.25, 0.75, 0.25, 2.0
# below this many parameters the exact, regressing EigenModel; from it the incremental KrylovModel
_KRYLOV_FROM = 2000
# EigenModel: at most this many directions (two of its k³ decompositions per iteration), and at most
# 2n + samples: more only average in stale directions from far-away points, which on a nonlinear image
# misfit the Jacobian (discs2, 5 seeds: 3-4 solved with 2n + 20 directions kept, 2 with 800)
_EIGEN_MAX, _DIRECTIONS_PER_PARAMETER = 800, 2
# dampings tried beyond the trust region's along the Levenberg-Marquardt path (log-spaced, 8 decades)
_DAMPING_PATH = 17


@register
class GaussNewton(Method):
    name = "gauss_newton"
    description = (
        "Derivative-free Gauss-Newton on the rendered images: a linear model of the pixel residuals "
        "from random probes, trust-region steps (needs residual images, not only losses)"
    )
    Options = GaussNewtonOptions
    wants_residuals = True
    presets = {"white_probes": {"smooth_probes": False}}
    preset_notes = {
        "white_probes": "independent noise per texel or vertex even on image and mesh parameters (the comparison "
        "for smooth probes)"
    }

    def _setup(self) -> None:
        o = self.options
        self.theta = self.x0.copy()  # the accepted point
        self.r: np.ndarray | None = None  # its residual vector (None until the first batch)
        self.r_renders = 0  # how many of θ's renders `r` averages (noisy: θ is rendered again each batch)
        # whether the evaluations are noisy: None until θ's render at another seed decides (noise "auto"),
        # True when it differed (batches of `noisy_samples`), False when it came back bit-identical
        self.noise_shown: bool | None = _NOISE_SHOWN[o.noise]
        self.candidate = self.x0.copy()  # the point the next batch renders first
        self.predicted = 0.0  # the model's predicted reduction of |r|² at the candidate
        self.on_boundary = False  # whether the trust region (not clipping) limited the model's step
        self.radius = float(o.radius)
        self.restarts = 0  # how often a noisy run's collapsed radius was set back to `restart_radius`
        self.noise = StructuredNoise(
            self.space, o.grid_smoothness if o.smooth_probes else 0.0, o.graph_smoothness if o.smooth_probes else 0.0
        )
        self.model_kind = "krylov" if self.n >= _KRYLOV_FROM else "eigen"
        self.model = None  # built at the first tell, when the residuals' size is known
        self.probe_sigma = np.maximum(o.sigma, o.discrete_sigma * self.resolution)

    def _capacity(self, kind: str, pixels: int) -> int:
        o = self.options
        fits = int(o.memory_gib * 2**30 // (4 * (self.n + pixels)))
        if kind == "eigen":
            return max(1, min(o.memory, _EIGEN_MAX, _DIRECTIONS_PER_PARAMETER * self.n + o.samples, fits))
        return max(2 * o.samples, min(o.memory, self.n // 2, fits))

    def _build_model(self, kind: str, pixels: int):
        cls = EigenModel if kind == "eigen" else KrylovModel
        return cls(self.n, self._capacity(kind, pixels), pixels)

    def _batch_size(self) -> int:
        # with k workers, the whole number of rounds over them nearest `samples` (more probes when k exceeds
        # it): its iterations to target hardly depend on the probe count (texture1024: 3 with 16 to 32)
        left = self.budget - self.evaluations
        samples = self.options.noisy_samples if self.noise_shown else self.options.samples
        batch = rounds_batch(samples, self.parallel, left=left, least=2, nearest=True)
        # one worker: the budget's last renders as a smaller batch, not left unused (up to 39 of them)
        return left if self.parallel <= 1 and 2 <= left < batch else batch

    @property
    def current(self) -> np.ndarray:
        return self.theta.copy()

    @property
    def sigma(self) -> float:
        return self.radius

    def _layout(self, count: int) -> tuple[bool, int]:
        """A batch of `count` renders: (whether its second row is θ rendered again, its first probe's row).
        Derived from the state alone, so ask and tell agree."""
        paired = self.noisy and count >= 4 and self.r is not None and bool(np.any(self.candidate != self.theta))
        return paired, 2 if paired else 1

    def _probes_apart(self, count: int) -> bool:
        """Whether the probes get a noise seed of their own and responses about their mean (at least two)."""
        return self.noisy and count - self._layout(count)[1] >= 2

    @property
    def noisy(self) -> bool:
        return self.noise_shown is not False  # undecided counts as noisy

    def _render_seeds(self, count: int) -> np.ndarray:
        seeds = super()._render_seeds(count)
        if self.options.common_random_numbers and self._probes_apart(count):
            probe_seed = np.random.SeedSequence([self.seed, self.iteration, 0x9E3F]).generate_state(1)[0]
            seeds[self._layout(count)[1] :] = probe_seed & 0x7FFFFFFF
        return seeds

    def _probe_offsets(self, iteration: int, count: int) -> np.ndarray:
        """(count, n) offsets around the candidate, mirrored where they would leave the unit cube
        (a clipped probe would waste its parameter); derived from (seed, iteration): no RNG state to save."""
        rng = np.random.default_rng([self.seed, iteration, 0x6A55])
        eps = self.noise.draw(rng, count) * self.probe_sigma
        c = self.candidate
        outside = (c + eps > 1.0) | (c + eps < 0.0)
        eps = np.where(outside, -eps, eps)
        return np.clip(c + eps, 0.0, 1.0) - c

    def _ask(self) -> np.ndarray:
        count = self._batch_size()
        paired, first = self._layout(count)
        probes = self.candidate + self._probe_offsets(self.iteration, count - first)
        return np.vstack([self.candidate[None], *([self.theta[None]] if paired else []), probes])

    # --- the step ----------------------------------------------------------------------------------
    def _propose(self) -> None:
        """The candidate: the model's best clipped step along the Levenberg-Marquardt path, its RMS per
        parameter at most the trust radius. In the model's coordinates z (an orthonormal basis of the
        probes' span, ``residual_models.Subspace``) the step for damping μ is z = -(H + μ)⁻¹ g."""
        sub = None if self.r is None else self.model.subspace(self.r.astype(np.float32))
        if sub is None or len(sub.curvatures) == 0:
            self.candidate, self.predicted, self.on_boundary = self.theta.copy(), 0.0, False
            return
        lam, beta = sub.curvatures, sub.beta
        lam = lam + 1e-12 * max(lam.max(), 1e-300)
        limit = self.radius**2 * self.n  # |step|² on the trust boundary

        def step_norm2(damping: float) -> float:
            return float(np.sum((beta / (lam + damping)) ** 2))

        damping = 0.0
        if step_norm2(0.0) > limit:  # bisect log(damping) until the step lies on the trust boundary
            scale, lo, hi = max(lam.max(), 1e-300), -14.0, 14.0
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if step_norm2(scale * 10.0**mid) > limit else (lo, mid)
            damping = scale * 10.0**hi
        # Clipping to the unit cube removes part of a step, and what it removes can turn a good model
        # step into a bad one (texture4096: half the texels of a long step land on a bound). So more
        # damping along the path is tried too, and the damping whose *clipped* step the model predicts
        # best is kept. The whole path costs two products with the offsets.
        floor = max(damping, 1e-8 * max(lam.max(), 1e-300))
        dampings = np.concatenate([[damping], floor * np.logspace(0.0, 8.0, _DAMPING_PATH)])
        z_path = -sub.basis @ (beta[:, None] / (lam[:, None] + dampings[None, :]))  # (k, path)
        offsets = self.model.offsets
        rows = z_path if sub.to_rows is None else sub.to_rows @ z_path
        steps = offsets.T @ rows.astype(np.float32)  # (n, path)
        clipped = np.clip(self.theta[:, None] + steps, 0.0, 1.0) - self.theta[:, None]
        # a clipped step is predicted from its part in the span (what leaves the span has no known response)
        z_clipped = (offsets @ clipped.astype(np.float32)).astype(np.float64)
        if sub.to_rows is not None:
            z_clipped = sub.to_rows.T @ z_clipped
        predicted = -2.0 * (sub.g @ z_clipped) - np.sum(z_clipped * (sub.h @ z_clipped), axis=0)
        best = int(np.argmax(predicted))
        self.on_boundary = best == 0 and damping > 0.0
        self.candidate = np.clip(self.theta + clipped[:, best], 0.0, 1.0)
        self.predicted = float(predicted[best])

    def _tell(self, x: np.ndarray, losses: np.ndarray, residuals: np.ndarray) -> None:
        o = self.options
        cand_r = residuals[0].astype(np.float64)
        if self.model is not None and residuals.shape[1] != self.model.pixels:
            raise TellError(
                f"{self.name}: residual vectors have {residuals.shape[1]} entries, earlier ones had "
                f"{self.model.pixels}; the image size must stay the same during a run"
            )
        if self.model is None:
            self.model = self._build_model(self.model_kind, residuals.shape[1])
        paired, first = self._layout(len(x))
        theta_r = residuals[1].astype(np.float64) if paired else self.r
        # the probes are valid directions whether the candidate is accepted or not
        if self._probes_apart(len(x)):
            # about the probes' own mean (their own seed): no response holds the noise of the residual the
            # next step starts from; n probes give n - 1 directions
            probes_x, probes_r = x[first:], residuals[first:].astype(np.float64)
            offsets = (probes_x - probes_x.mean(axis=0))[1:]
            responses = (probes_r - probes_r.mean(axis=0))[1:]
        else:
            offsets = x[first:] - x[0]
            responses = residuals[first:] - residuals[0]
            if not self.noisy and self.r is not None and np.any(self.candidate != self.theta):
                # the secant from θ to the candidate: exact for a deterministic function, and under noise
                # it would hold θ's own render noise (the residual the next step may start from)
                offsets = np.vstack([offsets, (self.candidate - self.theta)[None]])
                responses = np.vstack([responses, (cand_r - self.r)[None]])
        if self.r is None:
            accept = True
        else:
            actual = float(theta_r @ theta_r - cand_r @ cand_r)
            ratio = actual / self.predicted if self.predicted > 0 else -1.0
            accept = actual > 0
            if ratio < _SHRINK_BELOW:
                self.radius = max(o.radius_min, self.radius * _SHRINK)
            elif ratio > _GROW_ABOVE and self.on_boundary:
                self.radius = min(o.radius_max, self.radius * _GROW)
            if self.noise_shown and self.radius < o.restart_below:
                # soft restart (as DFO-LS does for noisy least squares): keep θ and the model, widen the radius
                self.radius = o.restart_radius
                self.restarts += 1
        if paired and self.noise_shown is None:
            # θ's render under another seed: bit-identical means no noise to guard against
            self.noise_shown = not np.array_equal(theta_r, self.r)
        if accept:
            self.theta, self.r, self.r_renders = self.candidate.copy(), cand_r, 1
        elif paired and self.noise_shown:
            # θ stays: its residual becomes the mean of its renders, the lucky first one diluted and the
            # next step's starting residual less noisy with every rejected candidate
            self.r_renders += 1
            self.r = self.r + (theta_r - self.r) / self.r_renders
        self.model.add(offsets.astype(np.float32), responses.astype(np.float32))
        self._propose()

    # --- state -----------------------------------------------------------------------------------
    @property
    def offsets(self) -> np.ndarray:
        """(count, n) the probe offsets in the model (a view)."""
        return self.model.offsets if self.model is not None else np.zeros((0, self.n), np.float32)

    def _state_dict(self) -> dict[str, Any]:
        return {
            "theta": self.theta.copy(),
            "r": None if self.r is None else self.r.copy(),
            "r_renders": self.r_renders,
            "noise_shown": self.noise_shown,
            "candidate": self.candidate.copy(),
            "predicted": self.predicted,
            "radius": self.radius,
            "restarts": self.restarts,
            "on_boundary": self.on_boundary,
            "model_kind": self.model_kind,
            "pixels": None if self.model is None else self.model.pixels,
            "model": None if self.model is None else self.model.state_dict(),
        }

    def _load_state_dict(self, s: dict[str, Any]) -> None:
        if s.get("model_kind") != self.model_kind:
            raise StateError(
                f"{self.name}: the state holds a {s.get('model_kind')!r} model, this run builds "
                f"{self.model_kind!r} ones; resume with the version that wrote it"
            )
        self.theta = np.asarray(s["theta"], dtype=np.float64)
        self.r = None if s["r"] is None else np.asarray(s["r"], dtype=np.float64)
        self.r_renders = int(s.get("r_renders", 1))
        if "noise_shown" in s:
            self.noise_shown = None if s["noise_shown"] is None else bool(s["noise_shown"])
        else:  # written before the field: two flags for the same three states, or neither
            old = {(True, False): False, (False, True): True}.get((s.get("found_exact"), s.get("found_noise")))
            self.noise_shown = _NOISE_SHOWN[self.options.noise] if old is None else old
        self.candidate = np.asarray(s["candidate"], dtype=np.float64)
        self.predicted, self.radius = float(s["predicted"]), float(s["radius"])
        self.restarts = int(s.get("restarts", 0))
        self.on_boundary = bool(s["on_boundary"])
        self.model = None
        if s["model"] is not None:
            self.model = self._build_model(self.model_kind, int(s["pixels"]))
            self.model.load_state_dict({k: np.asarray(v) for k, v in s["model"].items()})

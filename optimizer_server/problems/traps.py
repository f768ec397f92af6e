"""The trap suite: small problems whose start sits on a plateau or beyond a trap, drawn like a renderer
draws them (hard edges, discrete values, Monte-Carlo noise in the renders and in the target).

- ``plateau_discs{k}`` (k = 1…4): k hard-edged discs, none overlapping its target at the start,
  centres bounded inside the frame: moving a disc changes nothing until it touches its target.
- ``light_pool``: a spot light's pool on a floor, aimed off-frame at the start (a black image), plus
  the floor's RGB (5 parameters). The colour does nothing while the pool is off-frame, and between
  that plateau and the target lies a ridge: a pool in the wrong place is worse than no pool.
- ``occlusion``: one parameter, a ball's depth; a wall hides it when it recedes. Hiding it looks
  better than the start (the bound is a trap); the target lies across a plateau on the other side.
- ``count``: an integer count of bars and their width (the suite's count problem, drawn here too).
- ``noisy_*``: each of them with per-pixel render noise; the target is a noisy render as well.

Every problem is posed in parameter units through its ``Space`` (discrete kinds rounded by it) and
exposes ``loss``/``residuals`` over a batch, like ``suite.Problem``. Plain numpy, deterministic given
the render seeds.
"""

from __future__ import annotations

import numpy as np

from ..wire.space import ParamSpec, Space
from .suite import Problem, _residuals

SIZE = 32
TARGET_SEED = 1_000_003  # the target's own render noise (the batch runner's default target seed)
NOISE = 0.15  # per-pixel noise of the noisy variants (about a 16-spp Cycles render of a bright object)


class Drawing:
    """A render-like problem: ``draw`` makes clean (B, H, W, 3) images from parameter values (H×W =
    ``SHAPE``); this adds one noise image per render seed (common random numbers: same seed, same noise)."""

    SHAPE = (SIZE, SIZE)

    def __init__(self, space: Space, truth: np.ndarray, noise: float):
        self.space, self.noise = space, noise
        self.truth = np.asarray(truth, dtype=np.float64)
        h, w = self.SHAPE
        self.yy, self.xx = np.meshgrid(
            (np.arange(h, dtype=np.float32) + 0.5) / h, (np.arange(w, dtype=np.float32) + 0.5) / w, indexing="ij"
        )
        self.target_image = self.render(self.truth[None], np.array([TARGET_SEED]))[0]

    def draw(self, values: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def render(self, values, seeds=None) -> np.ndarray:
        images = self.draw(np.atleast_2d(np.asarray(values, dtype=np.float64)))
        if self.noise > 0:
            seeds = np.zeros(len(images), np.int64) if seeds is None else np.asarray(seeds)
            for i, s in enumerate(seeds):
                images[i] += self.noise * np.random.default_rng(int(s)).standard_normal(images.shape[1:]).astype(
                    np.float32
                )
        return images

    def loss(self, values, seeds=None) -> np.ndarray:
        diff = self.render(values, seeds) - self.target_image
        return (diff * diff).mean(axis=(1, 2, 3)).astype(np.float64)

    def residuals(self, values, seeds=None) -> np.ndarray:
        return _residuals(self.render(values, seeds), self.target_image)

    def disc(self, cx, cy, r) -> np.ndarray:
        """(B, SIZE, SIZE) hard-edged disc masks for (B,) centres and radii (image widths)."""
        cx, cy, r = (np.asarray(v, dtype=np.float32)[:, None, None] for v in (cx, cy, r))
        return ((self.xx[None] - cx) ** 2 + (self.yy[None] - cy) ** 2) < r * r


class PlateauDiscs(Drawing):
    """k discs of distinct colours on black, radius 0.12; parameters (x, y) per disc in [r, 1 - r]."""

    RADIUS = 0.12

    def __init__(self, count: int, noise: float, seed: int):
        rng = np.random.default_rng(seed)
        self.count, r = count, self.RADIUS
        self.colours = rng.uniform(0.3, 1.0, (count, 3)).astype(np.float32)
        # separate objects: no two targets overlap; every disc starts clear of every target and of the
        # other discs (nothing overlaps: each disc sits on its own plateau)
        targets = _scatter(rng, [], count, r)
        starts = _scatter(rng, list(targets), count, r)[len(targets) :]
        self.start = starts.reshape(-1)
        space = Space([ParamSpec(f"disc{k}", r, 1 - r, shape=(2,)) for k in range(count)])
        super().__init__(space, targets.reshape(-1), noise)

    def draw(self, values):
        c = values.reshape(len(values), self.count, 2)
        img = np.zeros((len(values), *self.SHAPE, 3), np.float32)
        for k in range(self.count):
            img += self.disc(c[:, k, 0], c[:, k, 1], np.full(len(values), self.RADIUS))[..., None] * self.colours[k]
        return np.minimum(img, 1.0)

    def error(self, x) -> float:
        """Largest centre distance from its target, in image widths."""
        values = self.space.from_unit(np.asarray(x))
        return float(np.linalg.norm((values - self.truth).reshape(self.count, 2), axis=1).max())


def _scatter(rng, placed: list, count: int, r: float) -> np.ndarray:
    """``placed`` + ``count`` new centres in [r, 1 - r]², each more than 2.4 r from all the others."""
    points = list(placed)
    while len(points) < len(placed) + count:
        candidate = rng.uniform(r, 1 - r, 2)
        if all(np.linalg.norm(candidate - q) > 2.4 * r for q in points):
            points.append(candidate)
    return np.array(points)


class LightPool(Drawing):
    """A spot light's round pool on a floor of colour RGB, nothing else lit: full light within 0.7 of
    its radius 0.25, fading smoothly to none at the rim (Blender's spot blend). Aim (x, y) in [-0.6, 1.6]
    image widths: the pool can leave the frame [0, 1]²."""

    RADIUS, BLEND = 0.25, 0.3

    def __init__(self, noise: float):
        space = Space([ParamSpec("aim", -0.6, 1.6, shape=(2,)), ParamSpec("floor_rgb", 0.0, 1.0, shape=(3,))])
        self.start = np.array([1.45, -0.45, 0.5, 0.5, 0.5])  # off-frame: the first image is black
        super().__init__(space, [0.35, 0.6, 0.85, 0.55, 0.25], noise)
        # The answer the target's image holds: its noise moves the least-squares floor colour (the best
        # any method can infer from it) up to ~0.025 from the truth, most of the error target. Errors
        # are measured to that colour; without noise it is the truth.
        lit = self.draw(np.r_[self.truth[:2], 1.0, 1.0, 1.0][None])[0, ..., 0].astype(np.float64)
        pixels = self.target_image.astype(np.float64)
        self.reference = self.truth.copy()
        if noise > 0:
            self.reference[2:] = np.einsum("hw,hwc->c", lit, pixels) / np.sum(lit * lit)

    def draw(self, values):
        cx, cy = (np.asarray(v, np.float32)[:, None, None] for v in (values[:, 0], values[:, 1]))
        r = np.sqrt((self.xx[None] - cx) ** 2 + (self.yy[None] - cy) ** 2) / self.RADIUS
        t = np.clip((1.0 - r) / self.BLEND, 0.0, 1.0)
        lit = t * t * (3.0 - 2.0 * t)  # smoothstep from the rim inwards
        return (lit[..., None] * values[:, None, None, 2:5]).astype(np.float32)

    def error(self, x) -> float:
        """max(aim distance in image widths, largest RGB difference to the colour the target holds)."""
        v = self.space.from_unit(np.asarray(x))
        return float(max(np.linalg.norm(v[:2] - self.truth[:2]), np.abs(v[2:] - self.reference[2:]).max()))


class OcclusionTrap(Drawing):
    """A red ball behind a grey wall (x < 0.3). Its depth t ∈ [0, 1] moves it across the view and
    scales it (x = 0.15 + 0.7 t, radius 0.09 + 0.05 t): near t = 0 the wall hides it."""

    def __init__(self, noise: float):
        space = Space([ParamSpec("depth", 0.0, 1.0)])
        self.start = np.array([0.3])
        super().__init__(space, [0.8], noise)

    def draw(self, values):
        t = values[:, 0]
        ball = self.disc(0.15 + 0.7 * t, np.full(len(t), 0.5), 0.09 + 0.05 * t)
        img = np.full((len(t), *self.SHAPE, 3), 0.05, np.float32)
        img[ball] = (0.9, 0.2, 0.15)
        img[:, :, self.xx[0] < 0.3] = 0.4  # the wall, in front of everything
        return img

    def error(self, x) -> float:
        """|Δdepth|."""
        return float(abs(self.space.from_unit(np.asarray(x))[0] - self.truth[0]))


class BarCountDrawing(Drawing):
    """A row of `count` bars (int in [0, 24]) of relative width `width` (float in [0.1, 0.9]), drawn
    4 pixels per slot."""

    SHAPE = (8, 96)

    def __init__(self, noise: float):
        space = Space([ParamSpec("count", 0, 24, kind="int"), ParamSpec("width", 0.1, 0.9)])
        self.start = np.array([3.0, 0.3])
        super().__init__(space, [17.0, 0.6], noise)

    def draw(self, values):
        # each pixel is a quarter of a slot; its value is the fraction of it a bar covers (a renderer's
        # pixel filter), so the width shows continuously while the count stays a step
        left = (np.arange(self.SHAPE[1]) % 4) / 4.0  # the pixel's start within its slot
        slot = np.arange(self.SHAPE[1]) // 4
        count, half = values[:, 0:1], values[:, 1:2] / 2
        covered = np.clip(np.minimum(left + 0.25, 0.5 + half) - np.maximum(left, 0.5 - half), 0.0, 0.25) / 0.25
        bars = np.where(slot[None] < count, covered, 0.0).astype(np.float32) * 0.8
        return np.repeat(np.broadcast_to(bars[:, None, :], (len(values), *self.SHAPE))[..., None], 3, axis=3).copy()

    def error(self, x) -> float:
        """|Δcount| + |Δwidth| (a wrong count is never within a width tolerance)."""
        v = self.space.from_unit(np.asarray(x))
        return float(abs(v[0] - self.truth[0]) + abs(v[1] - self.truth[1]))


def _problem(name: str, drawing: Drawing, target: float, budget: int, error_doc: str, description: str) -> Problem:
    noisy = drawing.noise > 0
    return Problem(
        name,
        drawing.space,
        drawing.loss,
        drawing.error,
        target,
        drawing.space.to_unit(drawing.start),
        budget,
        error_doc,
        noisy=noisy,
        description=description + (f", render noise σ={drawing.noise}" if noisy else ""),
        extra={"drawing": drawing},
        residuals=drawing.residuals,
    )


def trap_suite() -> dict:
    """name → maker of the trap problems (built on demand)."""
    makers = {}
    for prefix, noise in (("", 0.0), ("noisy_", NOISE)):
        for k in (1, 2, 3, 4):
            makers[f"{prefix}plateau_discs{k}"] = lambda k=k, noise=noise, prefix=prefix: _problem(
                f"{prefix}plateau_discs{k}",
                PlateauDiscs(k, noise, seed=200 + k),
                0.02,
                500 * k,
                "largest centre distance (image widths)",
                f"{k} hard-edged disc(s), none overlapping its target at the start",
            )
        makers[f"{prefix}light_pool"] = lambda noise=noise, prefix=prefix: _problem(
            f"{prefix}light_pool",
            LightPool(noise),
            0.03,
            600,
            "max(aim distance, RGB difference)",
            "spot light aimed off-frame (black start) + floor RGB; a misplaced pool is worse than none",
        )
        makers[f"{prefix}occlusion"] = lambda noise=noise, prefix=prefix: _problem(
            f"{prefix}occlusion",
            OcclusionTrap(noise),
            0.01,
            300,
            "|Δdepth|",
            "a ball's depth; hiding it behind the wall looks better than the start",
        )
        makers[f"{prefix}count"] = lambda noise=noise, prefix=prefix: _problem(
            f"{prefix}count",
            BarCountDrawing(noise),
            0.02,
            500,
            "|Δcount| + |Δwidth|",
            "integer count of bars (3 → 17) + their width",
        )
    return makers

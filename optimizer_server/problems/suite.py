"""Analytic black-box problems that behave like rendering, for the render-efficiency benchmark
(``benchmarks/bench_efficiency.py``, issue 6). Each problem is a loss over a batch of unit-cube
points plus an *error* that says how far a point is from the answer, and a target error.

Kinds of difficulty, as rendering produces them:
- plateaus from hard-edged image overlap (discs that do not touch their target: zero gradient);
- discrete parameters (LED panel bools, an integer count) rounded before "rendering";
- Monte-Carlo noise on the loss, seeded per sample (``seeds``), so common random numbers matter;
- many interlinked smooth parameters (texels seen through a blur).

Everything is plain numpy, vectorised over the batch, deterministic given the seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..evaluation import Evaluation
from ..wire.space import ParamSpec, Space
from . import plateau1d


@dataclass
class Problem:
    name: str
    space: Space
    """The parameters: kinds (discrete ones rounded before "rendering"), bounds, array layouts."""
    loss: Callable[..., np.ndarray]
    """(B, n) points in parameter units (``space.from_unit``: clipped, rounded) [, seeds=(B,)] → (B,) losses."""
    error: Callable[[np.ndarray], float]
    """(n,) unit-cube point → a scalar error (problem-specific units, stated in ``error_doc``)."""
    target: float
    """The run counts as solved when ``error(current) <= target``."""
    x0: np.ndarray
    budget: int
    """Evaluations the full benchmark grants (the quick profile scales this)."""
    error_doc: str = ""
    noisy: bool = False
    """True: the loss takes render seeds (``loss(x, seeds=...)``)."""
    description: str = ""
    extra: dict = field(default_factory=dict)
    residuals: Callable[..., np.ndarray] | None = None
    """(B, n) points [, seeds] → (B, P) residual vectors (image - target, scaled so their squares sum
    to the loss), for methods that use the rendered images (``gauss_newton``); None: losses only."""
    render: Callable[..., np.ndarray] | None = None
    """(B, n) points in parameter units [, seeds] → (B, H, W[, C]) images whose mean squared difference
    from ``target_image`` is the loss: what the analytic render worker returns (``disc_worker``)."""
    target_image: np.ndarray | None = None

    @property
    def n(self) -> int:
        return self.space.n

    @property
    def discrete(self) -> bool:
        return not self.space.continuous

    def evaluate(self, values: np.ndarray, seeds: np.ndarray, residuals: bool) -> Evaluation:
        """The problem as an evaluator of the one loop (``optimizer_server.evaluation``)."""
        extra = {"seeds": seeds} if self.noisy else {}
        return Evaluation(
            self.loss(values, **extra), self.residuals(values, **extra) if residuals and self.residuals else None
        )


def _clip(x) -> np.ndarray:
    return np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)


def _residuals(images: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(B, ...) images → (B, P) float32 residuals whose squares sum to the images' MSE."""
    diff = (images - target).reshape(len(images), -1)
    return (diff / np.sqrt(diff.shape[1])).astype(np.float32)


# --- plateau 1-D (the motivation in docs/methods.md) ---------------------------------------------
def plateau_1d() -> Problem:
    span = plateau1d.HI - plateau1d.LO

    def loss(x):
        return plateau1d.loss(plateau1d.LO + span * _clip(x)[:, 0])

    def error(x):
        return abs(plateau1d.LO + span * float(np.clip(x[0], 0, 1)) - plateau1d.OPTIMUM)

    return Problem(
        "plateau1d",
        Space.unit(1),
        loss,
        error,
        0.1,
        np.array([(plateau1d.START - plateau1d.LO) / span]),
        400,
        "|x - 6| on [0, 10]",
        description="1-D plateaus and a narrow valley (problems/plateau1d.py)",
    )


# --- hard-edged discs ------------------------------------------------------------------------
class DiscScene:
    """K hard-edged discs of distinct colours on a black image; loss = MSE against the target
    image. Centres live in [r, 1-r]² (whole discs in view); unit-cube x maps onto that box."""

    def __init__(self, count: int, size: int, radius: float, seed: int, noise: float = 0.0):
        rng = np.random.default_rng(seed)
        self.count, self.size, self.radius, self.noise = count, size, radius, noise
        centres = (np.arange(size, dtype=np.float32) + 0.5) / size
        self.yy, self.xx = np.meshgrid(centres, centres, indexing="ij")
        self.colours = rng.uniform(0.2, 1.0, (count, 3)).astype(np.float32)
        self.target_unit = rng.uniform(0.0, 1.0, (count, 2))
        if count == 1:  # the bench-core disc: target (0.7, 0.3), start (0.25, 0.75)
            self.target_unit = self.to_unit_centres(np.array([[0.7, 0.3]]))
            self.start_unit = self.to_unit_centres(np.array([[0.25, 0.75]]))
        else:  # each disc starts 1-2.5 radii away from its target: some overlap it, some are on a plateau
            angle = rng.uniform(0, 2 * np.pi, count)
            dist = rng.uniform(1.0, 2.5, count) * radius / (1 - 2 * radius)
            offset = np.stack([np.cos(angle), np.sin(angle)], 1) * dist[:, None]
            self.start_unit = np.clip(self.target_unit + offset, 0, 1)
        self.target_image = self.render(self.target_unit.reshape(1, -1))[0]

    def to_unit_centres(self, centres):
        return (centres - self.radius) / (1 - 2 * self.radius)

    def render(self, x) -> np.ndarray:
        """(B, 2K) unit-cube → (B, size, size, 3) images (additive colours, clipped at 1)."""
        c = self.radius + (1 - 2 * self.radius) * _clip(x).reshape(len(x), self.count, 2)
        img = np.zeros((len(x), self.size, self.size, 3), dtype=np.float32)
        r2 = self.radius * self.radius
        for k in range(self.count):
            inside = (
                (self.xx[None] - c[:, k, 0, None, None]) ** 2 + (self.yy[None] - c[:, k, 1, None, None]) ** 2
            ) < r2
            img += inside[..., None] * self.colours[k]
        return np.minimum(img, 1.0)

    def noisy_render(self, x, seeds: np.ndarray | None = None) -> np.ndarray:
        img = self.render(x)
        if self.noise > 0:  # Monte-Carlo-like pixel noise, one noise image per render seed
            for i, s in enumerate(np.asarray(seeds if seeds is not None else np.zeros(len(x), np.int64))):
                img[i] += self.noise * np.random.default_rng(int(s)).standard_normal(img.shape[1:]).astype(np.float32)
        return img

    def loss(self, x, seeds: np.ndarray | None = None) -> np.ndarray:
        diff = self.noisy_render(x, seeds) - self.target_image
        return (diff * diff).mean(axis=(1, 2, 3)).astype(np.float64)

    def residuals(self, x, seeds: np.ndarray | None = None) -> np.ndarray:
        return _residuals(self.noisy_render(x, seeds), self.target_image)

    def error(self, x) -> float:
        """Largest centre distance from its target, in image widths."""
        d = (np.clip(np.asarray(x).reshape(self.count, 2), 0, 1) - self.target_unit) * (1 - 2 * self.radius)
        return float(np.linalg.norm(d, axis=1).max())


def discs(
    count: int,
    size: int = 32,
    radius: float = 0.15,
    budget: int = 2000,
    noise: float = 0.0,
    target: float = 0.02,
    name: str | None = None,
) -> Problem:
    scene = DiscScene(count, size, radius, seed=100 + count, noise=noise)
    return Problem(
        name or f"discs{count}",
        Space.unit(2 * count),
        scene.loss,
        scene.error,
        target,
        scene.start_unit.reshape(-1),
        budget,
        "max centre distance (image widths)",
        noisy=noise > 0,
        description=f"{count} hard-edged disc(s), {size}² px" + (f", pixel noise σ={noise}" if noise else ""),
        extra={"scene": scene},
        residuals=scene.residuals,
        render=scene.noisy_render,
        target_image=scene.target_image,
    )


# --- LED panel (bools) -----------------------------------------------------------------------
class LEDPanel:
    """rows×cols LEDs (bools: x >= 0.5 is on), each a 3×3-pixel blob with a 1-pixel glow."""

    def __init__(self, rows: int, cols: int, seed: int):
        self.rows, self.cols = rows, cols
        self.target_bits = np.random.default_rng(seed).random(rows * cols) < 0.5
        blob = np.array([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]], dtype=np.float32)
        self.blob = np.pad(blob, 1) + 0.1 * np.pad(np.ones((3, 3), np.float32), 1)  # 5×5 with glow
        self.target_image = self.render(self.target_bits[None].astype(float))[0]

    def render(self, x) -> np.ndarray:
        bits = (_clip(x) >= 0.5).astype(np.float32).reshape(len(x), self.rows, self.cols)
        img = np.zeros((len(x), self.rows * 4 + 1, self.cols * 4 + 1), np.float32)
        for dy in range(5):  # overlapping 5×5 blobs on a 4-pixel pitch
            for dx in range(5):
                img[:, dy : dy + self.rows * 4 : 4, dx : dx + self.cols * 4 : 4] += bits * self.blob[dy, dx]
        return img

    def loss(self, x) -> np.ndarray:
        diff = self.render(x) - self.target_image
        return (diff * diff).mean(axis=(1, 2)).astype(np.float64)

    def residuals(self, x) -> np.ndarray:
        return _residuals(self.render(x), self.target_image)

    def error(self, x) -> float:
        """Fraction of LEDs in the wrong state."""
        return float(np.mean((np.asarray(x) >= 0.5) != self.target_bits))


def led(rows: int, cols: int, budget: int, target: float) -> Problem:
    panel = LEDPanel(rows, cols, seed=rows * cols)
    n = rows * cols
    return Problem(
        f"led{n}",
        Space([ParamSpec("leds", kind="bool", shape=(n,))]),
        panel.loss,
        panel.error,
        target,
        np.full(n, 0.25),
        budget,
        "fraction of LEDs wrong",
        description=f"{rows}×{cols} binary LED panel (bools, rounded)",
        extra={"panel": panel},
        residuals=panel.residuals,
        render=panel.render,
        target_image=panel.target_image,
    )


# --- integer count ----------------------------------------------------------------------------
class BarCount:
    """A row of `count` bars (int in [0, 24]) of relative width `width` (float in [0.1, 0.9])."""

    MAX = 24

    def __init__(self, count: int = 17, width: float = 0.6, pixels: int = 4 * 24):
        self.pixels = pixels
        self.target = np.array([count, width], float)
        self.target_image = self.render(self.target[None])[0]

    @staticmethod
    def to_unit(values):
        return np.array([values[0] / BarCount.MAX, (values[1] - 0.1) / 0.8])

    def values(self, x):
        x = _clip(x)
        return np.round(x[:, 0] * self.MAX), 0.1 + 0.8 * x[:, 1]

    def render(self, values) -> np.ndarray:
        """(B, 2) parameter values (count already whole, width) → (B, pixels) images."""
        count, width = values[:, 0], values[:, 1]
        pos = (np.arange(self.pixels) + 0.5) / self.pixels * self.MAX  # in slot units
        slot, frac = np.floor(pos), pos - np.floor(pos)
        return ((slot[None] < count[:, None]) & (np.abs(frac[None] - 0.5) < width[:, None] / 2)).astype(np.float32)

    def loss(self, values) -> np.ndarray:
        return ((self.render(values) - self.target_image) ** 2).mean(1).astype(np.float64)

    def residuals(self, values) -> np.ndarray:
        return _residuals(self.render(values), self.target_image)

    def error(self, x) -> float:
        """|Δcount| + |Δwidth| (a wrong count is never within a width tolerance)."""
        count, width = self.values(np.asarray(x)[None])
        return float(abs(count[0] - self.target[0]) + abs(width[0] - self.target[1]))


def bar_count(budget: int = 1000) -> Problem:
    task = BarCount()
    return Problem(
        "count",
        Space([ParamSpec("count", 0, BarCount.MAX, kind="int"), ParamSpec("width", 0.1, 0.9)]),
        task.loss,
        task.error,
        0.02,
        BarCount.to_unit(np.array([3, 0.3])),
        budget,
        "|Δcount| + |Δwidth|",
        description="integer bar count + bar width (int rounded)",
        extra={"task": task},
        residuals=task.residuals,
    )


# --- texels seen through a blur (smooth, interlinked, high-dimensional) ------------------------
class BlurredTexture:
    """side×side texels in [0, 1], seen through a Gaussian blur (σ in pixels, periodic, via FFT);
    loss = MSE of the blurred images. Every texel moves several pixels: interlinked parameters."""

    def __init__(self, side: int, blur: float, seed: int):
        self.side = side
        f = np.fft.fftfreq(side)
        self.kernel_hat = np.exp(-2 * (np.pi * blur) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
        rng = np.random.default_rng(seed)
        # a smooth-ish target (what textures look like) plus fine detail
        coarse = rng.random((side // 8 + 1, side // 8 + 1))
        up = np.kron(coarse, np.ones((8, 8)))[:side, :side]
        self.target = np.clip(0.7 * up + 0.3 * rng.random((side, side)), 0, 1)
        self.target_image = self.render(self.target.reshape(1, -1))[0]
        self.start_loss = float(self.loss(np.full((1, side * side), 0.5))[0])

    def render(self, x) -> np.ndarray:
        tex = _clip(x).reshape(len(x), self.side, self.side)
        return np.fft.irfft2(np.fft.rfft2(tex) * self.kernel_hat[:, : self.side // 2 + 1], s=(self.side, self.side))

    def loss(self, x) -> np.ndarray:
        return ((self.render(x) - self.target_image) ** 2).mean(axis=(1, 2))

    def residuals(self, x) -> np.ndarray:
        return _residuals(self.render(x), self.target_image)

    def error(self, x) -> float:
        """Loss relative to the flat grey start (image space: blurred-away detail is unobservable)."""
        return float(self.loss(np.asarray(x)[None])[0]) / self.start_loss


def texture(side: int, budget: int, blur: float = 1.5) -> Problem:
    tex = BlurredTexture(side, blur, seed=side)
    n = side * side
    return Problem(
        f"texture{n}",
        Space([ParamSpec("texels", 0.0, 1.0, shape=(side, side))]),
        tex.loss,
        tex.error,
        0.05,
        np.full(n, 0.5),
        budget,
        "loss / loss(start) (0.05 = the paper's 95 % reduction)",
        description=f"{side}×{side} texels through a Gaussian blur (σ={blur} px)",
        extra={"texture": tex},
        residuals=tex.residuals,
        render=tex.render,
        target_image=tex.target_image,
    )


def mesh(subdivisions: int, budget: int, steps: int = 8) -> Problem:
    """An icosphere's vertex offsets seen smoothed over neighbours (``sphere.BlurredMesh``): the mesh
    analogue of the blurred texture, for Gauss-Newton's probes along the mesh's edges."""
    from .sphere import BlurredMesh

    m = BlurredMesh(subdivisions, steps, seed=subdivisions)
    return Problem(
        f"mesh{m.vertices}",
        m.space(),
        m.loss,
        m.error,
        0.05,
        np.full(m.vertices, 0.5),
        budget,
        "loss / loss(start) (0.05 = the paper's 95 % reduction)",
        description=f"{m.vertices:,} vertex offsets of a sphere, each seen averaged over its neighbours",
        extra={"mesh": m},
        residuals=m.residuals,
    )


def suite() -> dict[str, Problem]:
    """The benchmark's problems by name (built on demand: the big texture allocates ~100 MB)."""
    makers = {
        "plateau1d": plateau_1d,
        "discs1": lambda: discs(1, budget=2000),
        "discs2": lambda: discs(2, budget=3000),
        "count": lambda: bar_count(1000),
        "noisy_disc": lambda: discs(1, budget=3000, noise=0.3, name="noisy_disc"),
        "discs20": lambda: discs(20, size=48, radius=0.08, budget=20000, target=0.03),
        "led64": lambda: led(8, 8, budget=4000, target=0.0),
        "led336": lambda: led(16, 21, budget=10000, target=0.01),
        "texture1024": lambda: texture(32, budget=10000),
        "texture4096": lambda: texture(64, budget=6000),  # these two place auto's ZeroGrads/PRDPT threshold
        "texture16384": lambda: texture(128, budget=6000),
        "texture65536": lambda: texture(256, budget=6000),
        "mesh642": lambda: mesh(3, budget=3000),
        "mesh2562": lambda: mesh(4, budget=6000),
    }
    return makers


__all__ = ["Problem", "suite", "discs", "led", "bar_count", "texture", "mesh", "plateau_1d"]

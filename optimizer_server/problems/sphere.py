"""A tessellated sphere in numpy (an icosphere: 10·4^s + 2 vertices), and a mesh problem for the
efficiency suite: vertex offsets seen the way a camera sees a surface, smoothed over neighbours.

The scene scripts build their MESH task from the same vertices (``scenes/highdim_kit.py``)."""

from __future__ import annotations

import numpy as np

from ..wire.space import ParamSpec, Space


def icosphere(subdivisions: int) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Unit-sphere vertices (10·4^s + 2 of them) and triangles, in a fixed order."""
    t = (1.0 + 5**0.5) / 2.0
    verts = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t)]
    verts += [(0, -1, -t), (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    faces = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2)]
    faces += [(10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5)]
    faces += [(2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    points = [np.array(v, dtype=np.float64) / np.linalg.norm(v) for v in verts]
    for _ in range(subdivisions):
        middle: dict[tuple[int, int], int] = {}
        split = []
        for a, b, c in faces:
            ab, bc, ca = (_midpoint(points, middle, i, j) for i, j in ((a, b), (b, c), (c, a)))
            split += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = split
    return np.array(points), faces


def _midpoint(points: list, middle: dict, a: int, b: int) -> int:
    """The index of the unit vector halfway between points a and b (made once per edge)."""
    key = (min(a, b), max(a, b))
    if key not in middle:
        m = points[a] + points[b]
        points.append(m / np.linalg.norm(m))
        middle[key] = len(points) - 1
    return middle[key]


def edges_of(faces) -> np.ndarray:
    """(E, 2) the distinct edges of triangles."""
    pairs = {tuple(sorted((f[i], f[(i + 1) % 3]))) for f in faces for i in range(3)}
    return np.array(sorted(pairs), dtype=np.int64)


class BlurredMesh:
    """Offsets of an icosphere's vertices in [0, 1], "rendered" as each vertex's offset averaged over its
    neighbourhood (``steps`` lazy Laplacian steps: what a pixel covering several vertices sees); loss =
    MSE of those images. The target is smooth bumps plus some per-vertex detail, like a sculpted shape."""

    def __init__(self, subdivisions: int, steps: int, seed: int):
        from scipy import sparse

        points, faces = icosphere(subdivisions)
        self.edges = edges_of(faces)
        v = len(points)
        a, b = self.edges[:, 0], self.edges[:, 1]
        adjacency = sparse.coo_matrix((np.ones(2 * len(a)), (np.r_[a, b], np.r_[b, a])), shape=(v, v)).tocsr()
        degree = np.asarray(adjacency.sum(axis=1)).ravel()
        self.step = 0.5 * sparse.identity(v) + sparse.diags(0.5 / degree) @ adjacency
        self.steps = steps
        rng = np.random.default_rng(seed)
        centres = rng.normal(size=(6, 3))
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        angle = np.arccos(np.clip(points @ centres.T, -1.0, 1.0))
        bumps = np.sum(rng.uniform(-0.3, 0.3, 6) * np.exp(-0.5 * (angle / 0.45) ** 2), axis=1)
        self.target = np.clip(0.5 + bumps + 0.05 * rng.standard_normal(v), 0.0, 1.0)
        self.target_image = self.render(self.target[None])[0]
        self.start_loss = float(self.loss(np.full((1, v), 0.5))[0])

    @property
    def vertices(self) -> int:
        return len(self.target)

    def render(self, x) -> np.ndarray:
        image = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0).T
        for _ in range(self.steps):
            image = self.step @ image
        return image.T

    def loss(self, x) -> np.ndarray:
        return ((self.render(x) - self.target_image) ** 2).mean(axis=1)

    def residuals(self, x) -> np.ndarray:
        return (self.render(x) - self.target_image) / np.sqrt(self.vertices)

    def error(self, x) -> float:
        return float(self.loss(np.asarray(x)[None])[0]) / self.start_loss

    def space(self) -> Space:
        return Space([ParamSpec("offsets", 0.0, 1.0, shape=(self.vertices,), edges=self.edges.reshape(-1))])

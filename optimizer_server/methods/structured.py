"""Perturbations that follow an array block's structure: smooth on an image's grid, smooth along a
mesh's edges, independent elsewhere.

A camera resolves a smooth change of a texture or a surface far better than per-texel or per-vertex
noise, so a method that perturbs blocks smoothly learns more per render (texture65536 and MESH:
docs/efficiency.md, docs/results-highdim.md). ``gauss_newton`` probes this way; PRDPT and ZeroGrads
sample this way with their ``smooth_samples`` option. Each smoothed block keeps unit variance per
element, so a method's σ means what it meant.
"""

from __future__ import annotations

import numpy as np
import torch

from ..wire.space import Space

# correlation lengths PRDPT's and ZeroGrads' `smooth_samples` use (gauss_newton's defaults)
GRID_LENGTH, GRAPH_LENGTH = 4.0, 4.0


def smooth_noise(rng: np.random.Generator, count: int, shape: tuple[int, ...], length: float) -> np.ndarray:
    """(count, H·W·C) Gaussian noise smoothed over the grid's two spatial axes (a Gaussian filter of
    σ = `length` cells, mirrored at the edges, by FFT) and scaled back to unit variance."""
    h, w = shape[:2]
    c = shape[2] if len(shape) == 3 else 1
    noise = rng.standard_normal((count, h, w, c))
    for axis, size in ((1, h), (2, w)):
        pad = min(int(np.ceil(3 * length)), size - 1)
        widths = [(0, 0)] * 4
        widths[axis] = (pad, pad)
        padded = np.pad(noise, widths, mode="reflect") if pad > 0 else noise
        freq = np.fft.rfftfreq(padded.shape[axis])
        gain = np.exp(-2.0 * (np.pi * length * freq) ** 2)
        gain = gain.reshape([-1 if d == axis else 1 for d in range(4)])
        filtered = np.fft.irfft(np.fft.rfft(padded, axis=axis) * gain, n=padded.shape[axis], axis=axis)
        noise = np.take(filtered, np.arange(pad, pad + size), axis=axis)
    noise = noise.reshape(count, -1)
    return noise / np.maximum(noise.std(axis=1, keepdims=True), 1e-12)


def graph_walk(graph):
    """The sparse step "each vertex moves halfway to its neighbours' mean" as V×V ``0.5·D⁻¹A`` (the
    other half is the vertex itself), from a ``layout.Graph``'s edges."""
    from scipy import sparse

    a, b = graph.edges[:, 0], graph.edges[:, 1]
    v = graph.vertices
    adjacency = sparse.coo_matrix((np.ones(2 * len(a)), (np.r_[a, b], np.r_[b, a])), shape=(v, v)).tocsr()
    adjacency.data[:] = 1.0  # an edge listed twice counts once
    degree = np.maximum(np.asarray(adjacency.sum(axis=1)).ravel(), 1.0)
    return sparse.diags(0.5 / degree) @ adjacency


def graph_noise(rng: np.random.Generator, count: int, graph, length: float, walk=None) -> np.ndarray:
    """(count, V·C) Gaussian noise smoothed along a mesh's edges: 2·`length`² lazy Laplacian steps
    (``graph_walk``; the spread grows by about one edge per two steps), each channel on its own, scaled
    back to unit variance."""
    walk = graph_walk(graph) if walk is None else walk
    v, c = graph.vertices, graph.channels
    noise = rng.standard_normal((v, count * c))
    for _ in range(int(np.ceil(2.0 * length**2))):
        noise = 0.5 * noise + walk @ noise
    noise = noise.reshape(v, count, c).transpose(1, 0, 2).reshape(count, v * c)
    return noise / np.maximum(noise.std(axis=1, keepdims=True), 1e-12)


class StructuredNoise:
    """Standard normal rows over a space, its image blocks (``Space.grids``) smoothed over σ =
    `grid_length` texels and its mesh blocks (``Space.graphs``) over about `graph_length` edges; a length
    of 0 leaves that kind of block white."""

    def __init__(self, space: Space, grid_length: float, graph_length: float):
        self.n = space.n
        self.grid_length, self.graph_length = grid_length, graph_length
        self.grids = space.grids if grid_length > 0 else []
        self.graphs = space.graphs if graph_length > 0 else []
        self.walks = [graph_walk(g) for g in self.graphs]

    @property
    def structured(self) -> np.ndarray:
        """(n,) bool: the entries drawn smooth."""
        mask = np.zeros(self.n, dtype=bool)
        for block in (*self.grids, *self.graphs):
            mask[block.offset : block.offset + block.size] = True
        return mask

    def draw(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """(count, n) float64 noise with unit variance per entry."""
        eps = rng.standard_normal((count, self.n))
        for grid in self.grids:
            eps[:, grid.offset : grid.offset + grid.size] = smooth_noise(rng, count, grid.shape, self.grid_length)
        for graph, walk in zip(self.graphs, self.walks):
            eps[:, graph.offset : graph.offset + graph.size] = graph_noise(rng, count, graph, self.graph_length, walk)
        return eps


def structured_normal(noise: StructuredNoise | None, count: int, n: int, gen: torch.Generator, device) -> torch.Tensor:
    """(count, n) float32 standard normal noise from a torch generator; with ``noise`` (a StructuredNoise
    with smooth blocks) drawn by a numpy generator seeded from ``gen``, so that the torch generator's
    saved state still replays the run."""
    if noise is None:
        return torch.randn((count, n), generator=gen, device=device)
    seed = int(torch.randint(0, 2**62, (1,), generator=gen, device=device).item())
    return torch.as_tensor(noise.draw(np.random.default_rng(seed), count), dtype=torch.float32, device=device)


def block_noise(space: Space, on: bool) -> StructuredNoise | None:
    """The StructuredNoise of PRDPT's and ZeroGrads' ``smooth_samples`` (None: off, or no blocks)."""
    if not on or not (space.grids or space.graphs):
        return None
    return StructuredNoise(space, GRID_LENGTH, GRAPH_LENGTH)

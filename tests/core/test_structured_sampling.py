"""PRDPT's and ZeroGrads' `smooth_samples`: perturbations smooth on an image grid and along a mesh's
edges, unit variance per entry, white elsewhere; a run replays from its saved state (real numpy/torch,
no mocks)."""

import numpy as np
import pytest

from optimizer_server import Space
from optimizer_server.methods import create_method
from optimizer_server.methods.structured import smooth_noise
from optimizer_server.wire.space import ParamSpec

SIDE = 32


def image_space():
    return Space([ParamSpec("light", 0.0, 5.0), ParamSpec("texture", 0.0, 1.0, shape=(SIDE, SIDE))])


def neighbour_correlation(offsets):
    texels = offsets[:, 1:].reshape(-1, SIDE, SIDE)
    return np.corrcoef(texels[:, :, :-1].ravel(), texels[:, :, 1:].ravel())[0, 1]


# ZeroGrads without its inner kernel noise (white, `inner_ratio`·σ), so the points are the samples
@pytest.mark.parametrize("method, extra", [("prdpt", {}), ("zerograds", {"smooth": False})])
def test_smooth_samples_follow_the_grid_and_keep_sigma(method, extra):
    sigma = 0.05
    smooth = create_method(
        method, image_space(), budget=400, seed=0, samples=64, sigma=sigma, smooth_samples=True, **extra
    )
    offsets = smooth.ask().x - 0.5
    assert neighbour_correlation(offsets) > 0.9
    assert np.std(offsets[:, 1:]) == pytest.approx(sigma, rel=0.1)  # σ means what it meant
    assert abs(np.corrcoef(offsets[:, 0], offsets[:, 1])[0, 1]) < 0.5  # the scalar is drawn on its own
    white = create_method(method, image_space(), budget=400, seed=0, samples=64, sigma=sigma)
    assert abs(neighbour_correlation(white.ask().x - 0.5)) < 0.1  # the default stays the paper's


def test_smooth_samples_along_a_mesh_follow_its_edges():
    from optimizer_server.problems.sphere import edges_of, icosphere

    points, faces = icosphere(2)
    edges = edges_of(faces)
    space = Space([ParamSpec("shape", -0.1, 0.1, shape=(len(points),), edges=edges.reshape(-1))])
    m = create_method("prdpt", space, budget=400, seed=0, samples=64, sigma=0.05, smooth_samples=True)
    offsets = m.ask().x - 0.5
    assert np.corrcoef(offsets[:, edges[:, 0]].ravel(), offsets[:, edges[:, 1]].ravel())[0, 1] > 0.8


def test_prdpt_with_smooth_samples_estimates_the_smoothed_gradient_of_a_linear_loss():
    """f(x) = w·x: with τ ~ N(0, σ²C) on the block the estimate's mean is C w, the slope smoothed on
    the grid; it points downhill (positive projection on w) and follows w's smooth part."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal(1 + SIDE * SIDE)
    m = create_method("prdpt", image_space(), budget=10_000, seed=1, samples=4000, sigma=0.05, smooth_samples=True)
    batch = m.ask()
    g = m.gradient_estimate(batch.x @ w)
    assert g[1:] @ w[1:] > 0 and g[0] * w[0] > 0
    # the smoothed slope: C w estimated from the same kind of noise (C = E[ε εᵀ])
    eps = smooth_noise(np.random.default_rng(0), 4000, (SIDE, SIDE), 4.0)
    cw = eps.T @ (eps @ w[1:]) / len(eps)
    assert np.corrcoef(g[1:], cw)[0, 1] > 0.6


@pytest.mark.parametrize("method", ["prdpt", "zerograds"])
def test_a_run_with_smooth_samples_replays_from_its_saved_state(method):
    from optimizer_server.state_io import dumps_state, loads_state

    def make():
        return create_method(method, image_space(), budget=64, seed=4, samples=8, sigma=0.05, smooth_samples=True)

    def loss(x):
        return ((x - 0.3) ** 2).sum(1)

    straight, first = make(), make()
    for m in (straight, first):
        batch = m.ask()
        m.tell(batch, loss(batch.x))
    resumed = make()
    resumed.load_state_dict(loads_state(dumps_state(first.state_dict())))
    np.testing.assert_array_equal(straight.ask().x, resumed.ask().x)

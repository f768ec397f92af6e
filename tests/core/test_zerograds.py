"""ZeroGrads' surrogate learns the local gradient of a known function."""

import numpy as np
import pytest

from optimizer_server.methods import create_method

CENTRE = np.array([0.2, 0.7, 0.4])
WEIGHTS = np.array([1.0, 3.0, 2.0])


def quadratic(x):
    return (WEIGHTS * (np.asarray(x) - CENTRE) ** 2).sum(-1)


@pytest.mark.parametrize("surrogate", ["mlp", "quadratic"])
def test_fitted_surrogate_reproduces_the_local_gradient(surrogate):
    theta = np.array([0.5, 0.5, 0.5])
    # lr = tiny: θ stays put while the surrogate is fitted on many batches around it
    m = create_method(
        "zerograds",
        3,
        budget=10**6,
        seed=0,
        x0=theta,
        lr=1e-9,
        samples=16,
        sigma=0.1,
        surrogate=surrogate,
        surrogate_lr=0.01,
        surrogate_steps=5,
    )
    for _ in range(400):
        b = m.ask()
        m.tell(b, quadratic(b.x))
    learned = m.surrogate_gradient().double().numpy()
    truth = 2 * WEIGHTS * (theta - CENTRE)
    cosine = learned @ truth / np.linalg.norm(learned) / np.linalg.norm(truth)
    assert cosine > 0.98
    np.testing.assert_allclose(np.linalg.norm(learned), np.linalg.norm(truth), rtol=0.2)


def test_auto_surrogate_grows_with_dimension():
    small = create_method("zerograds", 10, budget=10)
    large = create_method("zerograds", 60, budget=10)
    assert small.surrogate.encoding is None and len(small.surrogate.net) == 7  # 3 hidden layers
    assert large.surrogate.encoding is not None and len(large.surrogate.net) == 17  # 8 hidden layers


def test_ablations_change_the_sampling():
    theta = np.full(2, 0.5)
    local = create_method("zerograds", 2, budget=10**4, x0=theta, sigma=0.05, samples=200).ask().x
    nolocal = create_method("zerograds", 2, budget=10**4, x0=theta, sigma=0.05, samples=200, preset="nolocal").ask().x
    assert np.abs(local - 0.5).max() < 0.3 and np.abs(nolocal - 0.5).max() > 0.4
    # antithetic outer offsets: without inner smoothing the pairs are exact mirrors around θ
    nosmooth = create_method("zerograds", 2, budget=10**4, x0=theta, samples=10, preset="nosmooth").ask().x
    np.testing.assert_allclose(nosmooth[:5] + nosmooth[5:], 1.0)
    smooth = create_method("zerograds", 2, budget=10**4, x0=theta, samples=10).ask().x
    assert not np.allclose(smooth[:5] + smooth[5:], 1.0)


def test_auto_surrogate_turns_lean_where_the_encoded_mlp_is_memory_bound():
    assert type(create_method("zerograds", 999, budget=10).surrogate).__name__ == "MLPSurrogate"
    lean = create_method("zerograds", 1000, budget=10)
    assert type(lean.surrogate).__name__ == "LeanSurrogate"
    paper = create_method("zerograds", 1000, budget=10, preset="paper")
    assert paper.surrogate.encoding is not None  # the paper's 8×128 + positional encoding, as published

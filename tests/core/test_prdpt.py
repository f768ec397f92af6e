"""PRDPT's estimator against closed forms (thesis Eq. 4.10 with importance and antithetic sampling)."""

import math

import numpy as np
import pytest

from optimizer_server.methods import create_method
from optimizer_server.methods.prdpt import annealed_sigma

A = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.4], [0.0, -0.4, 3.0]])
B = np.array([0.3, -0.2, 0.1])
THETA = np.array([0.35, 0.6, 0.5])


def quadratic(x):
    x = np.asarray(x)
    return 0.5 * np.einsum("bi,ij,bj->b", x, A, x) + x @ B


def smoothed_quadratic_gradient(theta):
    # Gaussian smoothing only adds a constant (0.5·σ²·tr A) to a quadratic: the gradient is unchanged
    return A @ theta + B


@pytest.mark.parametrize("importance_sampling", [True, False])
def test_estimate_averaged_over_many_draws_matches_the_closed_form(importance_sampling):
    m = create_method(
        "prdpt",
        3,
        budget=10**6,
        seed=0,
        x0=THETA,
        samples=400_000,
        sigma=0.3,
        importance_sampling=importance_sampling,
    )
    batch = m.ask()
    estimate = m.gradient_estimate(quadratic(batch.x))
    np.testing.assert_allclose(estimate, smoothed_quadratic_gradient(THETA), atol=0.01)


def single_pair_estimates(antithetic, offset=0.0, draws=1500):
    out = []
    for seed in range(draws):
        m = create_method("prdpt", 3, budget=100, seed=seed, x0=THETA, samples=2, sigma=0.3, antithetic=antithetic)
        out.append(m.gradient_estimate(quadratic(m.ask().x) + offset))
    return np.array(out)


def test_antithetic_pairs_lower_the_variance():
    with_pairs = single_pair_estimates(True)
    without = single_pair_estimates(False)
    truth = smoothed_quadratic_gradient(THETA)
    # both unbiased (within 5 standard errors) ...
    for est in (with_pairs, without):
        se = est.std(0) / math.sqrt(len(est))
        assert np.all(np.abs(est.mean(0) - truth) < 5 * se + 1e-9)
    # ... but pairing cancels the loss's even part: lower variance in every dimension (measured ~0.4×) ...
    assert np.all(with_pairs.var(0) < 0.7 * without.var(0))
    # ... and a constant in the loss (e.g. a background that never matches) costs pairs nothing
    np.testing.assert_allclose(single_pair_estimates(True, offset=5.0, draws=300), with_pairs[:300], atol=1e-4)
    assert np.all(single_pair_estimates(False, offset=5.0, draws=300).var(0) > 10 * without.var(0))


def test_sampled_offsets_follow_the_importance_density():
    sigma = 0.2
    m = create_method("prdpt", 4, budget=10**6, seed=1, x0=np.full(4, 0.5), samples=40_000, sigma=sigma)
    tau = (m.ask().x[:20_000] - 0.5).ravel()  # θ + τ half of the antithetic batch
    r = np.sort(np.abs(tau))
    # |τ| has the Rayleigh CDF F(r) = 1 - exp(-r²/2σ²): Kolmogorov-Smirnov at α = 0.001
    cdf = 1.0 - np.exp(-(r**2) / (2 * sigma**2))
    n = len(r)
    ks = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    assert ks < 1.95 / math.sqrt(n)
    # and signs are independent and fair per dimension
    signs = np.sign(m.ask().x[:20_000] - 0.5)
    assert np.all(np.abs(signs.mean(0)) < 0.03)
    assert abs(np.corrcoef(signs[:, 0], signs[:, 1])[0, 1]) < 0.03


def test_sigma_schedule_holds_then_decays_linearly_to_sigma_min():
    sig = [annealed_sigma(0.5, 0.01, i, 100, 0.5) for i in range(100)]
    assert sig[0] == sig[50] == 0.5
    assert sig[-1] == pytest.approx(0.01)
    steps = np.diff(sig[51:])
    np.testing.assert_allclose(steps, steps[0])
    for anneal, last_sigma in ((True, 0.01), (False, 0.5)):
        m = create_method("prdpt", 3, budget=200, samples=2, anneal=anneal)
        sigmas = []
        while not m.done:
            sigmas.append(m.sigma)
            b = m.ask()
            m.tell(b, quadratic(b.x))
        assert len(sigmas) == 100 and sigmas[-1] == pytest.approx(last_sigma)

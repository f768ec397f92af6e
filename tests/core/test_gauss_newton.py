"""gauss_newton: derivative-free Gauss-Newton on residual images (real numpy problems, no mocks)."""

import numpy as np
import pytest

from optimizer_server import Space
from optimizer_server.driver import minimize
from optimizer_server.methods import Capabilities, create_method
from optimizer_server.problems.suite import texture
from optimizer_server.wire.errors import ConfigError, TellError
from optimizer_server.wire.space import ParamSpec

IMAGES = Capabilities(residuals=True)  # the caller passes each render's residual image


def gauss_newton(space, **options):
    return create_method("gauss_newton", space, capabilities=IMAGES, **options)


def run(method, residual_fn, budget, after_tell=None):
    while not method.done:
        batch = method.ask()
        r = residual_fn(batch.x)
        method.tell(batch, (r * r).sum(1), r)
        if after_tell is not None:
            after_tell(method, batch)
    return method


def test_a_linear_least_squares_problem_is_solved_exactly():
    """With more probe directions than parameters the fitted Jacobian is exact: steps land on x*."""
    rng = np.random.default_rng(0)
    jac = rng.standard_normal((40, 12))
    x_star = rng.uniform(0.2, 0.8, 12)
    m = gauss_newton(12, budget=120, seed=0, samples=8)
    run(m, lambda x: (x - x_star) @ jac.T, 120)
    assert np.abs(m.current - x_star).max() < 1e-6


def test_a_blurred_texture_is_fitted_from_its_images_in_few_renders():
    """16×16 texels through a blur (the efficiency suite's texture problem, smaller): 95 % of the loss
    gone within 200 renders on every seed (measured 60-100; ZeroGrads' efficient preset, which sees
    only the losses, needs 280-780 and CMA-ES does not get there in 1,000). Per-texel probes here; the
    texture's grid probes are faster still (below)."""
    problem = texture(16, budget=200)
    for seed in range(3):
        m = create_method(
            "gauss_newton:white_probes", problem.space, budget=200, seed=seed, x0=problem.x0, capabilities=IMAGES
        )
        errors = []
        run(m, problem.residuals, 200, lambda m, b, errors=errors: errors.append(problem.error(m.current)))
        assert min(errors) <= problem.target, f"seed {seed}: best error {min(errors):.3f}"


def test_noisy_renders_probe_at_a_seed_of_their_own_and_theta_is_rendered_again_beside_the_candidate():
    """Noisy renders: the probes share a seed that is not the candidate's, since a step computed from a
    residual whose noise moved with the probes fits that noise (MESH stalled at 0.0084 radii,
    docs/results-highdim.md). From the second batch on, θ is rendered again at the candidate's seed;
    while candidates lose, θ's residual is the mean of its renders, not the draw that won it its place.
    A deterministic f is recognised by θ's second render coming back bit-identical: from then on one
    seed per batch and no θ row (as with noise="exact" from the start)."""
    rng = np.random.default_rng(0)
    jac = rng.standard_normal((40, 12))
    x_star = rng.uniform(0.2, 0.8, 12)

    def residuals(x, seeds, noise):
        r = (x - x_star) @ jac.T
        return r + noise * np.array([np.random.default_rng(int(s)).standard_normal(40) for s in seeds])

    m = gauss_newton(12, budget=200, seed=0, samples=8)
    first = m.ask()
    assert first.seeds[0] != first.seeds[1] and len(set(first.seeds[1:].tolist())) == 1
    r1 = residuals(first.x, first.seeds, 0.01)
    m.tell(first, (r1 * r1).sum(1), r1)
    second = m.ask()
    assert np.array_equal(second.x[1], m.current) and not np.array_equal(second.x[0], m.current)
    assert second.seeds[0] == second.seeds[1] != second.seeds[2] and len(set(second.seeds[2:].tolist())) == 1
    r2 = residuals(second.x, second.seeds, 0.01)
    r2[0] += 100.0  # the candidate renders far worse: rejected
    m.tell(second, (r2 * r2).sum(1), r2)
    assert np.array_equal(m.current, first.x[0]) and np.allclose(m.r, (r1[0] + r2[1]) / 2)
    third = m.ask()  # the noise showed: batches of noisy_samples from now on
    assert m.noisy and np.array_equal(third.x[1], m.current) and len(third) == 40

    exact = gauss_newton(12, budget=200, seed=0, samples=8)
    for _ in range(2):
        batch = exact.ask()
        r = residuals(batch.x, batch.seeds, 0.0)
        exact.tell(batch, (r * r).sum(1), r)
    assert not exact.noisy and len(exact.ask()) == 8  # θ came back bit-identical under another seed
    for m in (exact, gauss_newton(12, budget=200, seed=0, samples=8, noise="exact")):
        for _ in range(2):
            batch = m.ask()
            assert len(set(batch.seeds.tolist())) == 1
            assert not any(np.array_equal(x, m.current) for x in batch.x[1:])
            r = residuals(batch.x, batch.seeds, 0.0)
            m.tell(batch, (r * r).sum(1), r)


def test_a_noisy_run_whose_trust_radius_collapses_restarts_it_and_a_deterministic_one_does_not():
    """Under render noise the ratio test of tiny steps measures noise: the radius shrinks until nothing
    moves (MESH seed 0 stopped at 0.0061 radii, docs/results-highdim.md). A noisy run sets a radius that
    fell below `restart_below` back to `restart_radius` and keeps θ and the model; a deterministic one
    keeps shrinking (there a collapsed radius means a converged or misfitted model)."""
    rng = np.random.default_rng(0)
    jac = rng.standard_normal((40, 12))
    x_star = rng.uniform(0.2, 0.8, 12)

    def rejected_steps(noise, **options):
        m = gauss_newton(12, budget=400, seed=0, samples=8, **options)
        radii = []
        for _ in range(8):
            batch = m.ask()
            r = (batch.x - x_star) @ jac.T
            r = r + noise * np.array([np.random.default_rng(int(s)).standard_normal(40) for s in batch.seeds])
            if m.r is not None:
                r[0] += 100.0  # every candidate after the first renders far worse: the radius shrinks ×0.25
            m.tell(batch, (r * r).sum(1), r)
            radii.append(m.radius)
        return m, radii

    noisy, radii = rejected_steps(0.01)
    assert len(noisy.ask()) == 40  # the noise showed: batches of noisy_samples
    assert noisy.restarts >= 1 and min(radii) >= 0.001 and 0.02 in radii
    state = noisy.state_dict()
    resumed = gauss_newton(12, budget=400, seed=0, samples=8)
    resumed.load_state_dict(state)
    assert resumed.restarts == noisy.restarts and resumed.radius == noisy.radius
    exact, radii = rejected_steps(0.0)
    assert exact.restarts == 0 and min(radii) < 0.001
    never, radii = rejected_steps(0.01, restart_below=0.0)
    assert never.restarts == 0 and min(radii) < 0.001
    with pytest.raises(ConfigError, match="restart_radius"):
        gauss_newton(12, budget=400, restart_below=0.05, restart_radius=0.02)


def test_a_noisy_run_spends_its_whole_budget_when_the_last_batch_is_smaller():
    """Batches of 40 from the third on: a budget of 100 leaves 20 for the last one, which runs as a smaller
    batch instead of being left unused."""
    rng = np.random.default_rng(1)
    jac = rng.standard_normal((30, 6))

    def residuals(x, seeds):
        return x @ jac.T + 0.01 * np.array([np.random.default_rng(int(s)).standard_normal(30) for s in seeds])

    m = gauss_newton(6, budget=100, seed=0)
    sizes = []
    while not m.done:
        batch = m.ask()
        r = residuals(batch.x, batch.seeds)
        m.tell(batch, (r * r).sum(1), r)
        sizes.append(len(batch))
    assert sizes == [20, 20, 40, 20] and m.evaluations == 100


def test_the_accepted_point_never_gets_worse_and_stays_in_the_cube():
    """A nonlinear residual (the linear model is wrong away from θ): the trust region rejects steps
    that render worse, so the loss at `current` only falls; every asked point lies in the unit cube."""
    target = np.sin(6.0 * np.linspace(0.1, 0.9, 30))

    def residuals(x):
        return np.sin(6.0 * np.repeat(x, 10, axis=1)) - target

    losses = []

    def check(m, batch):
        assert np.all((batch.x >= 0) & (batch.x <= 1))
        losses.append(float(m.r @ m.r))

    m = gauss_newton(3, budget=300, seed=1, samples=6, x0=[0.9, 0.1, 0.5], radius=0.4)
    run(m, residuals, 300, check)
    assert all(b <= a for a, b in zip(losses, losses[1:]))
    assert losses[-1] < 0.5 * losses[0]


def test_minimize_passes_residuals_and_names_the_missing_form():
    space = Space([ParamSpec(f"t{i}", 0.0, 2.0) for i in range(6)])
    goal = np.linspace(0.3, 1.7, 6)
    result = minimize(lambda v: v - goal, space, method="gauss_newton", budget=60, samples=6, residuals=True)
    assert np.abs(result.x - goal).max() < 1e-3 and result.loss < 1e-6
    with pytest.raises(ConfigError, match="residual image"):  # without the capability: refused up front
        minimize(lambda v: ((v - goal) ** 2).sum(1), space, method="gauss_newton", budget=60, samples=6)
    with pytest.raises(TellError, match="residual vector per row"):  # promised, then not given
        minimize(lambda v: ((v - goal) ** 2).sum(1), space, method="gauss_newton", budget=60, residuals=True)


@pytest.mark.parametrize(
    "n, kind, residuals, chosen",
    [
        (5, "float", True, "blockwise"),
        (200, "float", True, "gauss_newton"),
        (200, "bool", True, "zerograds"),  # bools: the LED panel is solved by ZeroGrads, not by the pixel model
        (200, "float", False, "zerograds"),
        (5000, "float", False, "prdpt"),
    ],
)
def test_auto_picks_gauss_newton_only_with_residuals_and_continuous_parameters(n, kind, residuals, chosen):
    space = Space([ParamSpec("p", 0.0, 1.0, kind=kind, shape=(n,))])
    m = create_method("auto", space, budget=400, capabilities=Capabilities(residuals=residuals))
    # gauss_newton needs the images; blockwise uses them when they come (Gauss-Newton steps per block)
    assert m.chosen == chosen and m.wants_residuals == (chosen in ("gauss_newton", "blockwise") and residuals)
    # the renders get the inner method's seeds (gauss_newton's probes have one of their own)
    assert np.array_equal(m.ask().seeds, m.inner.ask().seeds)


# --- probes on an image grid ------------------------------------------------------------------
def test_grid_probes_are_smooth_on_the_grid_and_the_other_parameters_are_not():
    """A 32×32×2 image parameter and three scalars: neighbouring texels of one channel move together,
    the two channels and the three parameters after the grid independently."""
    space = Space(
        [ParamSpec("texture", 0.0, 1.0, shape=(32, 32, 2))] + [ParamSpec(f"s{i}", 0.0, 1.0) for i in range(3)]
    )
    m = gauss_newton(space, budget=400, seed=0, samples=40, sigma=0.05)
    offsets = m.ask().x[1:] - 0.5  # from the grey start no probe reaches a bound: nothing mirrored
    texels = offsets[:, :2048].reshape(-1, 32, 32, 2)

    def corr(a, b):
        return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])

    assert corr(texels[:, :, :-1], texels[:, :, 1:]) > 0.9  # horizontal neighbours
    assert corr(texels[:, :-1], texels[:, 1:]) > 0.9  # vertical neighbours
    assert abs(corr(texels[..., 0], texels[..., 1])) < 0.2  # channels
    assert np.std(texels) == pytest.approx(0.05, rel=0.05)  # sigma per texel, as without a grid
    rest = offsets[:, 2048:]
    assert abs(corr(rest[:, 0], rest[:, 1])) < 0.4 and np.std(rest) == pytest.approx(0.05, rel=0.3)


def test_smooth_noise_has_unit_variance_and_the_asked_correlation_length():
    from optimizer_server.methods.gauss_newton import smooth_noise

    noise = smooth_noise(np.random.default_rng(0), 50, (64, 64), 4.0).reshape(50, 64, 64)
    assert np.allclose(noise.std(axis=(1, 2)), 1.0)
    # a Gaussian filter of σ = L gives neighbours at distance d the correlation exp(-d² / (4L²))
    for d in (2, 8):
        measured = np.corrcoef(noise[:, :, :-d].ravel(), noise[:, :, d:].ravel())[0, 1]
        assert measured == pytest.approx(np.exp(-d * d / 64.0), abs=0.1)


@pytest.mark.parametrize(
    "shape, message",
    [
        ((256, 0), "positive whole numbers"),
        ((2, 2, 2, 2), "positive whole numbers"),
        (("a", 16), "positive whole numbers"),
        ((16.0, 16), "positive whole numbers"),
    ],
)
def test_a_wrong_image_shape_is_refused_with_what_to_write(shape, message):
    with pytest.raises(ConfigError, match=message):
        ParamSpec("texture", 0.0, 1.0, shape=shape)


def test_auto_hands_the_image_layout_to_gauss_newton_and_a_block_reaches_it_at_its_offset():
    space = Space([ParamSpec("light", 0.0, 5.0), ParamSpec("texture", 0.0, 1.0, shape=(64, 64))])
    m = create_method("auto", space, budget=400, capabilities=IMAGES)
    assert m.chosen == "gauss_newton" and [(g.offset, g.shape) for g in m.inner.noise.grids] == [(1, (64, 64))]
    offsets = m.ask().x[1:] - 0.5
    texels = offsets[:, 1:].reshape(-1, 64, 64)
    assert np.corrcoef(texels[:, :, :-1].ravel(), texels[:, :, 1:].ravel())[0, 1] > 0.9


# --- probes along a mesh ------------------------------------------------------------------------
def test_mesh_probes_are_smooth_along_the_edges_and_a_grid_like_shape_is_not_taken_for_an_image():
    """A (V, 3) mesh block is not an image grid: its probes follow the edges, each of x, y, z on its own."""
    from optimizer_server.problems.sphere import edges_of, icosphere

    points, faces = icosphere(3)
    edges = edges_of(faces)
    space = Space([ParamSpec("shape", -0.1, 0.1, shape=(len(points), 3), edges=edges.reshape(-1))])
    assert space.grids == [] and [g.name for g in space.graphs] == ["shape"]
    m = gauss_newton(space, budget=400, seed=0, samples=40, sigma=0.05)
    offsets = (m.ask().x[1:] - 0.5).reshape(39, len(points), 3)
    a, b = edges[:, 0], edges[:, 1]
    along_edges = np.corrcoef(offsets[:, a].ravel(), offsets[:, b].ravel())[0, 1]
    assert along_edges > 0.9 and abs(np.corrcoef(offsets[..., 0].ravel(), offsets[..., 1].ravel())[0, 1]) < 0.2
    assert np.std(offsets) == pytest.approx(0.05, rel=0.05)
    white = gauss_newton(space, budget=400, seed=0, samples=40, sigma=0.05, smooth_probes=False)
    white_offsets = (white.ask().x[1:] - 0.5).reshape(39, len(points), 3)
    assert abs(np.corrcoef(white_offsets[:, a].ravel(), white_offsets[:, b].ravel())[0, 1]) < 0.1


def test_a_blurred_mesh_is_fitted_in_fewer_renders_with_probes_along_its_edges():
    """The mesh analogue of the blurred texture (vertex offsets seen averaged over neighbours):
    probes smoothed along the edges get further than white ones with the same renders."""
    from optimizer_server.problems.suite import mesh

    problem = mesh(3, budget=400)
    errors = {}
    for smooth in (True, False):
        m = gauss_newton(problem.space, budget=400, seed=1, x0=problem.x0, smooth_probes=smooth)
        while not m.done:
            batch = m.ask()
            values = problem.space.from_unit(batch.x)
            m.tell(batch, problem.loss(values), problem.residuals(values))
        errors[smooth] = problem.error(m.current)
    assert errors[True] < 0.5 * errors[False], errors


# --- the large model (n >= 2,000) ---------------------------------------------------------------
def test_the_krylov_model_keeps_an_orthonormal_basis_and_the_exact_responses():
    """A linear image formation J: after thousands of probes, some repeating the span, the basis is
    orthonormal, each basis row's image is J applied to it, H = UUᵀ, and repeats added no row."""
    from optimizer_server.methods.residual_models import KrylovModel

    rng = np.random.default_rng(1)
    n, pixels = 3000, 400
    jac = rng.standard_normal((pixels, n)).astype(np.float32) / np.sqrt(n)
    model = KrylovModel(n, capacity=1000, pixels=pixels)
    for _ in range(30):
        offsets = rng.standard_normal((20, n)).astype(np.float32)
        if model.count:  # two probes that are combinations of the kept basis: nothing new in them
            offsets[:2] = rng.standard_normal((2, model.count)).astype(np.float32) @ model.offsets
        model.add(offsets, offsets @ jac.T)
    q, u = model.offsets.astype(np.float64), model.responses.astype(np.float64)
    assert model.count == 20 + 29 * 18
    assert np.abs(q @ q.T - np.eye(model.count)).max() < 1e-4
    assert np.abs(u - q @ jac.T.astype(np.float64)).max() < 1e-3 * np.abs(u).max()
    np.testing.assert_allclose(model.h[: model.count, : model.count], u @ u.T, atol=1e-3 * np.abs(u @ u.T).max())


def test_a_texture_with_thousands_of_texels_is_fitted_with_grid_probes():
    """48×48 texels (the large model): with grid probes 95 % of the loss is gone within 300 renders on
    every seed (measured 100-120 on 5 seeds; per-texel probes need 500-560)."""
    problem = texture(48, budget=300)
    for seed in range(2):
        m = gauss_newton(problem.space, budget=300, seed=seed, x0=problem.x0)
        assert m.model_kind == "krylov"
        errors = []
        run(m, problem.residuals, 300, lambda m, b, errors=errors: errors.append(problem.error(m.current)))
        assert min(errors) <= problem.target, f"seed {seed}: best error {min(errors):.3f}"


def test_the_large_model_resumes_bit_for_bit_across_a_full_memory():
    """memory=60 with 20 renders per iteration: the older half is dropped every couple of iterations;
    a run saved and resumed in the middle asks exactly what the uninterrupted one does."""
    from optimizer_server.state_io import dumps_state, loads_state

    from .helpers import assert_trees_equal

    problem = texture(48, budget=400)

    def make():
        return gauss_newton(problem.space, budget=400, seed=2, x0=problem.x0, memory=60)

    def steps(m, count):
        asked = []
        for _ in range(count):
            b = m.ask()
            asked.append(b.x.copy())
            r = problem.residuals(b.x)
            m.tell(b, (r.astype(np.float64) ** 2).sum(1), r)
        return asked

    straight = make()
    full = steps(straight, 8)
    first = make()
    head = steps(first, 4)
    assert first.model.count <= 60
    resumed = make()
    resumed.load_state_dict(loads_state(dumps_state(first.state_dict())))
    tail = steps(resumed, 4)
    for a, b in zip(full, head + tail):
        np.testing.assert_array_equal(a, b)
    assert_trees_equal(straight.state_dict(), resumed.state_dict())

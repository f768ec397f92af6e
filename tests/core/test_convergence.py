"""The methods solve plateau problems no finite difference can (the papers' core claim), on
analytic tasks with hard edges. Budgets and options are stated here; all runs are seeded."""

import numpy as np
import pytest

from optimizer_server import minimize
from optimizer_server.problems import plateau1d
from optimizer_server.problems.disc import DiscTask


@pytest.mark.parametrize(
    "method, budget, options",
    [
        ("prdpt", 400, {}),  # the paper's defaults: σ0 = 0.5, N = 2
        ("zerograds:disc", 1200, {}),
    ],
)
@pytest.mark.slow
def test_1d_plateau_toy_reaches_the_global_minimum(method, budget, options):
    space = plateau1d.space()
    assert plateau1d.loss([plateau1d.START - 0.5, plateau1d.START + 0.5]).tolist() == [1.0, 1.0]  # on a plateau
    for seed in range(5):
        result = minimize(
            plateau1d.loss, space, method=method, budget=budget, seed=seed, x0=[plateau1d.START], **options
        )
        assert abs(result.x[0] - plateau1d.OPTIMUM) < 0.15, f"seed {seed}: ended at {result.x[0]:.3f}"
        assert result.loss < 0.06 and result.evaluations <= budget


@pytest.mark.parametrize(
    "method, budget, options",
    [
        ("prdpt:disc", 1200, {}),
        ("zerograds:disc", 3000, {}),  # 2,000 left 2 of 5 seeds short on one CPU model, 5 of 5 at 3,000
    ],
)
@pytest.mark.slow
def test_disc_position_from_a_non_overlapping_start(method, budget, options):
    task = DiscTask(size=32)
    start, target = np.array(task.start_centre), np.array(task.target_centre)
    assert np.linalg.norm(start - target) > 2 * task.radius  # the discs do not overlap at the start
    errors = []
    for seed in range(5):
        result = minimize(task.loss, task.space, method=method, budget=budget, seed=seed, x0=start, **options)
        assert result.evaluations <= budget
        errors.append(float(task.parameter_error(result.x)[0]))
    assert sum(e < 0.02 for e in errors) >= 4, f"parameter errors {np.round(errors, 4)}"


def test_finite_differences_stay_on_the_disc_plateau():
    task = DiscTask(size=32)
    start = np.array(task.start_centre)
    result = minimize(task.loss, task.space, method="fd", budget=400, seed=0, x0=start, eps=1e-3, lr=0.01)
    assert np.linalg.norm(result.x - start) < 0.02  # no gradient on the plateau: it does not move
    assert task.parameter_error(result.x)[0] > 0.5
    # while the loss really does vary off the plateau: the target is findable
    assert task.loss([task.target_centre])[0] == 0.0 < task.loss([start])[0]

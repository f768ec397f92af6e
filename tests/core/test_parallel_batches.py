"""Methods told how many renders can run at once (``set_parallel``, issue 17): with one worker nothing
changes; with k workers the methods that can use more samples ask for whole rounds over them, and the
count in effect is part of the saved state (a resumed run continues bit for bit)."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer_server.evaluation import Loop
from optimizer_server.methods import Capabilities, create_method
from optimizer_server.methods.rounds import rounds_batch
from optimizer_server.problems.suite import discs

SCALING = ["blockwise", "gauss_newton", "zerograds:efficient", "prdpt", "auto"]


def _run(method: str, parallel: int, budget: int = 160, fill: bool = True, stop_after: int | None = None, state=None):
    problem = discs(2, size=16)
    m = create_method(
        method,
        problem.space,
        budget=budget,
        seed=4,
        x0=problem.x0,
        capabilities=Capabilities(residuals=True, parallel=parallel),
        fill_workers=fill,
    )
    if state is not None:
        m.load_state_dict(state)
    loop, sizes = Loop(m, problem.space), []
    while not m.done and (stop_after is None or m.iteration < stop_after):
        m.set_parallel(parallel)
        pending = loop.ask()
        sizes.append(len(pending.values))
        loop.tell(pending, problem.evaluate(pending.values, pending.seeds, m.wants_residuals))
    return m, sizes


def test_rounds_batch_fills_the_last_round():
    assert rounds_batch(20, 1) == 20  # one worker: the method's own batch
    assert rounds_batch(20, 16) == 32 and rounds_batch(20, 8) == 24 and rounds_batch(20, 4) == 20
    assert rounds_batch(2, 16, multiple=2) == 16 and rounds_batch(20, 3, multiple=2) == 24
    assert rounds_batch(20, 16, nearest=True) == 16 and rounds_batch(20, 8, nearest=True) == 24
    assert rounds_batch(20, 16, left=10, least=2) == 10  # the end of the budget: what is left


@pytest.mark.parametrize("method", SCALING + ["cmaes"])
def test_one_worker_runs_exactly_as_with_the_setting_off(method):
    on, sizes_on = _run(method, parallel=1)
    off, sizes_off = _run(method, parallel=1, fill=False)
    assert sizes_on == sizes_off
    np.testing.assert_array_equal(on.current, off.current)
    assert on.best_loss == off.best_loss


@pytest.mark.parametrize("method", SCALING)
def test_sixteen_workers_get_whole_rounds_of_sixteen(method):
    _, own = _run(method, parallel=1, budget=400)
    m, sizes = _run(method, parallel=16, budget=400)
    full = sizes[:-1] if m.evaluations == 400 else sizes  # the last batch may be cut to the budget
    assert all(size % 16 == 0 for size in full), sizes
    assert max(sizes) >= 16 and (min(own) < 16 or sizes != own)


def test_cmaes_takes_its_population_from_the_count_at_creation():
    m, sizes = _run("cmaes", parallel=16)
    assert set(sizes) == {16}


@pytest.mark.parametrize("method", SCALING)
def test_a_run_with_workers_resumes_bit_for_bit(method):
    whole, _ = _run(method, parallel=8)
    first, _ = _run(method, parallel=8, stop_after=3)
    first.set_parallel(8)
    first.ask()  # the checkpoint holds a pending batch, as a server's does
    resumed, _ = _run(method, parallel=8, state=first.state_dict())
    assert resumed.parallel == 8 and resumed.evaluations == whole.evaluations
    np.testing.assert_array_equal(resumed.current, whole.current)


def test_blockwise_replans_its_next_batch_when_the_worker_count_changes():
    problem = discs(2, size=16)
    m = create_method("blockwise", problem.space, budget=400, seed=1, x0=problem.x0)
    loop = Loop(m, problem.space)
    for _ in range(2):
        pending = loop.ask()
        loop.tell(pending, problem.evaluate(pending.values, pending.seeds, False))
    natural = m.batch_size
    m.set_parallel(16)
    assert m.batch_size % 16 == 0 and m.batch_size >= natural
    m.set_parallel(1)  # and back: the very plan it had
    assert m.batch_size == natural

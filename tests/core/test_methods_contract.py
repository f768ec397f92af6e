"""Every registered method obeys the ask/tell contract (parametrised over the whole registry)."""

import dataclasses

import numpy as np
import pytest

from optimizer_server.methods import (
    FEATURED,
    Capabilities,
    available_methods,
    configurations,
    create_method,
    describe_methods,
)
from optimizer_server.methods.base import option_groups
from optimizer_server.methods.registry import register
from optimizer_server.state_io import dumps_state, loads_state
from optimizer_server.wire.errors import ConfigError, StateError, TellError, UnknownMethodError, ZeroGradsError

from .helpers import assert_trees_equal, quadratic, quadratic_residuals, tell_quadratic

METHODS = available_methods()
CONFIGURATIONS = sorted(configurations())
IMAGES = Capabilities(residuals=True)  # as a server job: every method can run


def test_registry_lists_the_promised_methods_with_descriptions():
    assert {"prdpt", "zerograds", "fd", "spsa", "cmaes", "nevergrad"} <= set(METHODS)
    described = describe_methods()
    for name in METHODS:
        assert described[name]["description"]
        # every option is documented (its docstring becomes CLI/UI help)
        for option, info in described[name]["options"].items():
            assert info["doc"], f"{name}.{option} has no docstring"


def test_configurations_are_named_described_and_their_options_grouped():
    configs = configurations()
    assert set(METHODS) <= set(configs) and set(FEATURED) <= set(configs)
    assert {"zerograds:efficient", "zerograds:paper", "prdpt:cup"} <= set(configs)
    for name, config in configs.items():
        assert config.description, f"{name} has no description"
        assert name == config.method if config.preset is None else name == f"{config.method}:{config.preset}"
    for name in METHODS:
        options_cls = type(create_method(name, 2, budget=10, capabilities=IMAGES).options)
        fields = {f.name for f in dataclasses.fields(options_cls)}
        groups = option_groups(options_cls)
        assert set(groups) == fields, f"{name}: options without a group {fields - set(groups)}"
        assert set(options_cls.BASIC) <= fields
        assert set(groups.values()) <= {"sampling", "surrogate", "step"}


def test_a_configuration_name_is_a_method_and_a_preset():
    m = create_method("prdpt:occlusion", 1, budget=100, lr=0.5)
    assert m.options.sigma == 0.8 and m.options.lr == 0.5
    with pytest.raises(ConfigError, match="no preset 'cupp'"):
        create_method("prdpt:cupp", 1, budget=100)
    with pytest.raises(ConfigError, match="names preset"):
        create_method("prdpt:cup", 1, budget=100, preset="occlusion")


def test_a_method_that_needs_the_images_says_so_when_it_cannot_have_them():
    with pytest.raises(ConfigError, match="residual image"):
        create_method("gauss_newton", 3, budget=100)


def test_registry_refuses_duplicates():
    cls = type(create_method("spsa", 2, budget=10))
    Clone = type("Clone", (cls,), {"name": "spsa", "description": "a clone"})
    with pytest.raises(ConfigError, match="already registered"):
        register(Clone)


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_every_configuration_runs_two_iterations_on_a_tiny_problem(name):
    m = create_method(name, 3, budget=100, seed=0, capabilities=IMAGES)
    rendered = 0
    for it in range(2):
        batch = m.ask()
        assert batch.x.shape[1] == 3 and len(batch.seeds) == len(batch.x) and batch.iteration == it
        assert m.ask() is batch  # asking again before tell gives the same batch
        assert len(batch) == m.batch_size  # announced before it is asked (the budget check needs it)
        tell_quadratic(m, batch)
        rendered += len(batch)
    assert m.iteration == 2 and m.evaluations == rendered
    assert m.current.shape == (3,) and np.all((m.current >= 0) & (m.current <= 1))
    assert np.isfinite(m.best_loss)


@pytest.mark.parametrize("name", METHODS)
def test_state_dict_resume_equals_uninterrupted_run(name):
    def run(m, iterations):
        trace = []
        for _ in range(iterations):
            b = m.ask()
            trace.append(b.x.copy())
            tell_quadratic(m, b)
        return trace

    straight = create_method(name, 4, budget=400, seed=3, capabilities=IMAGES)
    full = run(straight, 6)

    first = create_method(name, 4, budget=400, seed=3, capabilities=IMAGES)
    head = run(first, 3)
    first.ask()  # a pending batch is part of the state too
    saved = dumps_state(first.state_dict())  # through the on-disk format, no pickle
    resumed = create_method(name, 4, budget=400, seed=3, capabilities=IMAGES)
    resumed.load_state_dict(loads_state(saved))
    tail = run(resumed, 3)

    for a, b in zip(full, head + tail):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(straight.current, resumed.current)
    assert_trees_equal(straight.state_dict(), resumed.state_dict())


@pytest.mark.parametrize("name", METHODS)
def test_bad_tells_raise_and_leave_state_unchanged(name):
    m = create_method(name, 3, budget=100, seed=1, capabilities=IMAGES)
    with pytest.raises(TellError, match="without a pending ask"):
        m.tell(np.zeros((2, 3)), np.zeros(2))
    batch = m.ask()
    before = m.state_dict()
    good = quadratic(batch.x)
    bad_cases = [
        (batch, np.where(np.arange(len(good)) == 0, np.nan, good), "finite"),
        (batch, np.where(np.arange(len(good)) == 0, np.inf, good), "finite"),
        (batch, good[:-1], "expected"),
        (batch, np.stack([good, good]), "expected"),
        (batch.x[:, :2], good, "not the pending batch"),
        (batch.x + 0.01, good, "not the pending batch"),
    ]
    residuals = quadratic_residuals(batch.x) if m.wants_residuals else None
    for points, losses, message in bad_cases:
        with pytest.raises(TellError, match=message) as info:
            m.tell(points, losses, residuals)
        assert isinstance(info.value, ValueError) and isinstance(info.value, ZeroGradsError)
        assert_trees_equal(before, m.state_dict())
    if m.wants_residuals:  # the residual vectors are checked as carefully as the losses
        for bad, message in (
            (None, "needs each sample's residual vector"),
            (residuals[:-1], "expected residuals"),
            (residuals[:, 0], "expected residuals"),
            (np.where(np.arange(len(good))[:, None] == 0, np.nan, residuals), "finite"),
        ):
            with pytest.raises(TellError, match=message):
                m.tell(batch, good, bad)
            assert_trees_equal(before, m.state_dict())
    m.tell(batch, good, residuals)  # and the correct tell still works afterwards
    assert m.iteration == 1


def test_unknown_methods_options_and_presets_are_named():
    listed = "auto, blockwise, cmaes, fd, gauss_newton, nevergrad, optuna, prdpt, spsa, zerograds"
    with pytest.raises(UnknownMethodError, match=f"unknown method 'adam'; available: {listed}"):
        create_method("adam", 2, budget=10)
    with pytest.raises(ConfigError, match="unknown option\\(s\\) \\['sigmaa'\\] for method 'prdpt'"):
        create_method("prdpt", 2, budget=10, sigmaa=0.1)
    with pytest.raises(ConfigError, match="must be a finite number"):
        create_method("prdpt", 2, budget=10, sigma="big")
    with pytest.raises(ConfigError, match="even"):
        create_method("zerograds", 2, budget=10, samples=3)
    with pytest.raises(ConfigError, match="no preset 'cupp'"):
        create_method("prdpt", 2, budget=10, preset="cupp")
    with pytest.raises(ConfigError, match="x0 must lie in the unit cube"):
        create_method("prdpt", 2, budget=10, x0=[0.5, 1.5])


def test_presets_apply_and_explicit_options_win():
    m = create_method("prdpt", 1, budget=100, preset="occlusion", lr=0.5)
    assert m.options.sigma == 0.8 and m.options.samples == 2 and m.options.lr == 0.5
    nonn = create_method("zerograds", 2, budget=100, preset="nonn")
    assert type(nonn.surrogate).__name__ == "QuadraticSurrogate"


def test_budget_is_respected():
    m = create_method("prdpt", 2, budget=9, samples=4)
    while not m.done:
        b = m.ask()
        m.tell(b, quadratic(b.x))
    assert m.evaluations == 8
    with pytest.raises(TellError, match="budget"):
        m.ask()


def test_common_random_numbers_share_one_seed_per_iteration():
    crn = create_method("prdpt", 2, budget=100, samples=4)
    b0 = crn.ask()
    assert len(set(b0.seeds.tolist())) == 1
    crn.tell(b0, quadratic(b0.x))
    assert crn.ask().seeds[0] != b0.seeds[0]  # a new iteration gets a new seed
    indep = create_method("prdpt", 2, budget=100, samples=4, common_random_numbers=False)
    assert len(set(indep.ask().seeds.tolist())) == 4


def test_a_state_needs_the_same_options_but_options_added_since_take_their_defaults():
    saved = create_method("prdpt", 2, budget=100, seed=0, lr=0.05).state_dict()
    with pytest.raises(StateError, match="saved with options"):
        create_method("prdpt", 2, budget=100, seed=0, lr=0.01).load_state_dict(saved)
    older = dict(saved, options={k: v for k, v in saved["options"].items() if k != "antithetic"})
    create_method("prdpt", 2, budget=100, seed=0, lr=0.05).load_state_dict(older)  # default antithetic
    with pytest.raises(StateError, match="saved with options"):  # but not if the new one is set otherwise
        create_method("prdpt", 2, budget=100, seed=0, lr=0.05, antithetic=False).load_state_dict(older)

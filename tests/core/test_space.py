import math

import numpy as np
import pytest

from optimizer_server import ConfigError, ParamSpec, Space, ZeroGradsError


def mixed_space():
    return Space(
        [
            ParamSpec("x", -2.0, 2.0),
            ParamSpec("count", 1, 9, kind="int"),
            ParamSpec("on", kind="bool"),
            ParamSpec("mode", kind="enum", choices=["a", "b", "c"]),
        ]
    )


def test_unit_roundtrip_for_floats_and_bounds():
    s = mixed_space()
    values = np.array([0.5, 5.0, 1.0, 2.0])
    x = s.to_unit(values)
    np.testing.assert_allclose(x, [0.625, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(s.from_unit(x), values)


def test_discrete_kinds_are_rounded_and_values_clipped_to_bounds():
    s = mixed_space()
    out = s.from_unit(np.array([[1.7, 0.49, 0.49, 0.26], [-0.3, 0.51, 0.51, 0.24]]))
    np.testing.assert_allclose(out, [[2.0, 5.0, 0.0, 1.0], [-2.0, 5.0, 1.0, 0.0]])
    assert s.named(out[0]) == {"x": 2.0, "count": 5, "on": False, "mode": "b"}
    assert s.named(out[1]) == {"x": -2.0, "count": 5, "on": True, "mode": "a"}


def test_relaxed_discrete_start_values_are_accepted():
    s = mixed_space()
    x = s.to_unit([0.0, 4.6, 0.3, 1.2])
    np.testing.assert_allclose(s.from_unit(x), [0.0, 5.0, 0.0, 1.0])


def test_values_from_named_and_dict_roundtrip():
    s = mixed_space()
    v = s.values_from_named({"x": 1.0, "count": 3, "on": True, "mode": "c"})
    np.testing.assert_allclose(v, [1.0, 3.0, 1.0, 2.0])
    assert Space.from_dict(s.to_dict()) == s
    with pytest.raises(ConfigError, match="missing \\['mode'\\]"):
        s.values_from_named({"x": 1.0, "count": 3, "on": True})
    with pytest.raises(ConfigError, match="not one of"):
        s.values_from_named({"x": 1.0, "count": 3, "on": True, "mode": "z"})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="a", lo=1.0, hi=1.0), "lo < hi"),
        (dict(name="a", lo=2.0, hi=1.0), "lo < hi"),
        (dict(name="a", lo=0.0, hi=math.inf), "finite"),
        (dict(name="a", lo=math.nan, hi=1.0), "finite"),
        (dict(name="a", lo=0.0, hi=1.0, kind="complex"), "kind"),
        (dict(name="", lo=0.0, hi=1.0), "non-empty"),
        (dict(name="a", lo=0.5, hi=3, kind="int"), "whole numbers"),
        (dict(name="a", kind="enum", choices=["only"]), "at least two"),
        (dict(name="a", kind="enum", choices=["x", "x"]), "distinct"),
        (dict(name="a", lo=0.0, hi=1.0, choices=["x", "y"]), "only for kind 'enum'"),
        (dict(name="a", lo="0", hi=1.0), "must be a number"),
        (dict(name="a"), "needs both"),
    ],
)
def test_bad_specs_are_rejected_clearly(kwargs, message):
    with pytest.raises(ConfigError, match=message) as info:
        ParamSpec(**kwargs)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ZeroGradsError)


def test_bad_spaces_are_rejected_clearly():
    with pytest.raises(ConfigError, match="at least one"):
        Space([])
    with pytest.raises(ConfigError, match="duplicate parameter names \\['a'\\]"):
        Space([ParamSpec("a", 0, 1), ParamSpec("a", 0, 2)])
    with pytest.raises(ConfigError, match="last dimension 4"):
        mixed_space().from_unit(np.zeros(3))
    with pytest.raises(ConfigError, match="unknown keys"):
        ParamSpec.from_dict({"name": "a", "lo": 0, "hi": 1, "colour": "red"})


def test_resolution_is_the_unit_spacing_of_discrete_values():
    """What samplers use to keep a discrete parameter's spread above one value step."""
    np.testing.assert_allclose(mixed_space().resolution, [0.0, 1 / 8, 1.0, 1 / 2])


# --- array blocks: a mesh's vertices, brief summaries of big blocks ------------------------------------
def test_a_mesh_block_carries_its_edges_through_the_wire_form():
    edges = [(0, 1), (1, 2), (2, 0), (2, 3)]
    space = Space([ParamSpec("shape", -0.1, 0.1, shape=(4,), edges=edges), ParamSpec("texture", 0, 1, shape=(2, 2, 3))])
    assert [g.name for g in space.graphs] == ["shape"] and [g.name for g in space.grids] == ["texture"]
    np.testing.assert_array_equal(space.graphs[0].edges, edges)
    assert space.to_dict()["params"][0]["edges"] == [0, 1, 1, 2, 2, 0, 2, 3]
    again = Space.from_dict(space.to_dict())
    assert again == space and again.graphs[0].channels == 1 and again.graphs[0].vertices == 4


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(shape=(4,), edges=[(0, 4)]), "lie in 0..3"),
        (dict(shape=(4,), edges=[0, 1, 2]), "pairs"),
        (dict(shape=(4,), edges=[(1, 1)]), "to itself"),
        (dict(shape=(4, 2), edges=[(0, 1)]), "shape \\(V,\\)"),
        (dict(shape=(4,), edges=[(0, 1)], kind="int"), "float values"),
        (dict(shape=(4,), edges="0-1"), "vertex indices"),
    ],
)
def test_bad_mesh_blocks_are_refused_naming_the_problem(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ParamSpec("shape", 0, 1, **kwargs)


def test_big_blocks_are_named_briefly_and_expand_back_from_the_vector():
    from optimizer_server.wire import layout

    space = Space(
        [ParamSpec("gain", 0, 2), ParamSpec("texture", 0, 1, shape=(16, 16, 3)), ParamSpec("v", 0, 1, shape=(3,))]
    )
    values = np.random.default_rng(0).random(space.n)
    brief = space.named_brief(values)
    assert space.has_big_blocks and not Space([ParamSpec("v", 0, 1, shape=(3,))]).has_big_blocks
    assert brief["gain"] == values[0] and brief["v"] == values[-3:].tolist()  # small ones as named() gives them
    assert brief["texture"] == {
        "shape": [16, 16, 3],
        "offset": 1,
        "min": values[1:-3].min(),
        "max": values[1:-3].max(),
        "mean": pytest.approx(values[1:-3].mean()),
    }
    back = layout.expand(brief, values)
    np.testing.assert_array_equal(back["texture"], values[1:-3].reshape(16, 16, 3))
    np.testing.assert_array_equal(space.values_from_named(back), values)
    with pytest.raises(ConfigError, match="too few"):
        layout.expand(brief, values[:100])

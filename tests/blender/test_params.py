"""Resolving data paths against a real scene, kind detection, bounds, atomic writes."""

import math

import pytest
import scene_kit

from blender_addon import lookup, params
from blender_addon.datapath import DataPathError
from optimizer_server.wire.paramref import ParamRef


@pytest.fixture()
def scene():
    return scene_kit.build_kinds_scene()


@pytest.mark.parametrize(
    "path, index, kind, bounds",
    [
        ('objects["Ball"].location', 0, "float", (-2.8, 0.0)),  # unbounded: value ± max(1, |v|)
        ('objects["Ball"].rotation_euler[2]', -1, "float", (-math.pi, math.pi)),  # angles: ± 180°
        ('lights["Lamp"].energy', -1, "float", (0.0, 1600.0)),
        (
            'materials["BallMat"].node_tree.nodes["Principled BSDF"].inputs["Roughness"].default_value',
            -1,
            "float",
            (0.0, 1.0),
        ),
        ('objects["Row"].modifiers["GeometryNodes"]["Socket_1"]', -1, "int", (1.0, 8.0)),  # the socket's soft limits
        ('objects["Box"].modifiers["Array"].count', -1, "int", None),
        ('objects["Ball"]["size"]', -1, "float", (0.0, 2.0)),
        ('objects["Box"].hide_render', -1, "bool", (0.0, 1.0)),
        ('lights["Lamp"].type', -1, "enum", (0.0, 3.0)),
        ('objects["Drop"].rigid_body.restitution', -1, "float", (0.0, 1.0)),
    ],
)
def test_kinds_and_default_bounds(scene, path, index, kind, bounds):
    b = params.resolve(path, index)
    assert b.kind == kind
    lo, hi = b.default_bounds()
    assert lo < hi
    if bounds is not None:
        assert (lo, hi) == pytest.approx(bounds)
    assert lo <= b.read() <= hi


def test_enum_choices_and_rounding(scene):
    b = params.resolve('lights["Lamp"].type')
    assert b.choices == ["POINT", "SUN", "SPOT", "AREA"]
    params.apply_values([b], [1.6])  # relaxed value → nearest choice
    assert bpy_light_type() == "SPOT"
    spec = params.spec_for(ParamRef("lamp_type", b.path), b)
    assert spec.to_dict() == {"name": "lamp_type", "kind": "enum", "lo": 0.0, "hi": 3.0, "choices": b.choices}


def bpy_light_type():
    import bpy

    return bpy.data.lights["Lamp"].type


def test_trailing_index_and_separate_index_agree(scene):
    assert params.resolve('objects["Ball"].location[2]').index == 2
    assert params.resolve('objects["Ball"].location', 2).index == 2
    with pytest.raises(DataPathError, match="give one of them"):
        params.resolve('objects["Ball"].location[2]', 1)


@pytest.mark.parametrize(
    "path, index, message",
    [
        ('objects["Bal"].location', 0, "no item named 'Bal'; did you mean 'Ball'"),
        ('objects["Ball"].locaton', 0, "no property 'locaton'; did you mean 'location'"),
        ('objects["Ball"].location', -1, "is an array of 3 values; give an index 0…2"),
        ('objects["Ball"].location', 3, "index 3 is out of range 0…2"),
        ('objects["Ball"].name', -1, "is a string property"),
        ('objects["Ball"].data', -1, "is a pointer property"),
        ('objects["Ball"]["nope"]', -1, "no custom property 'nope'"),
        ('objects["Ball"].matrix_world', 0, "4×4 matrix"),
        ('objects["Ball"].dimensions', 0, None),  # writable float array: fine
        ('scenes["Scene"].render.engine', -1, "dynamic enum"),
        ('objects["Box"].modifiers[5].count', -1, "has 1 items, index 5 is out of range"),
        ('objects["Ball"].location.x', -1, "use the path 'objects[\"Ball\"].location' with index 0"),
    ],
)
def test_unresolvable_paths_say_why(scene, path, index, message):
    if message is None:
        params.resolve(path, index)
        return
    with pytest.raises(DataPathError) as info:
        params.resolve(path, index)
    assert message in str(info.value)


def test_resolve_all_reports_every_bad_parameter(scene):
    with pytest.raises(DataPathError) as info:
        params.resolve_all(
            [
                ParamRef("a", 'objects["Nope"].location', 0),
                ParamRef("b", 'lights["Lamp"].energy'),
                ParamRef("c", 'lights["Lamp"].energi'),
            ]
        )
    text = str(info.value)
    assert "parameter 'a'" in text and "parameter 'c'" in text and "parameter 'b'" not in text


def test_apply_is_all_or_nothing(scene):
    import bpy

    ball = bpy.data.objects["Ball"]
    bindings = params.resolve_all(
        [
            ParamRef("x", 'objects["Ball"].location', 0),
            ParamRef("n", 'objects["Box"].modifiers["Array"].count'),
        ]
    )
    before = params.read_values(bindings)
    with pytest.raises(ValueError, match="range"):
        params.apply_values(bindings, [0.25, 1e12])  # the second write fails inside Blender
    assert params.read_values(bindings) == before
    assert ball.location[0] == pytest.approx(-1.4)
    with pytest.raises(DataPathError, match="non-finite"):
        params.apply_values(bindings, [float("nan"), 2])
    with pytest.raises(DataPathError, match="2 parameters"):
        params.apply_values(bindings, [1.0])
    assert params.read_values(bindings) == before


def test_writes_round_discrete_kinds(scene):
    bindings = params.resolve_all(
        [
            ParamRef("n", 'objects["Box"].modifiers["Array"].count'),
            ParamRef("h", 'objects["Box"].hide_render'),
            ParamRef("g", 'objects["Row"].modifiers["GeometryNodes"]["Socket_1"]'),
        ]
    )
    params.apply_values(bindings, [2.5, 0.7, 4.49])
    import bpy

    box = bpy.data.objects["Box"]
    assert box.modifiers["Array"].count == 3 and box.hide_render is True
    assert bpy.data.objects["Row"].modifiers["GeometryNodes"]["Socket_1"] == 4


def test_path_for_id_handles_embedded_node_trees(scene):
    """By RNA class, not ``ID.id_type`` (Blender 3.4 has none): subclasses such as PointLight or
    GeometryNodeTree find their collection through their bases."""
    import bpy

    assert lookup.path_for_id(bpy.data.objects["Ball"]) == 'objects["Ball"]'
    assert lookup.path_for_id(bpy.data.lights["Lamp"]) == 'lights["Lamp"]'
    group = bpy.data.objects["Row"].modifiers["GeometryNodes"].node_group
    assert lookup.path_for_id(group) == f'node_groups["{group.name}"]'
    assert lookup.path_for_id(bpy.data.materials["BallMat"].node_tree) == 'materials["BallMat"].node_tree'
    assert lookup.path_for_id(bpy.data.worlds["World"].node_tree) == 'worlds["World"].node_tree'

"""The add-on in the bpy module: registration, the parameter list, .blend round trips, targets."""

import os

import numpy as np
import pytest
import scene_kit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture()
def addon():
    import blender_addon

    blender_addon.register()
    yield blender_addon
    blender_addon.unregister()


def test_registers_and_unregisters_cleanly_twice():
    import bpy

    import blender_addon
    from blender_addon import operators

    for _ in range(2):
        blender_addon.register()
        blender_addon.register()  # a second call is harmless
        assert hasattr(bpy.types.Scene, "zerograds")
        assert hasattr(bpy.types, "VIEW3D_PT_zerograds") and hasattr(bpy.types, "ZEROGRADS_UL_params")
        assert bpy.ops.zerograds.add_param.poll()
        menu_funcs = bpy.types.UI_MT_button_context_menu._dyn_ui_initialize()
        assert menu_funcs.count(operators.draw_button_menu) == 1
        blender_addon.unregister()
        blender_addon.unregister()
        assert not hasattr(bpy.types.Scene, "zerograds")
        assert not hasattr(bpy.types, "VIEW3D_PT_zerograds")
        assert operators.draw_button_menu not in bpy.types.UI_MT_button_context_menu._dyn_ui_initialize()


def test_parameters_round_trip_through_save_and_load(addon, tmp_path):
    import bpy

    from blender_addon import api

    scene = scene_kit.build_kinds_scene()
    api.add_param(scene, 'objects["Ball"].location', 0, lo=-2.0, hi=0.5)
    api.add_param(scene, 'objects["Row"].modifiers["GeometryNodes"]["Socket_1"]')
    api.add_param(scene, 'lights["Lamp"].type')
    api.add_param(scene, 'worlds["World"].node_tree.nodes["Background"].inputs["Strength"].default_value')
    custom = api.add_param(scene, 'objects["Ball"]["size"]')
    custom.enabled = False
    scene.zerograds.method, scene.zerograds.budget, scene.zerograds.workers = "prdpt", 123, 2
    expected = [(p.name, p.data_path, p.array_index, p.min, p.max, p.kind, p.enabled) for p in scene.zerograds.params]
    path = str(tmp_path / "setup.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    assert len(bpy.context.scene.zerograds.params) == 0
    bpy.ops.wm.open_mainfile(filepath=path)
    s = bpy.context.scene.zerograds
    assert [(p.name, p.data_path, p.array_index, p.min, p.max, p.kind, p.enabled) for p in s.params] == expected
    assert (s.method, s.budget, s.workers) == ("prdpt", 123, 2)
    specs = api.param_specs(bpy.context.scene)
    assert [p.kind for p in specs] == ["float", "int", "enum", "float"]
    from optimizer_server.wire.space import ParamSpec, Space

    space = Space([ParamSpec.from_dict(d.to_dict()) for d in specs])  # what the server will build from them
    assert space.specs[2].choices == ("POINT", "SUN", "SPOT", "AREA")
    assert expected[1][5] == "int" and expected[2][5] == "enum" and expected[1][3:5] == (1.0, 8.0)


def test_add_param_operator_from_the_button_under_the_mouse(addon):
    import bpy

    scene = scene_kit.build_kinds_scene()
    socket = bpy.data.materials["BallMat"].node_tree.nodes["Principled BSDF"].inputs["Roughness"]
    with bpy.context.temp_override(button_pointer=socket, button_prop=socket.bl_rna.properties["default_value"]):
        assert bpy.ops.zerograds.add_param() == {"FINISHED"}
    item = scene.zerograds.params[-1]
    assert item.data_path.startswith('materials["BallMat"].node_tree.nodes["Principled BSDF"].inputs[')
    assert item.kind == "float" and (item.min, item.max) == (0.0, 1.0)
    ball = bpy.data.objects["Ball"]
    with bpy.context.temp_override(button_pointer=ball, button_prop=ball.bl_rna.properties["location"]):
        bpy.ops.zerograds.add_param()  # a vector: one parameter per element
    assert [p.array_index for p in scene.zerograds.params][-3:] == [0, 1, 2]


def test_bad_path_is_refused_and_nothing_is_added(addon):
    import bpy

    scene = scene_kit.build_kinds_scene()
    with pytest.raises(RuntimeError, match="no property 'locaton'; did you mean 'location'"):
        bpy.ops.zerograds.add_param(data_path='objects["Ball"].locaton', array_index=0)
    assert len(scene.zerograds.params) == 0


def test_a_path_that_stops_resolving_is_shown_as_an_error(addon):
    import bpy

    from blender_addon import api
    from blender_addon.datapath import DataPathError

    scene = scene_kit.build_kinds_scene()
    item = api.add_param(scene, 'objects["Ball"].location', 2)
    assert api.param_problem(item) is None
    bpy.data.objects["Ball"].name = "Sphere"
    problem = api.param_problem(item)
    assert "no item named 'Ball'" in problem and "'Sphere'" in problem
    with pytest.raises(DataPathError, match="fix these parameters first"):
        api.param_specs(scene)


def test_capture_target_stores_a_linear_image_and_leaves_render_settings_alone(addon, tmp_path):
    import bpy

    from blender_addon import targets

    scene = scene_kit.build_tiny_scene()
    scene.render.resolution_x, scene.render.resolution_y, scene.cycles.samples = 1920, 1080, 128
    s = scene.zerograds
    s.width, s.height, s.samples = 32, 24, 4
    assert bpy.ops.zerograds.capture_target() == {"FINISHED"}
    assert (scene.render.resolution_x, scene.render.resolution_y, scene.cycles.samples) == (1920, 1080, 128)
    target, mask = targets.load_target(scene)
    assert target.shape == (24, 32, 4) and mask is None
    assert target[..., :3].max() > 0.05  # a real render, linear floats
    path = str(tmp_path / "captured.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.open_mainfile(filepath=path)
    again, _ = targets.load_target(bpy.context.scene)
    np.testing.assert_array_equal(again, target)  # packed in the .blend, bit-exact


def test_target_size_mismatch_is_explained(addon, tmp_path):
    from blender_addon import images, targets
    from blender_addon._deps import ConfigError

    scene = scene_kit.build_tiny_scene()
    s = scene.zerograds
    images.write_png(str(tmp_path / "t.png"), np.ones((32, 64, 4), np.float32))
    s.target_source, s.target_file, s.width, s.height = "FILE", str(tmp_path / "t.png"), 32, 32
    with pytest.raises(ConfigError, match="the target is 64×32 pixels but renders are 32×32: set the render size"):
        targets.load_target(scene)
    s.width, s.height = 64, 32
    images.write_png(str(tmp_path / "m.png"), np.ones((16, 16, 4), np.float32))
    s.mask_file = str(tmp_path / "m.png")
    with pytest.raises(ConfigError, match="the mask is 16×16"):
        targets.load_target(scene)


def test_int_bounds_typed_with_fractions_become_whole_numbers(addon):
    from blender_addon import api

    scene = scene_kit.build_kinds_scene()
    item = api.add_param(scene, 'objects["Box"].modifiers["Array"].count')
    item.min, item.max = 1.4, 5.7
    assert api.param_specs(scene)[0].to_dict() == {"name": item.name, "kind": "int", "lo": 2.0, "hi": 5.0}


def test_method_presets_fill_the_options(addon):
    import bpy

    s = bpy.context.scene.zerograds
    s.method = "prdpt"
    s.preset = "shadows"
    overridden = {o.name: o.value() for o in s.options if o.override}
    assert overridden == {"samples": 2, "sigma": 0.5, "lr": 0.02}


def test_method_catalog_matches_the_server_registry():
    """Names, option defaults and presets must match (doc wording may lag until the next build)."""
    pytest.importorskip("torch")
    from blender_addon import build, catalog

    def essentials(methods):
        return {name: ({o: v["default"] for o, v in m["options"].items()}, m["presets"]) for name, m in methods.items()}

    assert essentials(catalog.methods()) == essentials(build.generate_catalog()["methods"]), (
        "blender_addon/methods.json is stale: run `python -m blender_addon.build --methods`"
    )


def test_every_icon_the_ui_names_exists_in_this_blender():
    """A misspelt icon raises inside a panel's draw (the panel then shows nothing): check every icon
    name written in the add-on against this Blender's list (the GUI test checks Blender 3.4's)."""
    import ast

    import bpy

    folder = os.path.join(ROOT, "blender_addon")
    valid = {item.identifier for item in bpy.types.UILayout.bl_rna.functions["prop"].parameters["icon"].enum_items}
    used = set()
    for name in os.listdir(folder):
        if name.endswith(".py"):
            tree = ast.parse(open(os.path.join(folder, name), encoding="utf-8").read())
            for node in ast.walk(tree):
                if isinstance(node, ast.keyword) and node.arg == "icon":
                    used |= {c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant) and c.value}
    assert {"PLAY", "TRIA_DOWN", "CHECKMARK"} <= used
    assert used <= valid, sorted(used - valid)

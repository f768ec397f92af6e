"""Add to Optimization from a property's right-click menu, for every kind of owner the issue names
(object, material node, world node, light, modifier, geometry-nodes input): the path and element
the operator builds from what Blender's context says about the clicked button.

The context is a stand-in (a headless bpy has no buttons to click): it carries what Blender 4.x
gives (``context.property`` = (owner struct, path, index)) or what 3.x gives (``button_pointer``,
``button_prop``; the element then comes from Blender's own "Copy Full Data Path", which needs a
real window: the end-to-end GUI test covers that on Blender 3.4). The owners are real structs.
"""

from types import SimpleNamespace

import pytest
import scene_kit

from blender_addon import operators, params


@pytest.fixture()
def scene(addon_registered):
    return scene_kit.build_kinds_scene()


@pytest.fixture()
def addon_registered():
    import blender_addon

    blender_addon.register()
    yield
    blender_addon.unregister()


def owners():
    import bpy

    ball = bpy.data.objects["Ball"]
    principled = bpy.data.materials["BallMat"].node_tree.nodes["Principled BSDF"]
    background = bpy.data.worlds["World"].node_tree.nodes["Background"]
    return {
        "object": (ball, "location", 1, 'objects["Ball"].location', 1),
        "material node": (
            principled.inputs["Roughness"],
            "default_value",
            -1,
            'materials["BallMat"].node_tree.nodes["Principled BSDF"].inputs[',
            -1,
        ),
        "world node": (background.inputs["Strength"], "default_value", -1, 'worlds["World"].node_tree.nodes', -1),
        "light": (bpy.data.lights["Lamp"], "energy", -1, 'lights["Lamp"].energy', -1),
        "modifier": (
            bpy.data.objects["Box"].modifiers["Array"],
            "count",
            -1,
            'objects["Box"].modifiers["Array"].count',
            -1,
        ),
        "geometry-nodes input": (
            bpy.data.objects["Row"].modifiers["GeometryNodes"],
            '["Socket_1"]',
            -1,
            'objects["Row"].modifiers["GeometryNodes"]["Socket_1"]',
            -1,
        ),
    }


@pytest.mark.parametrize(
    "which", ["object", "material node", "world node", "light", "modifier", "geometry-nodes input"]
)
def test_context_property_becomes_a_parameter(scene, which):
    """Blender 4.x: context.property; the clicked element only, and the value resolves."""
    import bpy

    owner, path, index, expected_path, expected_index = owners()[which]
    context = SimpleNamespace(property=(owner, path, index), window_manager=bpy.context.window_manager)
    full, element = operators._button_path(context)
    assert full.startswith(expected_path), full
    (item,) = operators._add(bpy.context.scene, full, element, all_elements=False)
    assert item.array_index == expected_index
    binding = params.resolve_ref(item.ref())
    assert binding.read() == pytest.approx(params.resolve(item.data_path, item.array_index).read())


def test_add_all_takes_every_element_and_a_copied_path_its_element(scene):
    import bpy

    s = bpy.context.scene
    added = operators._add(s, 'bpy.data.objects["Ball"].location[2]', -1, all_elements=False)
    assert [(p.data_path, p.array_index) for p in added] == [('objects["Ball"].location', 2)]
    added = operators._add(s, 'bpy.data.objects["Ball"].rotation_euler[0]', -1, all_elements=True)
    assert [p.array_index for p in added] == [0, 1, 2]
    added = operators._add(s, 'objects["Box"].modifiers["Array"].count', -1, all_elements=True)
    assert [p.array_index for p in added] == [-1]


def test_blender_3_button_pointer_without_an_element(scene):
    """Blender 3.x gives the struct and the property; without a window "Copy Full Data Path" has no
    button to read, so the whole array is meant (Add All), never an error about id_type."""
    import bpy

    ball = bpy.data.objects["Ball"]
    context = SimpleNamespace(
        button_pointer=ball, button_prop=ball.bl_rna.properties["location"], window_manager=bpy.context.window_manager
    )
    full, element = operators._button_path(context)
    assert full == 'objects["Ball"].location' and element == -1
    assert len(operators._add(bpy.context.scene, full, element, all_elements=False)) == 3


def test_the_plus_button_reads_a_copied_full_data_path_from_the_clipboard():
    """(A headless Blender has no clipboard: the window manager is a stand-in holding its text.)"""

    def context(text):
        return SimpleNamespace(window_manager=SimpleNamespace(clipboard=text))

    assert operators._clipboard_path(context('bpy.data.lights["Lamp"].energy')) == 'bpy.data.lights["Lamp"].energy'
    assert operators._clipboard_path(context("some text\nwith lines")) == ""
    assert operators._clipboard_path(context("print(1)")) == ""

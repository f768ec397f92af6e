"""Tiny scenes for the Blender tests, built from code (no .blend files in the repository).

``build_kinds_scene()`` holds one parameter of every kind the add-on supports, each placed so
that changing it visibly changes a 64×48 render. ``KIND_CASES`` lists them: (label, data path,
index, a value that differs from the scene's).
"""

import bpy

from scenes.kit import add_rigid_body, camera, empty_scene, geometry_nodes_row, light, mesh_object, principled, world  # noqa: F401


def build_kinds_scene(width=64, height=48, samples=8):
    """One parameter of every kind, each visible in the render."""
    scene = empty_scene()
    floor_mat = principled("Floor", (0.6, 0.6, 0.6))
    floor = mesh_object("Floor", "plane", (0, 0, 0), size=12, material=floor_mat)
    ball = mesh_object("Ball", "sphere", (-1.4, 0, 0.6), size=1.0, material=principled("BallMat", (0.8, 0.2, 0.1)))
    # Custom property driving the ball's scale through a driver (simple expression: no Python).
    ball["size"] = 1.0
    for axis in range(3):
        fcurve = ball.driver_add("scale", axis)
        var = fcurve.driver.variables.new()
        var.name, var.type = "s", "SINGLE_PROP"
        var.targets[0].id = ball
        var.targets[0].data_path = '["size"]'
        fcurve.driver.expression = "s"
    box = mesh_object("Box", "cube", (1.2, 0.5, 0.4), size=0.8, material=principled("BoxMat", (0.1, 0.3, 0.8)))
    array = box.modifiers.new("Array", "ARRAY")
    array.count = 1
    array.relative_offset_displace = (0.0, 0.0, 1.1)
    geometry_nodes_row("Row", (-0.6, -1.2, 0.15))
    drop = mesh_object("Drop", "cube", (0.2, 1.5, 2.5), size=0.5, material=principled("DropMat", (0.9, 0.8, 0.1)))
    add_rigid_body(floor, "PASSIVE", 1.0)
    add_rigid_body(drop, "ACTIVE", 0.0)
    light("Lamp", "POINT", (2.0, -2.0, 4.0), 800.0)
    camera((0.0, -7.0, 4.0), target=(0.0, 0.0, 0.6), lens=30.0)
    world((0.05, 0.05, 0.08), 1.0)
    scene.frame_start, scene.frame_end = 1, 40
    from blender_addon import render

    render.configure(scene, width, height, samples)
    return scene


# (label, data path, index, new value). Every case must change the render.
KIND_CASES = [
    ("object transform", 'objects["Ball"].location', 0, -0.6),
    ("light data", 'lights["Lamp"].energy', -1, 200.0),
    ("camera data", 'cameras["Camera"].lens', -1, 40.0),
    (
        "material node input",
        'materials["BallMat"].node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value',
        1,
        0.9,
    ),
    ("world node input", 'worlds["World"].node_tree.nodes["Background"].inputs["Strength"].default_value', -1, 8.0),
    ("geometry-nodes int input", 'objects["Row"].modifiers["GeometryNodes"]["Socket_1"]', -1, 6),
    ("modifier setting", 'objects["Box"].modifiers["Array"].count', -1, 3),
    ("custom property via driver", 'objects["Ball"]["size"]', -1, 1.6),
    ("bool", 'objects["Box"].hide_render', -1, 1),
    ("enum", 'lights["Lamp"].type', -1, 2),  # POINT → SPOT (choice index 2)
    ("cycles setting", 'scenes["Scene"].cycles.film_exposure', -1, 2.0),
]
RIGID_BODY_CASE = ("rigid-body setting", 'objects["Drop"].rigid_body.restitution', -1, 1.0)
RIGID_BODY_FRAME = 34


def build_tiny_scene(path=None, factory_reset=True):
    """A red ball in front of the camera: the end-to-end tests move it along x."""
    scene = empty_scene(factory_reset)
    mesh_object("Floor", "plane", (0, 0, 0), size=8, material=principled("Floor", (0.7, 0.7, 0.7)))
    mesh_object("Ball", "sphere", (TINY_START, 0, 0.5), size=1.0, material=principled("BallMat", (0.9, 0.1, 0.1)))
    light("Lamp", "POINT", (1.0, -2.0, 3.0), 600.0)
    camera((0.0, -5.0, 2.0), target=(0.0, 0.0, 0.5), lens=35.0)
    world((0.2, 0.2, 0.25), 1.0)
    if path:
        bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return scene


TINY_START, TINY_TARGET, TINY_BOUNDS = -0.4, 0.3, (-1.0, 1.0)
TINY_PATH = 'objects["Ball"].location'

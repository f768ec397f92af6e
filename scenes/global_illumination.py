"""GLOBAL ILLUMINATION (PRDPT, Sec. 4.4): light position, wall colour and box rotation from bounced light.

A box stands next to a coloured wall under an area light. A long lens sees only an inset (the
box's side and the floor towards the wall), never the wall or the light: their effect reaches the
picture only through bounced light. Six parameters: light x/y, wall RGB, box rotation. (The paper
turns the box about a horizontal axis; here about the vertical one, so it keeps standing on the floor.)

    python -m scenes.global_illumination [--out build/scenes]
"""

import sys

from scenes import task

WALL_COLOR = 'materials["Wall"].node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value'
PARAMS = task.params_from(
    [
        ("light_x", 'objects["Light"].location', 0, (-1.0, 1.0), 0.6, -0.4),
        ("light_y", 'objects["Light"].location', 1, (-1.0, 1.0), 0.5, -0.2),
        ("wall_r", WALL_COLOR, 0, (0.0, 1.0), 0.2, 0.9),
        ("wall_g", WALL_COLOR, 1, (0.0, 1.0), 0.2, 0.3),
        ("wall_b", WALL_COLOR, 2, (0.0, 1.0), 0.8, 0.1),
        ("box_rotation", 'objects["Box"].rotation_euler', 2, (-0.8, 0.8), 0.5, -0.2),
    ]
)


def build(path=None):
    import math

    from scenes import kit

    start = {p.name: p.start for p in PARAMS}
    kit.empty_scene()
    white = kit.principled("White", (0.8, 0.8, 0.8))
    kit.mesh_object("Floor", "plane", (0, 0, 0), size=12, material=white)
    wall = kit.mesh_object(
        "WallMesh",
        "plane",
        (-1.5, 0, 1.5),
        size=3.0,
        material=kit.principled("Wall", (start["wall_r"], start["wall_g"], start["wall_b"])),
    )
    wall.rotation_euler = (0.0, math.radians(90), 0.0)  # faces +x, towards the box
    box = kit.mesh_object("Box", "cube", (0.0, 0.0, 0.5), size=1.0, material=white)
    box.rotation_euler[2] = start["box_rotation"]
    light = kit.light("Light", "AREA", (start["light_x"], start["light_y"], 3.0), 120.0)
    light.data.size = 1.0
    # Long lens along +y: sees x ≈ -1.0 … 0.1 around the box's left half; the wall (x = -1.5) and the
    # light (z = 3) stay outside the frustum over their whole extent.
    kit.camera((-0.45, -5.0, 0.45), target=(-0.45, 0.0, 0.45), lens=150)
    kit.world((0.02, 0.02, 0.02), 1.0)
    kit.quiet_indirect()
    return kit.finish(path)


TASK = task.SceneTask(
    name="global_illumination",
    title="GLOBAL ILL.",
    description="light x/y, wall colour and box rotation, seen only through bounced light",
    params=PARAMS,
    build=build,
    quick_renders=1000,
    prdpt_preset="global_illumination",
    paper=task.PaperResult(image_mse=5.07e-5, param_mse=8.71e-4, samples=4, iterations=500, spp=16),
)

if __name__ == "__main__":
    sys.exit(task.main(TASK))

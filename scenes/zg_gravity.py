"""GRAVITY (ZeroGrads Sec. 5.4.3): three cubes dropped onto each other with Blender's rigid bodies.

Parameters: the start x/y of the upper two cubes and the top cube's restitution (5-D). The image
is judged at frame ``FRAME``: the worker steps the simulation from the first frame for every
sample (``[render] frame``), so every render pays for the simulation.

    python -m scenes.zg_gravity [--size ci|full] [--out build/scenes]
"""

import sys

from scenes import task
from scenes import zerograds_kit as zk

FRAME = 40
PARAMS = task.check_params(
    [
        task.param("mid_x", 'objects["Middle"].location', 0, -0.5, 0.5, -0.3, 0.25),
        task.param("mid_y", 'objects["Middle"].location', 1, -0.5, 0.5, 0.3, -0.1),
        task.param("top_x", 'objects["Top"].location', 0, -0.5, 0.5, 0.35, -0.2),
        task.param("top_y", 'objects["Top"].location', 1, -0.5, 0.5, -0.2, 0.3),
        task.param("top_restitution", 'objects["Top"].rigid_body.restitution', -1, 0.0, 1.0, 0.1, 0.8),
    ]
)


def build(path=None, width=32, height=32):
    from scenes import kit

    scene = zk.studio((0.0, -6.0, 2.5), target=(0.0, 0.0, 1.0), lens=35)
    floor = kit.mesh_object("Floor", "plane", (0, 0, 0), size=12, material=kit.principled("Floor", (0.6, 0.6, 0.6)))
    kit.add_rigid_body(floor, "PASSIVE", 1.0)
    colours = {"Bottom": (0.8, 0.2, 0.1), "Middle": (0.1, 0.6, 0.2), "Top": (0.1, 0.3, 0.9)}
    heights = {"Bottom": 0.5, "Middle": 2.0, "Top": 3.5}
    for name in ("Bottom", "Middle", "Top"):
        cube = kit.mesh_object(
            name, "cube", (0.0, 0.0, heights[name]), size=1.0, material=kit.principled(name, colours[name])
        )
        kit.add_rigid_body(cube, "ACTIVE", 0.0 if name == "Bottom" else 0.5)
        cube.rigid_body.friction = 0.5
    for p in PARAMS:
        obj = scene.objects[p.path.split('"')[1]]
        if p.name.endswith("restitution"):
            obj.rigid_body.restitution = p.start
        else:
            obj.location[p.index] = p.start
    scene.frame_start, scene.frame_end = 1, FRAME
    scene.rigidbody_world.point_cache.frame_end = FRAME
    kit.light("Lamp", "POINT", (2.0, -3.0, 5.0), 1200.0)
    return zk.finish(path, width, height)


def spec(size):
    return zk.zg_task(
        "zg_gravity",
        "GRAVITY",
        "start x/y of two dropped cubes and the top one's restitution",
        size,
        PARAMS,
        build,
        preset="gravity",
        frame=FRAME,
    )


TASK = spec("full")

if __name__ == "__main__":
    sys.exit(task.main(TASK, spec=spec))

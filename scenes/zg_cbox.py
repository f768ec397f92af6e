"""CORNELL-BOX (ZeroGrads Sec. 5.4.3): the ceiling light's x/y and the z-rotations of both boxes.

python -m scenes.zg_cbox [--size ci|full] [--out build/scenes]
"""

import math
import sys

from scenes import task
from scenes import zerograds_kit as zk

PARAMS = task.check_params(
    [
        task.param("light_x", 'objects["Light"].location', 0, -0.6, 0.6, -0.4, 0.3),
        task.param("light_y", 'objects["Light"].location', 1, -0.6, 0.6, 0.4, -0.2),
        task.param("tall_rot", 'objects["Tall"].rotation_euler', 2, 0.0, math.pi / 2, 0.2, 1.1),
        task.param("short_rot", 'objects["Short"].rotation_euler', 2, 0.0, math.pi / 2, 1.3, 0.4),
    ]
)


def build(path=None, width=32, height=32):
    from scenes import kit

    zk.studio((0.0, -3.9, 1.0), target=(0.0, 0.0, 1.0), lens=32, world_color=(0.0, 0.0, 0.0))
    white, red, green = (
        kit.principled(n, c)
        for n, c in (("White", (0.75, 0.75, 0.75)), ("Red", (0.7, 0.1, 0.1)), ("Green", (0.1, 0.6, 0.1)))
    )
    for name, loc, rot, mat in (
        ("Floor", (0, 0, 0), (0, 0, 0), white),
        ("Ceiling", (0, 0, 2), (math.pi, 0, 0), white),
        ("Back", (0, 1, 1), (math.pi / 2, 0, 0), white),
        ("Left", (-1, 0, 1), (0, math.pi / 2, 0), red),
        ("Right", (1, 0, 1), (0, -math.pi / 2, 0), green),
    ):
        kit.mesh_object(name, "plane", loc, size=2.0, material=mat).rotation_euler = rot
    tall = kit.mesh_object("Tall", "cube", (-0.35, 0.3, 0.6), size=1.0, material=white)
    tall.scale = (0.55, 0.55, 1.2)
    short = kit.mesh_object("Short", "cube", (0.4, -0.3, 0.3), size=0.6, material=white)
    tall.rotation_euler[2], short.rotation_euler[2] = PARAMS[2].start, PARAMS[3].start
    lamp = kit.light("Light", "AREA", (PARAMS[0].start, PARAMS[1].start, 1.98), 60.0)
    lamp.data.size = 0.5
    return zk.finish(path, width, height)


def spec(size):
    return zk.zg_task(
        "zg_cbox", "CORNELL-BOX", "ceiling light x/y and both boxes' z-rotations", size, PARAMS, build, preset="cbox"
    )


TASK = spec("full")

if __name__ == "__main__":
    sys.exit(task.main(TASK, spec=spec))

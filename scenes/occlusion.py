"""OCCLUSION (PRDPT, Sec. 4.4): move a sphere along the view axis out from behind an occluder.

A red sphere starts hidden behind a larger blue one, on the camera's axis: moving it a little
changes almost nothing (only a sliver of its shadow on the floor). In the target it is in front
of the blue sphere and covers its centre.

    python -m scenes.occlusion [--out build/scenes]
"""

import math
import sys

from scenes import task

HEIGHT = 1.0
PARAMS = task.params_from([("depth", 'objects["Red"].location', 1, (-2.5, 3.0), 2.0, -1.5)])


def build(path=None):
    from scenes import kit

    kit.empty_scene()
    kit.mesh_object("Floor", "plane", (0, 0, 0), size=30, material=kit.principled("Floor", (0.6, 0.6, 0.6)))
    kit.mesh_object("Blue", "sphere", (0, 0, HEIGHT), size=1.4, material=kit.principled("Blue", (0.1, 0.2, 0.8)))
    kit.mesh_object(
        "Red", "sphere", (0, PARAMS[0].start, HEIGHT), size=1.1, material=kit.principled("Red", (0.8, 0.1, 0.1))
    )
    sun = kit.light("Sun", "SUN", (0, 0, 10), 3.0)
    sun.rotation_euler = (math.radians(-30), math.radians(20), 0.0)
    kit.camera((0.0, -8.0, HEIGHT + 0.4), target=(0.0, 0.0, HEIGHT), lens=50)
    kit.world((0.3, 0.3, 0.3), 1.0)
    return kit.finish(path)


TASK = task.SceneTask(
    name="occlusion",
    title="OCCLUSION",
    description="a sphere behind an occluder, moved along the view axis",
    params=PARAMS,
    build=build,
    quick_renders=1200,
    prdpt_preset="occlusion",
    paper=task.PaperResult(image_mse=2.34e-4, param_mse=3.29e-3, samples=2, iterations=600, spp=32),
)

if __name__ == "__main__":
    sys.exit(task.main(TASK))

"""MESH (ZeroGrads Fig. 5.10): a sphere's 2,562 vertices (642 at ci size) deformed to a hidden shape seen
from three cameras at once.

A white diffuse sphere lit by a red, a green and a blue sun from three directions (so a surface's colour
tells its normal) is seen by three cameras 120° apart, from above, below and level; every vertex is in
some view. The three views side by side are one image (``cameras``), one loss. The parameter is one
offset per vertex along its rest normal (``array = "mesh"``, mode "normal"); the target is the sphere
with smooth bumps and dents of up to 0.2 radii.

    python -m scenes.hd_mesh [--size ci|full] [--out build/scenes]
"""

import math
import sys

import numpy as np

from optimizer_server.problems.sphere import icosphere
from scenes import highdim_kit as hk
from scenes import task

SUBDIVISIONS = {"ci": 3, "full": 4}  # 642 and 2,562 vertices
# three cameras 120° apart, above, below and level with the sphere: every vertex is in some view
VIEWS = tuple(
    (
        name,
        (
            4.0 * math.cos(math.radians(el)) * math.cos(math.radians(az)),
            4.0 * math.cos(math.radians(el)) * math.sin(math.radians(az)),
            4.0 * math.sin(math.radians(el)),
        ),
    )
    for name, az, el in (("Front", -90.0, 30.0), ("Left", 30.0, -30.0), ("Right", 150.0, 10.0))
)
CAMERAS = tuple(name for name, _ in VIEWS)
BOUND = 0.3  # offsets in sphere radii


def spec(size):
    points, faces = icosphere(SUBDIVISIONS[size])
    target = np.clip(hk.sphere_bumps(points, seed=11, amplitude=0.2), -BOUND, BOUND)
    shape = task.Param(
        name="shape",
        path='objects["Blob"]',
        lo=-BOUND,
        hi=BOUND,
        start=np.zeros(len(points)),
        target=target,
        array={"kind": "mesh", "mode": "normal"},
    )
    long_side = 48 if size == "ci" else 64

    def build(path=None):
        from mathutils import Vector

        from scenes import kit

        kit.empty_scene()
        white = kit.principled("White", (0.8, 0.8, 0.8))
        white.node_tree.nodes["Principled BSDF"].inputs["Roughness"].default_value = 1.0
        hk.mesh_from("Blob", points, faces, white)
        for (name, location), color in zip(VIEWS, ((1.0, 0.2, 0.2), (0.2, 1.0, 0.2), (0.25, 0.25, 1.0))):
            cam = kit.camera(location, target=(0.0, 0.0, 0.0), lens=55)
            cam.name = cam.data.name = name
            # a sun of its own colour from above each camera's shoulder: every view is lit, and a
            # surface's colour tells which way it faces
            sun = kit.light(f"Sun{name}", "SUN", (0, 0, 5), 2.5)
            sun.data.color = color
            sun.rotation_euler = (
                Vector((location[0] + 1.5, location[1] + 1.5, location[2] + 2.0)).to_track_quat("Z", "Y").to_euler()
            )
        kit.world((0.0, 0.0, 0.0), 1.0)
        scene = kit.set_resolution(long_side, long_side)
        scene.camera = scene.objects[CAMERAS[0]]
        return kit.finish(path, long_side, long_side)

    return hk.hd_task(
        "hd_mesh",
        "MESH",
        f"a sphere's {len(points):,} vertices deformed to a shape seen from three cameras",
        size,
        [shape],
        build,
        renders=1000 if size == "full" else 600,
        long_side=long_side,
        cameras=CAMERAS,
    )


TASK = spec("full")

if __name__ == "__main__":
    sys.exit(task.main(TASK, spec=spec))

"""CAUSTIC heightfield (ZeroGrads Fig. 5.11): the 32×32 heightfield (16×16 at ci size) of a glass sheet
whose caustic on the floor must match a picture.

A point light above a refractive glass sheet lights a floor 1 unit below it; the sheet's heights (one
array parameter: ``array = "mesh"``, one offset per vertex along its normal, +z) bend the light into
bright lenses and dark gaps. The camera looks straight down at the floor, and the sheet is invisible to
it, so the picture is the caustic alone. Cycles' shadow caustics (manifold next-event estimation, the
object and light flags below) trace the focused light with little noise at 16 samples.

    python -m scenes.hd_caustic [--size ci|full] [--out build/scenes]
"""

import sys

import numpy as np

from scenes import highdim_kit as hk
from scenes import task

SIDE = {"ci": 16, "full": 32}
BOUND = 0.25


def spec(size):
    side = SIDE[size]
    points, quads = hk.grid(side, 2.0)
    heights = task.Param(
        name="heights",
        path='objects["Sheet"]',
        lo=-BOUND,
        hi=BOUND,
        start=np.zeros(len(points)),
        target=np.clip(hk.plane_bumps(points, seed=3), -BOUND, BOUND),
        array={"kind": "mesh", "mode": "normal"},
    )
    long_side = 32 if size == "ci" else 64

    def build(path=None):
        from scenes import kit

        kit.empty_scene()
        floor = kit.mesh_object("Floor", "plane", (0, 0, 0), size=6, material=kit.principled("Floor", (0.8,) * 3))
        glass = kit.node_material("Glass", "ShaderNodeBsdfGlass", IOR=1.5)
        glass.node_tree.nodes["Glass BSDF"].inputs["Roughness"].default_value = 0.0
        sheet = hk.mesh_from("Sheet", points, quads, glass, location=(0.0, 0.0, 1.0))
        sheet.visible_camera = False  # the picture is the floor's caustic alone
        light = kit.light("Light", "POINT", (0.0, 0.0, 6.0), 2000.0)
        light.data.shadow_soft_size = 0.05
        sheet.cycles.is_caustics_caster = True  # manifold next-event estimation: low-noise caustics
        floor.cycles.is_caustics_receiver = True
        light.data.cycles.is_caustics_light = True
        kit.ortho_top_camera(2.4)
        kit.world((0.0, 0.0, 0.0), 1.0)
        return kit.finish(path, long_side, long_side)

    return hk.hd_task(
        "hd_caustic",
        "CAUSTIC",
        f"the {side}×{side} heightfield of a glass sheet focusing a caustic",
        size,
        [heights],
        build,
        renders=1000 if size == "full" else 600,
        long_side=long_side,
    )


TASK = spec("full")

if __name__ == "__main__":
    sys.exit(task.main(TASK, spec=spec))

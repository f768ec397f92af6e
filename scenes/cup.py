"""CUP (PRDPT, Sec. 4.4): find a mug's rotation about its vertical axis.

At the start the handle points away from the camera and hides behind the cup: small rotations
change nothing in the image (a plateau). The target has the handle to the front right. The sun
comes from behind the camera so the handle's shadow hides behind the cup too.

    python -m scenes.cup [--out build/scenes]
"""

import math
import sys

from scenes import task

# The handle points along +x at rotation 0; it is hidden for rotations of about 63°–117° (seen
# from -y), so 1.7 rad (97°) sits on the plateau and 0.5 rad (29°) shows it on the right.
PARAMS = task.params_from([("rotation", 'objects["Mug"].rotation_euler', 2, (0.0, math.pi), 1.7, 0.5)])


def build(path=None):
    from scenes import kit

    kit.empty_scene()
    kit.mesh_object("Floor", "plane", (0, 0, 0), size=20, material=kit.principled("Floor", (0.5, 0.5, 0.5)))
    mug = kit.empty("Mug")
    mug_mat = kit.principled("Mug", (0.85, 0.75, 0.2))
    body = kit.cylinder_object("Body", 0.8, 1.6, (0, 0, 0), mug_mat)
    handle = kit.torus_object("Handle", 0.5, 0.16, (1.05, 0, 0.8), mug_mat)
    for part in (body, handle):
        part.parent = mug
    mug.rotation_euler[2] = PARAMS[0].start
    sun = kit.light("Sun", "SUN", (0, -5, 5), 3.0)
    sun.rotation_euler = (math.radians(55), 0.0, 0.0)  # from behind the camera, towards +y and down
    sun.data.angle = math.radians(5)
    kit.camera((0.0, -6.0, 2.6), target=(0.3, 0.0, 0.8), lens=55)
    kit.world((0.25, 0.25, 0.3), 1.0)
    return kit.finish(path)


TASK = task.SceneTask(
    name="cup",
    title="CUP",
    description="a mug's z-rotation; the handle starts hidden behind the cup",
    params=PARAMS,
    build=build,
    quick_renders=800,
    prdpt_preset="cup",
    paper=task.PaperResult(image_mse=4.92e-6, param_mse=4.18e-7, samples=2, iterations=400, spp=16),
)

if __name__ == "__main__":
    sys.exit(task.main(TASK))

"""The SHADOWS demo (after PRDPT, Sec. 4.4): find where an unseen object is from its shadow.

An orthographic camera looks straight down at a floor. A sphere hangs *outside* the view; a
low sun throws its shadow into the picture. The optimiser moves the sphere (x, y) until its
shadow matches the target's. At the start the two shadows do not overlap at all, so the image
loss is flat around the start: exactly where renderer gradients give nothing and perturbation
methods still work.

    python -m scenes.shadows_demo                 # writes out/demo-shadows/shadows.{blend,toml}
    python -m scenes.shadows_demo --run           # ... and runs the job headless (`make demo`)
"""

import argparse
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

START = {"x": 4.1, "y": -1.0}  # shadow centre at (1.1, -1.0): in the view, far from the target's
TARGET = {"x": 3.0, "y": 0.7}  # shadow centre at (0.0, 0.7)
# x ≥ 2.7: the sphere itself never enters the picture; x ≤ 4.2 and |y| ≤ 1.3 keep the whole shadow
# in it (otherwise moving the shadow out of the picture is a cheap way to lower the loss).
BOUNDS = {"x": (2.7, 4.2), "y": (-1.3, 1.3)}
HEIGHT = 3.0  # the sun comes in at 45°, so the shadow sits HEIGHT to the left


def build(path=None):
    """Build the scene (and save it to ``path`` when given)."""
    import bpy  # here, not at the top: the task registry reads START/TARGET/BOUNDS without Blender

    from scenes import kit

    scene = kit.empty_scene()
    kit.mesh_object("Floor", "plane", (0, 0, 0), size=12, material=kit.principled("Floor", (0.8, 0.8, 0.8)))
    kit.mesh_object(
        "Occluder",
        "sphere",
        (START["x"], START["y"], HEIGHT),
        size=1.0,
        material=kit.principled("Occluder", (0.8, 0.1, 0.1)),
    )
    sun = kit.light("Sun", "SUN", (0, 0, 10), 4.0)
    sun.rotation_euler = (0.0, math.radians(45), 0.0)  # light travels towards -x and down
    sun.data.angle = math.radians(3)
    cam = kit.camera((0.0, 0.0, 10.0), target=(0.0, 0.0, 0.0))
    cam.rotation_euler = (0.0, 0.0, 0.0)  # straight down, x to the right, y up in the picture
    cam.data.type = "ORTHO"
    cam.data.ortho_scale = 4.0  # sees x, y ∈ [-2, 2]: the occluder (x ≥ 2.7 - 0.5) stays outside
    kit.world((0.3, 0.3, 0.3), 1.0)
    scene.render.resolution_x = scene.render.resolution_y = 64
    scene.render.engine = "CYCLES"
    if path:
        bpy.ops.wm.save_as_mainfile(filepath=os.path.abspath(path))
    return scene


JOB = """# SHADOWS demo: recover the hidden sphere's position from its shadow.
blend = "shadows.blend"
output = "output"

[render]
width = 64
height = 64
samples = 16

[[params]]
name = "x"
path = 'objects["Occluder"].location'
index = 0
min = {x_lo}
max = {x_hi}

[[params]]
name = "y"
path = 'objects["Occluder"].location'
index = 1
min = {y_lo}
max = {y_hi}

[target]
values = {{ x = {tx}, y = {ty} }}

[method]
name = "prdpt"
preset = "shadows"        # the paper's settings: 2 samples, sigma 0.5, lr 0.02
budget = {budget}
seed = 0

[workers]
count = {workers}
"""


def write_job(folder, budget=800, workers=2):
    path = os.path.join(folder, "shadows.toml")
    with open(path, "w") as f:
        f.write(
            JOB.format(
                x_lo=BOUNDS["x"][0],
                x_hi=BOUNDS["x"][1],
                y_lo=BOUNDS["y"][0],
                y_hi=BOUNDS["y"][1],
                tx=TARGET["x"],
                ty=TARGET["y"],
                budget=budget,
                workers=workers,
            )
        )
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "out", "demo-shadows"), help="folder for the scene and job")
    parser.add_argument("--budget", type=int, default=800, help="renders (the paper: 400 iterations × 2)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--run", action="store_true", help="run the job after writing it")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    build(os.path.join(args.out, "shadows.blend"))
    job = write_job(args.out, args.budget, args.workers)
    print(f"wrote {args.out}/shadows.blend and {job}")
    if not args.run:
        print(f"run it with: python -m optimizer_server run {job}")
        return 0
    from blender_addon import batch

    return batch.main([job])


if __name__ == "__main__":
    sys.exit(main())

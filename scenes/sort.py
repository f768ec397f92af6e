"""SORT (PRDPT, Sec. 4.4): sort 75 coloured cubes into three blocks by colour (x/y each: 150-D).

Seen from above (orthographic). The target puts the 25 cubes of each colour on a 5×5 grid, red
left, green middle, blue right; the start scatters them uniformly (a fixed seed), so most cubes do
not overlap their target: a plateau in almost every dimension.

    python -m scenes.sort [--out build/scenes]
"""

import random
import sys

from scenes import task

COLORS = ((0.8, 0.05, 0.05), (0.05, 0.7, 0.05), (0.05, 0.1, 0.85))
PER_COLOR, GRID, SPACING, CUBE = 25, 5, 0.4, 0.3
X_BOUNDS, Y_BOUNDS = (-3.2, 3.2), (-1.0, 1.0)  # inside the 6.8 × 2.27 view: cubes never leave it


def _layout():
    """(start, target) positions of every cube, deterministic."""
    rng = random.Random(1234)
    rows = []
    for c in range(len(COLORS)):
        block_x = (c - 1) * (GRID * SPACING + 0.2)
        for k in range(PER_COLOR):
            target = (block_x + (k % GRID - 2) * SPACING, (k // GRID - 2) * SPACING)
            start = (rng.uniform(*X_BOUNDS), rng.uniform(*Y_BOUNDS))
            rows.append((start, target))
    return rows


def _params():
    entries = []
    for i, (start, target) in enumerate(_layout()):
        for index, (axis, bounds) in enumerate((("x", X_BOUNDS), ("y", Y_BOUNDS))):
            entries.append(
                (
                    f"cube{i:02d}_{axis}",
                    f'objects["Cube{i:02d}"].location',
                    index,
                    bounds,
                    round(start[index], 4),
                    round(target[index], 4),
                )
            )
    return task.params_from(entries)


PARAMS = _params()


def build(path=None):
    import math

    from scenes import kit

    kit.empty_scene()
    kit.mesh_object("Floor", "plane", (0, 0, 0), size=20, material=kit.principled("Floor", (0.15, 0.15, 0.15)))
    materials = [kit.principled(f"Color{c}", rgb) for c, rgb in enumerate(COLORS)]
    for i in range(len(COLORS) * PER_COLOR):
        x, y = PARAMS[2 * i].start, PARAMS[2 * i + 1].start  # the rounded values the job file holds
        kit.mesh_object(f"Cube{i:02d}", "cube", (x, y, CUBE / 2), size=CUBE, material=materials[i // PER_COLOR])
    sun = kit.light("Sun", "SUN", (0, 0, 10), 4.0)
    sun.rotation_euler = (math.radians(10), math.radians(10), 0.0)
    kit.ortho_top_camera(6.8)
    kit.world((0.4, 0.4, 0.4), 1.0)
    return kit.finish(path, 96, 32)


TASK = task.SceneTask(
    name="sort",
    title="SORT (150-D)",
    description="75 coloured cubes sorted into blocks by colour, x/y each",
    params=PARAMS,
    build=build,
    prdpt_preset="sort",
    aspect=(3, 1),
    min_long_side=96,
    quick_renders=480,
    paper=task.PaperResult(image_mse=3.81e-3, param_mse=4.19e-1, samples=16, iterations=4000, spp=32),
)

if __name__ == "__main__":
    sys.exit(task.main(TASK))

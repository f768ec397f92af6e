"""MOSAIC (ZeroGrads Sec. 5.4.3): the z-rotation of every bar in a grid (16 at ci size, 320 full).

Bars (not cubes) so that a rotation in [0, π/2] is visible from the top-down orthographic camera.

    python -m scenes.zg_mosaic [--size ci|full] [--out build/scenes]
"""

import math
import sys

from scenes import task
from scenes import zerograds_kit as zk

GRID = {"ci": (4, 4), "full": (20, 16)}  # columns × rows: 320 in the paper


def params_for(size):
    cols, rows = GRID[size]
    n = cols * rows
    start, target = zk.uniforms(n, 21, 0.0, math.pi / 2), zk.uniforms(n, 22, 0.0, math.pi / 2)
    return task.check_params(
        [
            task.param(
                f"rot{i:03d}",
                f'objects["Bar{i:03d}"].rotation_euler',
                2,
                0.0,
                round(math.pi / 2, 6),
                start[i],
                target[i],
            )
            for i in range(n)
        ]
    )


def spec(size):
    cols, rows = GRID[size]
    params = params_for(size)
    width = 32 if size == "ci" else 160
    height = 32 if size == "ci" else 128

    def build(path=None):
        from scenes import kit

        kit.empty_scene()
        mats = [kit.principled(f"Tile{c}", col) for c, col in enumerate(((0.9, 0.3, 0.1), (0.1, 0.4, 0.9)))]
        for i, p in enumerate(params):
            x, y = i % cols - (cols - 1) / 2, i // cols - (rows - 1) / 2
            bar = kit.mesh_object(f"Bar{i:03d}", "cube", (x, y, 0.1), size=1.0, material=mats[(i + i // cols) % 2])
            bar.scale = (0.85, 0.3, 0.2)
            bar.rotation_euler[2] = p.start
        kit.mesh_object(
            "Floor",
            "plane",
            (0, 0, 0),
            size=2 * max(cols, rows) + 2,
            material=kit.principled("Floor", (0.85, 0.85, 0.85)),
        )
        kit.ortho_top_camera(max(cols, rows) * 1.0)
        sun = kit.light("Sun", "SUN", (0, 0, 5), 3.0)
        sun.rotation_euler = (0.3, 0.2, 0.0)
        kit.world((0.3, 0.3, 0.3), 1.0)
        return zk.finish(path, width, height)

    return zk.zg_task(
        "zg_mosaic",
        "MOSAIC",
        f"z-rotations of a {cols}×{rows} grid of bars",
        size,
        params,
        build,
        preset="mosaic",
        width=width,
        height=height,
    )


TASK = spec("full")

if __name__ == "__main__":
    sys.exit(task.main(TASK, spec=spec))

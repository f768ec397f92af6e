"""LED (ZeroGrads Sec. 5.4.3): which elements of a display of panels are on (bools).

Every element is a small emissive square; "off" hides it from the render (``hide_render``), so
the dark backboard shows. 336 elements at full size (4 panels of 12 × 7), 12 at ci size.

    python -m scenes.zg_led [--size ci|full] [--out build/scenes]
"""

import sys

from scenes import task
from scenes import zerograds_kit as zk

LAYOUT = {"ci": (1, 4, 3), "full": (4, 12, 7)}  # panels, columns, rows per panel


def spec(size):
    panels, cols, rows = LAYOUT[size]
    n = panels * cols * rows
    start, target = zk.bits(n, 31), zk.bits(n, 32)
    # start = 1 means visible; the property is hide_render, so the stored value is the negation.
    params = task.check_params(
        [
            task.param(
                f"off{i:03d}",
                f'objects["LED{i:03d}"].hide_render',
                -1,
                0.0,
                1.0,
                1 - start[i],
                1 - target[i],
                kind="bool",
            )
            for i in range(n)
        ]
    )
    width_units, height_units = panels * (cols + 1), rows + 1
    w, h = (32, 32) if size == "ci" else (128, max(16, 128 * height_units // width_units))

    def build(path=None):
        from scenes import kit

        kit.empty_scene()
        glow = zk.emission_material("Glow", (1.0, 0.35, 0.05), 4.0)
        i = 0
        for panel in range(panels):
            for row in range(rows):
                for col in range(cols):
                    x = panel * (cols + 1) + col - (width_units - 2) / 2
                    led = kit.mesh_object(
                        f"LED{i:03d}", "plane", (x, row - (rows - 1) / 2, 0.01), size=0.8, material=glow
                    )
                    led.hide_render = bool(params[i].start)
                    i += 1
        kit.mesh_object(
            "Board", "plane", (0, 0, 0), size=2 * width_units, material=kit.principled("Board", (0.05, 0.05, 0.05))
        )
        kit.ortho_top_camera(width_units)
        kit.world((0.2, 0.2, 0.2), 1.0)
        return zk.finish(path, w, h)

    return zk.zg_task(
        "zg_led",
        "LED",
        f"{n} on/off elements on {panels} panel(s)",
        size,
        params,
        build,
        preset="led",
        width=w,
        height=h,
    )


TASK = spec("full")

if __name__ == "__main__":
    sys.exit(task.main(TASK, spec=spec))

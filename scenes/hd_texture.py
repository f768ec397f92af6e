"""TEXTURE (ZeroGrads Fig. 5.8): the albedo texture of a lit canvas, 64×64×3 texels at ci size, 256×256×3 full.

A square canvas seen slightly from below its top edge, lit by an area light; its base colour is an image
texture. The target is rendered from a hidden painting; the start is a uniform grey texture. The
image's pixels are one array parameter (``array = "image"``, RGB): 12,288 values at ci size, 196,608 full.

    python -m scenes.hd_texture [--size ci|full] [--out build/scenes]
"""

import sys

import numpy as np

from scenes import highdim_kit as hk
from scenes import task

SIDE = {"ci": 64, "full": 256}
RENDER = {"ci": 64, "full": 256}  # about one texel per pixel where the canvas faces the camera


def spec(size):
    side = SIDE[size]
    start = np.full((side, side, 3), 0.5)
    target = hk.painting(side, side, seed=5)
    albedo = task.Param(
        name="albedo",
        path='images["Albedo"]',
        lo=0.0,
        hi=1.0,
        start=start,
        target=target,
        array={"kind": "image", "channels": "RGB"},
    )

    def build(path=None):
        from scenes import kit

        kit.empty_scene()
        image = hk.float_image("Albedo", start)
        hk.textured_quad("Canvas", 2.0, hk.texture_material("Canvas", image))
        kit.camera((0.0, -0.9, 3.4), target=(0.0, 0.0, 0.0), lens=56)
        lamp = kit.light("Lamp", "AREA", (1.2, -1.6, 3.0), 120.0)
        lamp.data.size = 2.0
        lamp.rotation_euler = (0.45, 0.3, 0.0)
        kit.world((0.2, 0.2, 0.22), 1.0)
        return kit.finish(path, RENDER[size], RENDER[size])

    return hk.hd_task(
        "hd_texture",
        "TEXTURE",
        f"the {side}×{side}×3 albedo texture of a lit canvas",
        size,
        [albedo],
        build,
        renders=1000 if size == "full" else 600,
        long_side=RENDER[size],
    )


TASK = spec("full")

if __name__ == "__main__":
    sys.exit(task.main(TASK, spec=spec))

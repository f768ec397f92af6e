"""CAUSTIC (PRDPT, Sec. 4.4): find a light outside the view from a glass sphere's caustic.

A glass ball on a floor, seen from above (orthographic); a small spherical light outside the
view shines through it and focuses a caustic onto the floor. The ball looks almost the same
wherever the light is: the caustic (and the ball's shadow) carry the light's x/y.

    python -m scenes.caustic [--out build/scenes]
"""

import sys

from scenes import task

RADIUS, LIGHT_Z = 0.5, 2.5
PARAMS = task.params_from(
    [
        ("light_x", 'objects["Light"].location', 0, (2.0, 3.5), 3.3, 2.4),
        ("light_y", 'objects["Light"].location', 1, (-1.5, 1.5), -1.0, 0.8),
    ]
)


def build(path=None):
    from scenes import kit

    kit.empty_scene()
    kit.mesh_object("Floor", "plane", (0, 0, 0), size=20, material=kit.principled("Floor", (0.8, 0.8, 0.8)))
    glass = kit.node_material("Glass", "ShaderNodeBsdfGlass", IOR=1.5)
    ball = kit.mesh_object("Ball", "sphere", (0, 0, RADIUS * 1.5), size=2 * RADIUS, material=glass)
    for poly in ball.data.polygons:
        poly.use_smooth = True  # a faceted ball scatters the caustic into streaks
    light = kit.light("Light", "POINT", (PARAMS[0].start, PARAMS[1].start, LIGHT_Z), 600.0)
    light.data.shadow_soft_size = 0.4  # a sphere light: hittable by refracted rays, so Cycles finds the caustic
    kit.ortho_top_camera(3.6)  # sees x, y ∈ [-1.8, 1.8]; the light (x ≥ 2) stays outside
    kit.world((0.05, 0.05, 0.05), 1.0)
    kit.quiet_indirect()
    return kit.finish(path)


TASK = task.SceneTask(
    name="caustic",
    title="CAUSTIC",
    description="a light outside the view, found from a glass sphere's caustic",
    params=PARAMS,
    build=build,
    quick_renders=1000,
    prdpt_preset="caustic",
    paper=task.PaperResult(image_mse=1.89e-5, param_mse=9.76e-5, samples=4, iterations=500, spp=32),
)

if __name__ == "__main__":
    sys.exit(task.main(TASK))

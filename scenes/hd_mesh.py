"""MESH (ZeroGrads Fig. 5.10): a sphere's 2,562 vertices (642 at ci size) deformed to a hidden shape seen
from four cameras at once.

A white diffuse sphere lit by four suns of different colours (so a surface's colour tells its normal) is
seen by four cameras at the corners of a tetrahedron, two from above and two from below. Every vertex
faces some camera at a cosine of about 0.2 or more and some sun at 0.33 (``coverage``, tested). Three
cameras cannot do this: a camera 4 radii away sees less than a hemisphere, and three such caps leave part
of a sphere unseen (the first version of this scene had three, and 60 of its 642 vertices changed no pixel
of any view). The four views side by side are one image (``cameras``), one loss. The parameter is one
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
# four cameras at the corners of a tetrahedron (two above, two below), 6 radii away: every vertex faces
# one of them at a cosine of about 0.2 (three cameras 4 radii away, at any elevations tried, leave
# about 50 of 642 vertices unseen or edge-on)
DISTANCE, LENS = 6.0, 75.0
_ELEVATION = math.degrees(math.asin(1.0 / math.sqrt(3.0)))  # 35.26°
VIEWS = tuple(
    (
        name,
        (
            DISTANCE * math.cos(math.radians(el)) * math.cos(math.radians(az)),
            DISTANCE * math.cos(math.radians(el)) * math.sin(math.radians(az)),
            DISTANCE * math.sin(math.radians(el)),
        ),
    )
    for name, az, el in (
        ("FrontUp", -90.0, _ELEVATION),
        ("BackUp", 90.0, _ELEVATION),
        ("LeftDown", 180.0, -_ELEVATION),
        ("RightDown", 0.0, -_ELEVATION),
    )
)
SUN_COLORS = ((1.0, 0.2, 0.2), (0.2, 1.0, 0.2), (0.25, 0.25, 1.0), (1.0, 0.8, 0.2))
CAMERAS = tuple(name for name, _ in VIEWS)
BOUND = 0.3  # offsets in sphere radii


def sun_direction(location) -> np.ndarray:
    """The unit direction a camera's sun shines from: the camera's, tilted about 13° further towards the
    pole on its side, so each view shows some shading and the four suns light every normal at a cosine of
    0.3 or more."""
    d = np.asarray(location, dtype=float)
    d = d / np.linalg.norm(d) + np.array([0.0, 0.0, math.copysign(0.3, d[2])])
    return d / np.linalg.norm(d)


def coverage(points) -> tuple[np.ndarray, np.ndarray]:
    """Per rest vertex of the unit sphere: the largest cosine at which any camera sees it (its normal
    against the direction to the camera; ≤ 0: no camera sees it), and the largest cosine at which any
    sun lights it. A vertex no camera sees, or no sun lights, changes no pixel: nothing can fit it."""
    points = np.asarray(points, dtype=float)
    seen, lit = np.full(len(points), -1.0), np.full(len(points), -1.0)
    for _, location in VIEWS:
        to_camera = np.asarray(location)[None] - points
        to_camera /= np.linalg.norm(to_camera, axis=1, keepdims=True)
        seen = np.maximum(seen, np.sum(to_camera * points, axis=1))
        lit = np.maximum(lit, points @ sun_direction(location))
    return seen, lit


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
        for (name, location), color in zip(VIEWS, SUN_COLORS):
            cam = kit.camera(location, target=(0.0, 0.0, 0.0), lens=LENS)
            cam.name = cam.data.name = name
            # a sun of its own colour beside each camera: every normal faces some sun, and a surface's
            # colour tells which way it faces
            sun = kit.light(f"Sun{name}", "SUN", (0, 0, 5), 2.5)
            sun.data.color = color
            sun.rotation_euler = Vector(sun_direction(location)).to_track_quat("Z", "Y").to_euler()
        kit.world((0.0, 0.0, 0.0), 1.0)
        scene = kit.set_resolution(long_side, long_side)
        scene.camera = scene.objects[CAMERAS[0]]
        return kit.finish(path, long_side, long_side)

    return hk.hd_task(
        "hd_mesh",
        "MESH",
        f"a sphere's {len(points):,} vertices deformed to a shape seen from four cameras",
        size,
        [shape],
        build,
        renders=1000,  # ci: seed 0 is at 0.0061 radii after 600 renders, 0.0044 after 1,000
        long_side=long_side,
        cameras=CAMERAS,
    )


TASK = spec("full")

if __name__ == "__main__":
    sys.exit(task.main(TASK, spec=spec))

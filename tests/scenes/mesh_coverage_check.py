"""Subprocess helper of test_hd_mesh.py: build MESH at ci size, push its least-covered vertex (the one whose
best camera and best sun are most nearly edge-on) out by 0.05 radii, and render both shapes at the same
noise seed. Prints one JSON line: {"vertex", "seen", "lit", "changed_pixels", "max_change"}."""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from blender_addon import jobspec, params  # noqa: E402
from blender_addon.worker import SceneRenderer  # noqa: E402
from optimizer_server.problems.sphere import icosphere  # noqa: E402
from scenes import hd_mesh  # noqa: E402

task = hd_mesh.spec("ci")
task.build()
points, _ = icosphere(hd_mesh.SUBDIVISIONS["ci"])
seen, lit = hd_mesh.coverage(points)
worst = int(np.argmin(np.minimum(seen, lit)))
refs = [p.ref() for p in task.params]
width, height = task.resolution(48)
with SceneRenderer(threads=1) as renderer:
    renderer.setup(jobspec.render_settings(width, height, 8, refs, cameras=task.cameras), [p.name for p in task.params])
    start = np.array(params.read_values(renderer.bindings))  # one block: an offset per vertex
    pushed = start.copy()
    pushed[worst] += 0.05
    a = renderer.render_one(start, seed=7)
    b = renderer.render_one(pushed, seed=7)
change = np.abs(b.astype(np.float64) - a.astype(np.float64))
per_pixel = change.reshape(change.shape[0], change.shape[1], -1).max(axis=2)  # largest over the channels
print(
    json.dumps(
        {
            "vertex": worst,
            "seen": float(seen[worst]),
            "lit": float(lit[worst]),
            "changed_pixels": int(np.sum(per_pixel > 1e-3)),
            "max_change": float(change.max()),
        }
    )
)

"""Subprocess helper of test_prdpt_scenes.py: for each job file given, open its .blend, resolve its
parameters and render the start and the ground truth (tiny, few spp). Prints one JSON line per job:
{"job", "start_vs_target": MSE, "noise": MSE of two target renders with different seeds}."""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import bpy  # noqa: E402
import numpy as np  # noqa: E402

from blender_addon import jobfile, jobspec, params  # noqa: E402
from blender_addon.worker import SceneRenderer  # noqa: E402

for path in sys.argv[1:]:
    job = jobfile.load(path)
    bpy.ops.wm.open_mainfile(filepath=job.blend, load_ui=False)
    refs = job.params  # what a batch job sends the workers (their locators)
    names = [p.name for p in job.params]
    bindings = params.resolve_all(refs)
    start = params.read_values(bindings)
    target = [job.target_values[n] for n in names]
    with SceneRenderer() as renderer:
        renderer.setup(jobspec.render_settings(job.width, job.height, job.samples, refs), names)
        a = renderer.render_one(start, seed=3)
        b = renderer.render_one(target, seed=3)
        c = renderer.render_one(target, seed=4)
    print(
        json.dumps(
            {
                "job": os.path.basename(path),
                "start_vs_target": float(np.mean((a - b) ** 2)),
                "noise": float(np.mean((b - c) ** 2)),
                "start": start,
            }
        ),
        flush=True,
    )

"""Render-path benchmark (`make bench-render`): what a render costs beyond Cycles' own work.

    python -m benchmarks.bench_render [--repeats 30] [--budget 240] [--out out/bench]

1. In process, per render at 64² and 128² (16 spp, the SHADOWS demo scene): the time spent
   inside Cycles' render() ("engine"), and everything around it: writing the parameter values,
   bpy.ops.render.render's own set-up, reading the pixels back. Both pixel paths are measured:
   in memory (the worker's default) and an EXR file in /dev/shm.
2. Through the whole pipeline (optimizer server + worker processes over ZeroMQ): renders per
   second with 1 and 2 workers on this machine (PRDPT with 8 samples per iteration, 64², 16 spp).

Figures are printed (and written as JSON to --out); nothing here asserts a timing.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import bpy
import numpy as np

from blender_addon import jobspec, params
from blender_addon.worker import SceneRenderer
from optimizer_server.wire.paramref import ParamRef
from scenes import shadows_demo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PATHS = [
    ParamRef("x", 'objects["Occluder"].location', 0),
    ParamRef("y", 'objects["Occluder"].location', 1),
]


def median_ms(values):
    return 1e3 * statistics.median(values)


def in_process(size: int, samples: int, repeats: int, readback: str) -> dict:
    """Median per-render times (ms) of apply → render → pixels, one sample at a time."""
    scene = bpy.context.scene
    settings = jobspec.render_settings(size, size, samples, PATHS)
    rng = np.random.default_rng(0)
    total, engine, apply_, grab = [], [], [], []
    with SceneRenderer(scene, readback=readback) as worker:
        worker.setup(settings, ["x", "y"])
        for i in range(repeats + 3):
            values = [rng.uniform(*shadows_demo.BOUNDS["x"]), rng.uniform(*shadows_demo.BOUNDS["y"])]
            t0 = time.perf_counter()
            params.apply_values(worker._bindings, values)
            t1 = time.perf_counter()
            worker.renderer.render(seed=7)
            t2 = time.perf_counter()
            if i >= 3:  # the first renders build the persistent scene
                total.append(t2 - t0)
                apply_.append(t1 - t0)
                engine.append(worker.renderer.engine_seconds)
                grab.append(worker.renderer.grab_seconds)
    # Overhead is paired per render (total − engine of the same render): robust on a busy machine.
    overhead = [t - e for t, e in zip(total, engine)]
    return {
        "size": size,
        "samples": samples,
        "readback": readback,
        "total_ms": median_ms(total),
        "engine_ms": median_ms(engine),
        "overhead_ms": median_ms(overhead),
        "overhead_pct": 100 * statistics.median(o / e for o, e in zip(overhead, engine)),
        "apply_ms": median_ms(apply_),
        "grab_ms": median_ms(grab) if readback == "memory" else None,
    }


def pipeline(blend: str, workers: int, budget: int) -> dict:
    """Renders per second through server + workers (started before the clock starts)."""
    from blender_addon.runner import Run

    cores = os.cpu_count() or 1
    run = Run(blend, worker_count=workers, threads_per_worker=max(1, cores // workers))
    settings = jobspec.render_settings(64, 64, 16, PATHS)
    space = {
        "params": [
            {"name": "x", "lo": shadows_demo.BOUNDS["x"][0], "hi": shadows_demo.BOUNDS["x"][1]},
            {"name": "y", "lo": shadows_demo.BOUNDS["y"][0], "hi": shadows_demo.BOUNDS["y"][1]},
        ]
    }
    try:
        run.start(
            space,
            "prdpt",
            budget=budget,
            seed=0,
            settings=settings,
            options={"samples": 8},
            target_values=shadows_demo.TARGET,
            start=shadows_demo.START,
        )
        first = None
        idle = []  # per iteration: wall time not spent inside a worker's render_batch, per render
        while not run.finished:
            for kind, body in run.poll(0.05):
                if kind == "progress":
                    if first is None:  # clock starts after iteration 1: workers are warm
                        first = (time.perf_counter(), body["evaluations"])
                    else:
                        t = body["timings"]
                        idle.append((t["iteration_s"] - t["render_s"] / workers) / 8)
                    last = (time.perf_counter(), body["evaluations"])
    finally:
        run.stop()
    renders = last[1] - first[1]
    seconds = last[0] - first[0]
    return {
        "workers": workers,
        "threads_per_worker": max(1, cores // workers),
        "renders": renders,
        "seconds": seconds,
        "renders_per_s": renders / seconds,
        "ms_per_render": 1e3 * seconds / renders,
        "pipeline_overhead_ms_per_render": median_ms(idle),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--budget", type=int, default=240, help="renders per pipeline run")
    parser.add_argument("--out", default=os.path.join(ROOT, "out", "bench"))
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    blend = os.path.join(tempfile.mkdtemp(prefix="zerograds_bench_"), "shadows.blend")
    shadows_demo.build(blend)
    print(f"# {' '.join([os.path.relpath(sys.argv[0], ROOT)] + (argv or sys.argv[1:]))}")
    print(
        f"# bpy {bpy.app.version_string}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (shared machine: noisy)"
    )
    rows = []
    print(
        "\nper render, in process, 16 spp (median ms)   total   engine   overhead beyond Cycles   apply   copy pixels"
    )
    for size in (64, 128):
        for readback in ("memory", "exr"):
            r = in_process(size, 16, args.repeats, readback)
            rows.append(r)
            label = "pixels in memory" if readback == "memory" else "pixels via EXR file"
            print(
                f"  {size:3d}²  {label:20s}  {r['total_ms']:7.2f}  {r['engine_ms']:7.2f}   "
                f"{r['overhead_ms']:6.2f} ms = {r['overhead_pct']:5.1f} %      {r['apply_ms']:.3f}   "
                + (f"{r['grab_ms']:.3f}" if r["grab_ms"] is not None else "(in overhead)")
            )
    pipe = []
    if not args.skip_pipeline:
        print("\nthrough server + worker processes, 64² 16 spp, PRDPT 8 samples/iteration")
        for workers in (1, 2):
            p = pipeline(blend, workers, args.budget)
            pipe.append(p)
            print(
                f"  {workers} worker(s) × {p['threads_per_worker']} thread(s): {p['renders_per_s']:6.1f} renders/s "
                f"({p['ms_per_render']:.1f} ms per render, {p['renders']} renders in {p['seconds']:.1f} s); "
                f"server + messaging {p['pipeline_overhead_ms_per_render']:.2f} ms per render"
            )
    with open(os.path.join(args.out, "bench_render.json"), "w") as f:
        json.dump({"in_process": rows, "pipeline": pipe, "load_average": os.getloadavg()[0]}, f, indent=1)
    print(f"\nwritten: {os.path.join(args.out, 'bench_render.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

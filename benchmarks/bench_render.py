"""Render-path benchmark (`make bench-render`): what a render costs beyond Cycles' own work.

    python -m benchmarks.bench_render [--repeats 30] [--budget 240] [--out out/bench]

1. In process, per render at 64² and 128² (16 spp, the SHADOWS demo scene): the time spent
   inside Cycles' render() ("engine"), and everything around it: writing the parameter values,
   bpy.ops.render.render's own set-up, reading the pixels back. Both pixel paths are measured:
   in memory (the worker's default) and an EXR file in /dev/shm.
2. Array blocks (issue 16), 64² 16 spp: writing a sample of a 256×256×3 texture (196,608 texels) or of
   a 2,562-vertex mesh (7,686 coordinates; and 2,562 offsets along the normals; and a Float attribute of
   its 2,562 points that a geometry-nodes modifier reads to move them) and the scene sync it causes,
   beside the render time. Renders with a write and renders without one alternate; the sync is
   their difference beyond the write itself.
3. Through the whole pipeline (optimizer server + worker processes over ZeroMQ): renders per
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


ARRAY_REFS = {
    "texture 256×256×3 (196,608 texels)": ParamRef(
        "albedo", 'images["Albedo"]', lo=0.0, hi=1.0, array={"kind": "image", "channels": "RGB"}
    ),
    "mesh 2,562×3 (7,686 coordinates)": ParamRef("shape", 'objects["Blob"]', array={"kind": "mesh", "mode": "xyz"}),
    "mesh 2,562 normal offsets": ParamRef("shape", 'objects["Blob"]', array={"kind": "mesh", "mode": "normal"}),
    "attribute 2,562 (geometry nodes)": ParamRef(
        "lift", 'objects["Blob"]', lo=0.0, hi=0.1, array={"kind": "attribute", "attribute": "lift"}
    ),
}


def build_array_scene() -> None:
    """A canvas with a packed 256×256 float texture and a 2,562-vertex sphere beside it (64², 16 spp)."""
    from optimizer_server.problems.sphere import icosphere
    from scenes import highdim_kit as hk
    from scenes import kit

    kit.empty_scene()
    image = hk.float_image("Albedo", hk.painting(256, 256, seed=5))
    hk.textured_quad("Canvas", 2.0, hk.texture_material("Canvas", image))
    points, faces = icosphere(4)
    hk.mesh_from("Blob", 0.5 * points, faces, kit.principled("Blob", (0.8, 0.8, 0.8)), location=(0.4, 0, 0.6))
    kit.camera((0.0, -0.9, 3.4), target=(0.0, 0.0, 0.0), lens=45)
    kit.light("Lamp", "AREA", (1.2, -1.6, 3.0), 120.0).data.size = 2.0
    kit.world((0.2, 0.2, 0.22), 1.0)


def array_block(label: str, repeats: int) -> dict:
    """Median ms: a render with nothing changed, the write of one sample, and the extra sync it causes."""
    ref = ARRAY_REFS[label]
    if ref.array.kind == "attribute":  # the last row: the mesh rows ran without the modifier
        from scenes import highdim_kit as hk

        hk.geometry_nodes_lift(bpy.data.objects["Blob"])
    settings = jobspec.render_settings(64, 64, 16, [ref])
    rng = np.random.default_rng(0)
    still, changed, write = [], [], []
    with SceneRenderer(bpy.context.scene) as worker:
        worker.setup(settings, [ref.name])
        binding = worker.bindings[0]
        base = binding.read()
        lo, hi = binding.default_bounds() if ref.lo is None else (ref.lo, ref.hi)
        for i in range(repeats + 3):
            values = np.clip(base + rng.normal(0.0, 0.02 * (hi - lo), base.size), lo, hi)
            t0 = time.perf_counter()
            params.apply_values(worker.bindings, values)
            t1 = time.perf_counter()
            worker.renderer.render(seed=7)
            t2 = time.perf_counter()
            worker.renderer.render(seed=7)  # nothing changed since: no sync
            t3 = time.perf_counter()
            if i >= 3:
                write.append(t1 - t0)
                changed.append(t2 - t1)
                still.append(t3 - t2)
    render_ms, write_ms = median_ms(still), median_ms(write)
    sync_ms = 1e3 * statistics.median(c - s for c, s in zip(changed, still))
    return {
        "block": label,
        "values": binding.size,
        "render_ms": render_ms,
        "write_ms": write_ms,
        "sync_ms": sync_ms,
        "share_pct": 100 * (write_ms + sync_ms) / render_ms,
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
    print("\narray blocks, 64² 16 spp (median ms)           render   write   sync   (write + sync) ÷ render")
    build_array_scene()
    blocks = []
    for label in ARRAY_REFS:
        b = array_block(label, args.repeats)
        blocks.append(b)
        print(
            f"  {label:38s} {b['render_ms']:7.2f}  {b['write_ms']:6.2f}  {b['sync_ms']:5.2f}   {b['share_pct']:5.1f} %"
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
        json.dump(
            {"in_process": rows, "array_blocks": blocks, "pipeline": pipe, "load_average": os.getloadavg()[0]},
            f,
            indent=1,
        )
    print(f"\nwritten: {os.path.join(args.out, 'bench_render.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

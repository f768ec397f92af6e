"""GPU against CPU, side by side in one run (issue 17; run by scripts/device_check.sh):

1. Cycles renders per second of the SHADOWS demo scene at 64² and 256² (16 spp, the worker's renderer:
   persistent data, pixels read in memory), on the CPU and on the best GPU backend Cycles reports;
2. the optimiser's time per iteration at n = 196,608 (the paper's TEXTURE: ``zerograds`` preset
   ``efficient`` and ``gauss_newton``, 20 renders per iteration), with torch on CUDA and on the CPU.

On a machine without a GPU it says so and fills in the CPU column only. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

N_TEXTURE = 256 * 256 * 3


def cycles_rates(sizes, repeats: int) -> dict:
    """{device: {size: renders/s}} for the CPU and the best GPU backend, if any."""
    import bpy

    from blender_addon import devices, jobspec, params
    from blender_addon.worker import SceneRenderer
    from optimizer_server.wire.paramref import ParamRef
    from scenes import shadows_demo

    shadows_demo.build()
    paths = [ParamRef("x", 'objects["Occluder"].location', 0)]
    backend = devices.resolve("auto")
    targets = ["cpu"] + ([backend] if backend != "cpu" else [])
    rates: dict = {}
    for target in targets:
        label = devices.select(bpy.context.scene, target)
        rates[label] = {}
        with SceneRenderer(bpy.context.scene, device="CPU" if target == "cpu" else "GPU") as worker:
            for size in sizes:
                worker.setup(jobspec.render_settings(size, size, 16, paths), ["x"])
                times = []
                for i in range(repeats + 2):
                    t0 = time.perf_counter()
                    params.apply_values(worker._bindings, [0.1 * (i % 5)])
                    worker.renderer.render(seed=7)
                    if i >= 2:  # the first renders build the persistent scene (and GPU kernels)
                        times.append(time.perf_counter() - t0)
                rates[label][size] = 1.0 / statistics.median(times)
    return rates


def optimiser_ms(method: str, device: str, iterations: int) -> float:
    """Median time per iteration (ask + tell) of ``method`` at n = 196,608 with torch on ``device``."""
    import torch

    from optimizer_server.evaluation import Evaluation, Loop
    from optimizer_server.methods import Capabilities, create_method

    n = N_TEXTURE
    preset = {"preset": "efficient"} if method == "zerograds" else {}
    m = create_method(
        method,
        n,
        budget=10**7,
        seed=0,
        x0=np.full(n, 0.5),
        device=torch.device(device),
        capabilities=Capabilities(residuals=True),
        **preset,
    )
    target = np.random.default_rng(0).random(n)

    def evaluate(values, seeds, residuals):  # a quadratic bowl: its residuals have n entries
        r = ((values - target) / np.sqrt(n)).astype(np.float32)
        return Evaluation((r.astype(np.float64) ** 2).sum(axis=1), r)

    steps = Loop(m, m.space).run(evaluate, lambda step: step.iteration >= iterations)
    if device == "cuda":
        torch.cuda.synchronize()
    times = [s.optimizer_s for s in steps]
    return 1000 * statistics.median(times[len(times) // 2 :])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_device", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10, help="timed renders per size and device")
    parser.add_argument("--iterations", type=int, default=6, help="optimiser iterations per method and device")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    args = parser.parse_args(argv)
    import torch

    rates = cycles_rates(args.sizes, args.repeats)
    cuda = torch.cuda.is_available()
    if len(rates) == 1 and not cuda:
        print("no GPU found: Cycles reports no GPU device (OptiX, CUDA, HIP, oneAPI, Metal) and torch sees no CUDA;")
        print("only the CPU column is measured here. Run scripts/device_check.sh on a machine with an NVIDIA GPU.")
    labels = list(rates)
    gpu = labels[1] if len(labels) > 1 else "GPU: none found"
    print(f"\nCycles renders/s, SHADOWS scene, 16 spp      {'CPU':>16s}   {gpu:>28s}")
    for size in args.sizes:
        on_gpu = f"{rates[labels[1]][size]:28.1f}" if len(labels) > 1 else f"{'—':>28s}"
        print(f"  {size:4d}²                                     {rates['CPU'][size]:16.1f}   {on_gpu}")
    on_cuda = "CUDA" if cuda else "CUDA: none found"
    print(f"\noptimiser, ms per iteration at n = {N_TEXTURE:,}   {'CPU':>16s}   {on_cuda:>28s}")
    for method in ("zerograds", "gauss_newton"):
        cpu_ms = optimiser_ms(method, "cpu", args.iterations)
        gpu_ms = f"{optimiser_ms(method, 'cuda', args.iterations):28.0f}" if cuda else f"{'—':>28s}"
        label = "zerograds (efficient)" if method == "zerograds" else method
        print(f"  {label:40s}  {cpu_ms:16.0f}   {gpu_ms}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

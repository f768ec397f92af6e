"""Optimiser time and memory at the paper's TEXTURE size (issue 6, point 3).

    .venv/bin/python -m benchmarks.bench_texture_size [--n 196608] [--preset efficient] [--iterations 8]
                                                      [--set surrogate_steps=5 ...]
    .venv/bin/python -m benchmarks.bench_texture_size --method gauss_newton --iterations 100

Builds the method at n parameters, feeds it a cheap quadratic (the objective is not what is timed;
methods that use residual vectors get x - target, as from an image of n pixels), and prints the median
time of ask() and tell() per iteration over the last half of the iterations (gauss_newton's model is
full after ~70 iterations at this n, where `memory_gib` allows 1,365 directions, and then drops its
older half every ~35), and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys

import numpy as np
import torch

from optimizer_server.evaluation import Evaluation, Loop
from optimizer_server.methods import Capabilities, create_method


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=256 * 256 * 3)
    parser.add_argument("--method", default="zerograds")
    parser.add_argument("--preset", default=None, help="default: efficient for zerograds")
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--set", nargs="*", default=[], metavar="OPTION=JSON", help="override preset options")
    args = parser.parse_args(argv)
    overrides = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}
    torch.set_num_threads(1)
    n = args.n
    preset = args.preset or ("efficient" if args.method == "zerograds" else None)
    method = create_method(
        args.method,
        n,
        budget=10**7,
        seed=0,
        x0=np.full(n, 0.5),
        preset=preset,
        capabilities=Capabilities(residuals=True),
        **overrides,
    )
    target = np.random.default_rng(0).random(n)

    def evaluate(values, seeds, residuals):  # a quadratic bowl; its residuals have n entries
        r = ((values - target) / np.sqrt(n)).astype(np.float32)
        return Evaluation((r.astype(np.float64) ** 2).sum(axis=1), r)

    times = [
        step.optimizer_s
        for step in Loop(method, method.space).run(evaluate, lambda step: step.iteration >= args.iterations)
    ]
    steady = times[len(times) // 2 :] if len(times) > 4 else times
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB
    changed = "".join(f" {k}={v}" for k, v in overrides.items())
    surrogate = getattr(method, "surrogate", None)
    model = (
        f"{type(surrogate).__name__} with {sum(p.numel() for p in surrogate.parameters()):,} weights"
        if surrogate is not None
        else f"{len(getattr(method, 'offsets', ()))} directions in the model"
    )
    print(
        f"{args.method} preset={preset}{changed} n={n:,}: {1000 * statistics.median(steady):.0f} ms per "
        f"iteration (ask + tell, median of the last {len(steady)}, 1 torch thread), {model}, "
        f"peak RSS {peak_gib:.2f} GiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

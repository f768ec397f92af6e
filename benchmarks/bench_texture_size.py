"""Optimiser time and memory of ZeroGrads at the paper's TEXTURE size (issue 6, point 3).

    .venv/bin/python benchmarks/bench_texture_size.py [--n 196608] [--preset efficient] [--iterations 8]
                                                      [--set surrogate_steps=5 ...]

Builds the method at n parameters, feeds it a cheap quadratic (the objective is not what is timed),
and prints the median time of ask() and tell() per iteration (the first two iterations, which warm up
the allocator, left out), the surrogate's weight count and the process's peak resident memory.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time

import numpy as np
import torch

from optimizer_server.methods import create_method


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=256 * 256 * 3)
    parser.add_argument("--preset", default="efficient")
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--set", nargs="*", default=[], metavar="OPTION=JSON", help="override preset options")
    args = parser.parse_args(argv)
    overrides = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}
    torch.set_num_threads(1)
    n = args.n
    method = create_method("zerograds", n=n, budget=10 ** 7, seed=0, x0=np.full(n, 0.5), preset=args.preset,
                           **overrides)
    target = np.random.default_rng(0).random(n)
    times = []
    for _ in range(args.iterations):
        t0 = time.perf_counter()
        batch = method.ask()
        t1 = time.perf_counter()
        losses = ((batch.x - target) ** 2).mean(axis=1)
        t2 = time.perf_counter()
        method.tell(batch, losses)
        times.append((t1 - t0) + (time.perf_counter() - t2))
    weights = sum(p.numel() for p in method.surrogate.parameters())
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # Linux: KiB
    changed = "".join(f" {k}={v}" for k, v in overrides.items())
    print(f"zerograds preset={args.preset}{changed} n={n:,}: {1000 * statistics.median(times[2:] or times):.0f} ms per "
          f"iteration (ask + tell, median of {len(times[2:] or times)}, 1 torch thread), "
          f"{type(method.surrogate).__name__} with {weights:,} weights, peak RSS {peak_gib:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

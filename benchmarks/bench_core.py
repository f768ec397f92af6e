"""Benchmark of the optimizer core (``make bench-core``).

1. Disc task (32², hard edges, non-overlapping start): per method, renders until the parameter
   error first drops below 0.02 and the final error — medians over 5 seeds at equal budgets.
2. The optimiser's own time per iteration (ask + tell, no objective) at n = 10, 1,000 and 100,000.

Prints Markdown tables. Reproduce with: make bench-core   (or .venv/bin/python -m benchmarks.bench_core)
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

import numpy as np
import torch

from optimizer_server import minimize
from optimizer_server.evaluation import Evaluation, Loop
from optimizer_server.methods import Capabilities, available_methods, create_method
from optimizer_server.problems.disc import DiscTask
from optimizer_server.wire.errors import ConfigError, ZeroGradsError

DISC_RUNS = {  # configuration → option overrides: the settings the convergence tests state
    "prdpt:disc": {},
    "zerograds:disc": {},
    "zerograds:paper": {},
    "fd": dict(eps=1e-3, lr=0.01),
    "spsa": {},
    "cmaes": {},
    "nevergrad": {},
    "auto": {},
}


def disc_table(budget: int, seeds: int) -> None:
    task = DiscTask(size=32)
    print(f"\n### Disc task: renders to parameter error < 0.02 (median of {seeds} seeds, budget {budget})\n")
    print("| method | solved | renders to < 0.02 (median) | final error (median) | optimiser ms / iteration |")
    print("|---|---|---|---|---|")
    for label, options in DISC_RUNS.items():
        method = label
        firsts, finals, overhead = [], [], []
        for seed in range(seeds):
            res = minimize(
                task.loss, task.space, method=method, budget=budget, seed=seed, x0=task.start_centre, **options
            )
            errs = task.parameter_error([h["x"] for h in res.history])
            hit = np.flatnonzero(errs < 0.02)
            firsts.append(res.history[hit[0]]["evaluations"] if len(hit) else None)
            finals.append(float(task.parameter_error(res.x)[0]))
            overhead += [h["optimizer_seconds"] for h in res.history]
        solved = sum(f < 0.02 for f in finals)
        reached = sorted(f for f in firsts if f is not None)
        # a median over all seeds, counting "never" as worse than any number
        med = reached[len(firsts) // 2] if len(reached) > len(firsts) // 2 else "not reached"
        print(
            f"| {label} | {solved}/{seeds} | {med} | {statistics.median(finals):.4f} | "
            f"{1000 * statistics.median(overhead):.3f} |",
            flush=True,
        )


def overhead_row(method: str, n: int, iterations: int) -> str:
    try:
        m = create_method(method, n, budget=100_000, seed=0, capabilities=Capabilities(residuals=True))
    except ConfigError as exc:
        return f"n/a ({str(exc).split(';')[0].split(': ', 1)[-1]})"
    except MemoryError:
        return "n/a (out of memory)"
    target = np.full(n, 0.3)

    def evaluate(values, seeds, residuals):  # a quadratic bowl; its residuals have n entries
        r = (values - target) / np.sqrt(n)
        return Evaluation((r**2).sum(1), r)

    times = []
    deadline = time.perf_counter() + 60

    def timed(step) -> bool:
        if step.iteration > 2:  # the first iterations pay one-off allocations
            times.append(step.optimizer_s)
        return len(times) >= iterations or (time.perf_counter() > deadline and len(times) >= 3)

    try:
        Loop(m, m.space).run(evaluate, timed)
    except ZeroGradsError as exc:
        return f"failed ({str(exc).split(';')[0][:60]})"
    med = statistics.median(times) * 1000
    return f"{med:.2f} ms ({m.batch_size} renders/it)"


def overhead_table(dims) -> None:
    print(
        f"\n### Optimiser time per iteration (ask + tell, objective excluded; median; device "
        f"{'cuda' if torch.cuda.is_available() else 'cpu'}, {torch.get_num_threads()} torch threads)\n"
    )
    print("| method | " + " | ".join(f"n = {n:,}" for n in dims) + " |")
    print("|---|" + "---|" * len(dims))
    for method in available_methods():
        cells = [overhead_row(method, n, 30 if n <= 1000 else 5) for n in dims]
        print(f"| {method} | " + " | ".join(cells) + " |", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--dims", type=int, nargs="+", default=[10, 1000, 100_000])
    parser.add_argument("--skip-disc", action="store_true")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (the server's default is 1: small tensors, busy cores)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(
        f"# bench-core  ({platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"python {platform.python_version()})"
    )
    print("command: make bench-core  (.venv/bin/python -m benchmarks.bench_core " + " ".join(sys.argv[1:]) + ")")
    if not args.skip_disc:
        disc_table(args.budget, args.seeds)
    overhead_table(args.dims)
    return 0


if __name__ == "__main__":
    sys.exit(main())

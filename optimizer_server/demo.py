"""The analytic demo: find a hidden disc's position from a start where no gradient exists.

Runs PRDPT and ZeroGrads (and CMA-ES for reference) on the hard-edged disc task at equal render
budgets, prints progress, and writes pictures (start / results / target, loss curves).
"""

from __future__ import annotations

import os
import time

import numpy as np

from .driver import minimize
from .pictures import image_strip, plot_losses
from .problems.disc import DiscTask
from .wire.progress import ProgressPrinter

RUNS = ("prdpt:disc", "zerograds:disc", "auto")  # configurations (see tests/core/test_convergence.py)


def run_disc_demo(output: str = "out/demo-disc", budget: int = 1200, seed: int = 0) -> dict:
    task = DiscTask(size=32)
    start = np.array(task.start_centre)
    print(
        f"Disc task: {task.size}x{task.size} hard-edged image, start {tuple(start)} does not overlap the "
        f"target {task.target_centre}: the loss is flat around the start."
    )
    results, curves = {}, {}
    for method in RUNS:
        t0 = time.perf_counter()
        progress = ProgressPrinter(method, budget, interval=0.5)
        res = minimize(task.loss, task.space, method=method, budget=budget, seed=seed, x0=start, callback=progress)
        err = float(task.parameter_error(res.x)[0])
        print(
            f"[{method}] result ({res.x[0]:.4f}, {res.x[1]:.4f})  parameter error {err:.4f}  "
            f"loss {res.loss:.3g}  renders {res.evaluations}  {time.perf_counter() - t0:.1f} s"
        )
        results[method] = {
            "x": res.x.tolist(),
            "parameter_error": err,
            "loss": res.loss,
            "evaluations": res.evaluations,
        }
        curves[method] = res.history
    images = [task.render([start])[0]] + [task.render([results[m]["x"]])[0] for m in RUNS] + [task.target]
    labels = ["start"] + [f"{m} (err {results[m]['parameter_error']:.3f})" for m in RUNS] + ["target"]
    strip = image_strip(os.path.join(output, "images.png"), images, labels)
    curve = plot_losses(os.path.join(output, "loss.png"), curves, title="disc task: batch-mean loss vs renders")
    print(f"Pictures: {strip}\n          {curve}")
    return results

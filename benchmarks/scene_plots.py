"""The scene benchmark's pictures: convergence plots from the runs' histories and a strip of every
task's start and target (matplotlib through ``optimizer_server.pictures``)."""

from __future__ import annotations

import glob
import json
import os
from collections import defaultdict

from scenes import registry as task_registry


def _curves(out: str):
    """(task, method) → list of histories (one per seed)."""
    curves = defaultdict(list)
    for path in sorted(glob.glob(os.path.join(out, "histories", "*.json"))):
        with open(path) as f:
            data = json.load(f)
        curves[(data["task"], data["method"])].append(data["history"])
    return curves


def plot(out: str, folder: str, methods: list[str], only=None) -> list[str]:
    """Median over seeds (interpolated on a common grid) of image loss and parameter MSE against
    renders and against seconds, one panel per task (like the thesis's Fig. 5.6); ``only``: these tasks."""
    import numpy as np

    from optimizer_server.pictures import _pyplot

    plt = _pyplot()
    curves = _curves(out)
    tasks = [
        t for t in task_registry.TASK_NAMES if any((t, m) in curves for m in methods) and (only is None or t in only)
    ]
    written = []
    for x_key, y_key, name in (
        ("renders", "loss", "convergence_renders"),
        ("seconds", "loss", "convergence_seconds"),
        ("renders", "param_mse", "param_error_renders"),
    ):
        cols = 3
        rows = (len(tasks) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.1 * rows), dpi=72, squeeze=False)
        for ax, t in zip(axes.flat, tasks):
            for m in methods:
                runs = curves.get((t, m))
                if not runs:
                    continue
                end = min(r[-1]["renders"] for r in runs)
                grid = np.linspace(0, end, 100)
                ys = np.median([np.interp(grid, [h["renders"] for h in r], [h[y_key] for h in r]) for r in runs], 0)
                xs = (
                    grid
                    if x_key == "renders"
                    else np.median(
                        [np.interp(grid, [h["renders"] for h in r], [h["seconds"] for h in r]) for r in runs], 0
                    )
                )
                ax.plot(xs, np.maximum(ys, 1e-12), label=m, linewidth=1.2)
            ax.set_yscale("log")
            ax.set_title(task_registry.load(t).title, fontsize=10)
            ax.set_xlabel("renders" if x_key == "renders" else "seconds (wall)")
            ax.set_ylabel("image MSE of the batch" if y_key == "loss" else "parameter MSE (normalised)")
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(tasks) :]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        fig.tight_layout()
        path = os.path.join(folder, f"{name}.png")
        os.makedirs(folder, exist_ok=True)
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


def _scene_strip(out: str, folder: str, only=None) -> str | None:
    """All tasks' start/target pictures (written by the units) in one image."""
    from optimizer_server.pictures import _pyplot

    plt = _pyplot()
    names = [
        t
        for t in task_registry.TASK_NAMES
        if os.path.exists(os.path.join(out, "scenes", f"{t}.png")) and (only is None or t in only)
    ]
    if not names:
        return None
    fig, axes = plt.subplots(len(names), 1, figsize=(4.8, 2.6 * len(names)), dpi=72, squeeze=False)
    for ax, t in zip(axes.flat, names):
        ax.imshow(plt.imread(os.path.join(out, "scenes", f"{t}.png")))
        ax.set_title(task_registry.load(t).title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    path = os.path.join(folder, "scenes.png")
    fig.savefig(path)
    plt.close(fig)
    return path

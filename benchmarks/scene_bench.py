"""Scene benchmark (`make bench-quick`, `make bench`): every method on every task, equal render budgets.

    python -m benchmarks.scene_bench --profile quick [--jobs 2] [--tasks cup,shadows | prdpt | zerograds]
                                     [--methods prdpt,fd]
                                     [--out out/bench-scenes/quick] [--report docs/results.md]

Runs (task × method × seed) with real Cycles renders on PRDPT's six tasks and ZeroGrads' seven
(``scenes/registry.py``; the ZeroGrads tasks at the profile's size: "ci" in smoke/quick, "full" in full).
Without --methods, PRDPT's tasks run METHODS, ZeroGrads' tasks ZEROGRADS_METHODS (ZeroGrads with the
paper's settings too, its Tab. 5.2 ablations and the baselines). Two ZeroGrads rows:
* ``zerograds``: this project's ZeroGrads, the measured-best preset "efficient" (docs/efficiency.md),
  started from the task's own σ0 and N (Tab. C.1, else PRDPT's Tab. B.1); the ablations change one
  component of it;
* ``zerograds@paper``: the thesis's algorithm and settings exactly (Tab. C.1; the paper defaults on
  PRDPT's tasks, for which the ZeroGrads paper gives none).
It writes under --out: runs.csv (one row per run), histories/*.json (loss and parameter error against
renders and seconds), and through ``scene_report.py`` the Markdown tables beside the papers' Tab. 4.2
and Tab. 5.2, and convergence plots.

How a run is measured:
* every method gets the same number of renders (the task's budget in the profile);
* parameter MSE: mean over the parameters of (estimate − truth)², both normalised to [0, 1] by the
  job's bounds; the estimate is the method's final θ (``current``), not its luckiest sample, with
  int / bool / link parameters rounded as the renderer applies them;
* image MSE: the estimate's render against the target, both rendered with the target's noise seed
  (so it measures the parameters' effect, not the Monte-Carlo noise between two renders);
* wall time: the whole run; optimiser overhead: the part spent inside ask() and tell().

Why in-process and not ``blender_addon.batch.run_job`` per run: a batch job starts a server and
Blender workers (seconds each, measured in docs/results.md); the renders here take ~10 ms, so
start-up would dominate. Each (task, method) runs in its own subprocess (bpy holds global state;
a crash costs one unit) that builds the scene once and renders in memory with the workers'
``SceneRenderer``. --jobs runs that many units side by side (one Cycles thread each).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from scenes import registry as task_registry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

METHODS = ("zerograds", "prdpt", "fd", "spsa", "cmaes", "nevergrad")  # PRDPT's tasks (issue 5's list)
ABLATIONS = ("nonn", "nolocal", "nosmooth")  # Tab. 5.2: no neural surrogate, no local sampling, no smoothing
# The ZeroGrads tasks' methods (issue 7): ZeroGrads, its ablations, and the others of Tab. 5.2.
ZEROGRADS_METHODS = (
    ("zerograds", "zerograds@paper") + tuple(f"zerograds@{a}" for a in ABLATIONS) + ("prdpt", "fd", "spsa", "cmaes")
)
TARGET_SEED = 1_000_003  # the batch runner's default target seed
FIELDS = (
    "task",
    "method",
    "seed",
    "n",
    "renders",
    "image_mse",
    "param_mse",
    "start_param_mse",
    "wall_s",
    "overhead_s",
    "width",
    "height",
    "spp",
)


@dataclass(frozen=True)
class Profile:
    name: str
    seeds: tuple
    long_side: int
    """Image size (long side, pixels); tasks may ask for more (SORT)."""
    spp: Callable
    budget: Callable
    """task → renders per run (the same for every method)."""
    size: str = "ci"
    """Size of the tasks that have sizes (the ZeroGrads tasks): "ci" or "full" (the paper's dimensions)."""


PROFILES = {
    "quick": Profile(
        "quick", seeds=(0, 1, 2), long_side=32, spp=lambda t: 16, budget=lambda t: t.quick_renders or t.budget
    ),
    "full": Profile(
        "full", seeds=(0, 1, 2, 3, 4), long_side=64, spp=lambda t: t.paper_spp, budget=lambda t: t.budget, size="full"
    ),
    # For tests: a handful of renders at the smallest size.
    "smoke": Profile("smoke", seeds=(0,), long_side=16, spp=lambda t: 4, budget=lambda t: 8),
}


def default_methods(task) -> tuple:
    """The method labels a task runs when --methods is not given."""
    return ZEROGRADS_METHODS if task.zerograds else METHODS


def prdpt_hyperparameters(task) -> dict:
    """The task's PRDPT settings (App. Tab. B.1: N, σ0, lr) with PRDPT's σ annealing, as ZeroGrads options."""
    from optimizer_server.methods import get_method_class

    if not task.prdpt_preset:
        return {}  # a task PRDPT's paper has no settings for: ZeroGrads on its defaults
    preset = get_method_class("prdpt").presets[task.prdpt_preset]
    return {"samples": preset["samples"], "sigma": preset["sigma"], "lr": preset["lr"], "anneal": True}


def zerograds_tuned(task) -> dict:
    """ZeroGrads with the measures that solved the analytic disc (tests/core/test_convergence.py):
    PRDPT's σ0 and lr for the task, σ annealed with steps shrinking along, refit before stepping,
    4 samples and 10 surrogate steps per iteration."""
    options = prdpt_hyperparameters(task)
    options.update(
        samples=max(4, options.get("samples", 4)),
        anneal=True,
        lr_follows_sigma=True,
        refit_first=True,
        surrogate_steps=10,
        surrogate_lr=0.01,
    )
    return options


def zerograds_efficient(task) -> dict:
    """The ``zerograds`` row: ZeroGrads' measured-best preset (docs/efficiency.md: trust steps of σ, σ
    annealed, replay, refit first, per-parameter σ for discrete kinds) started from the task's σ0: its
    Tab. C.1 σ0 (at least ZEROGRADS_SIGMA_FLOOR, 4 samples), else PRDPT's Tab. B.1 σ0 and N (σ0 capped at
    PRDPT_SIGMA_CAP). The preset's own σ0 = 0.05 was chosen for 1,024 interlinked texels, too narrow to see
    across the plateaus of a 4-parameter scene."""
    from optimizer_server.methods import get_method_class

    options = {"preset": "efficient"}
    if task.zerograds_preset:
        preset = get_method_class("zerograds").presets[task.zerograds_preset]
        options.update(sigma=max(preset["sigma"], ZEROGRADS_SIGMA_FLOOR), samples=ZEROGRADS_SAMPLES)
    elif task.prdpt_preset:
        preset = get_method_class("prdpt").presets[task.prdpt_preset]
        options.update(
            sigma=min(preset["sigma"], PRDPT_SIGMA_CAP), samples=max(4, preset["samples"] + preset["samples"] % 2)
        )
    return options


# PRDPT's σ0 (up to 0.8 of the range) was made for its Adam steps; the efficient preset steps σ per
# coordinate and bangs θ between the bounds with it. Measured on OCCLUSION (1-D, 3 seeds, quick profile):
# σ0 = 0.8 solved 1 of 3 (the others ended on a bound), 0.33 solved 1 of 3, 0.25 solved 2 of 3. ZeroGrads'
# own Tab. C.1 σ0 (at most 0.33) are not capped: 0.25 instead of 0.33 solved fewer seeds on LED and on
# WICKER's first scene (the one whose slabs hid the stakes).
PRDPT_SIGMA_CAP = 0.25
# On ZeroGrads' tasks: 4 samples per iteration (2 antithetic pairs; Tab. C.1 has 2 everywhere but MOSAIC's
# 16), and σ0 at least 0.1. MOSAIC (16 rotations, Tab. C.1: σ0 0.025, N = 16) reached 65 % error reduction
# in 400 renders with its own settings, 79 % with N = 4 and 99 % with N = 4 and σ0 0.1 (3 seeds each).
ZEROGRADS_SAMPLES = 4
ZEROGRADS_SIGMA_FLOOR = 0.1


def zerograds_paper(task) -> dict:
    """The ``zerograds@paper`` row: the thesis's ZeroGrads with the task's Tab. C.1 settings, or its
    defaults (preset "paper") on a task the ZeroGrads paper has no settings for."""
    return {"preset": task.zerograds_preset or "paper"}


def zerograds_ablation(ablation: str) -> Callable:
    """task → options of ZeroGrads without one component (Tab. 5.2's ablations): the ablation's own
    change (its preset differs from "paper" only there) on top of the ``zerograds`` row's options, so
    it differs from that run in that one respect."""

    def options(task) -> dict:
        from optimizer_server.methods import get_method_class

        presets = get_method_class("zerograds").presets
        change = {k: v for k, v in presets[ablation].items() if k not in presets["paper"] or presets["paper"][k] != v}
        return {**zerograds_efficient(task), **change}

    return options


# Labels that run a registered method with other options; the CSV and the table show the label.
VARIANTS = {
    "zerograds@prdpt-hp": ("zerograds", prdpt_hyperparameters),
    "zerograds@tuned": ("zerograds", zerograds_tuned),
    "zerograds": ("zerograds", zerograds_efficient),
    "zerograds@paper": ("zerograds", zerograds_paper),
    **{f"zerograds@{a}": ("zerograds", zerograds_ablation(a)) for a in ABLATIONS},
}


def method_and_options(task, label: str):
    """(registered method, options): a variant's options (``zerograds``, ``zerograds@paper``, ...), PRDPT
    with its paper's per-task preset (Tab. B.1), otherwise the method's defaults."""
    method, options = label, {}
    if label in VARIANTS:
        method, make = VARIANTS[label]
        options = make(task)
    options.update(task.method_options.get(label, {}))
    if label == method and label not in VARIANTS and task.preset_for(method):
        options.setdefault("preset", task.preset_for(method))
    return method, options


# --- one (task, method) unit, in this process ------------------------------------------------------


def run_unit(task_name: str, method: str, profile: Profile, out: str, threads: int = 0) -> list[dict]:
    """All seeds of one method on one task; appends rows to out/units/<task>__<method>.csv."""
    import numpy as np
    import torch

    from blender_addon import jobspec
    from blender_addon.worker import SceneRenderer
    from optimizer_server import pictures
    from optimizer_server.wire.space import Space

    torch.set_num_threads(1)  # tiny tensors; the cores belong to Cycles
    task = task_registry.load(task_name, profile.size)
    task.build()
    width, height = task.resolution(profile.long_side)
    spp, budget = profile.spp(task), profile.budget(task)
    lo = np.array([p.lo for p in task.params])
    span = np.array([p.hi for p in task.params]) - lo
    truth, start = np.array(task.unit("target")), np.array(task.unit("start"))
    discrete = np.array([p.discrete for p in task.params])
    # the unit step of discrete values, as the server's jobs give it (a link is an on/off switch)
    resolution = Space([p.spec() for p in task.params]).resolution

    def snap(unit):
        """Clip to the bounds and round the discrete kinds, as the renderer applies them (in [0, 1])."""
        values = lo + np.clip(unit, 0, 1) * span
        return (np.where(discrete, np.round(values), values) - lo) / span

    # The workers' own parameter references (ParamRef locators: data paths and node links) and
    # the simulation frame: what a batch job sends them.
    settings = jobspec.render_settings(width, height, spp, [p.ref() for p in task.params], frame=task.frame)
    rows = []
    os.makedirs(os.path.join(out, "histories"), exist_ok=True)
    with SceneRenderer(threads=threads) as renderer:
        renderer.setup(settings, [p.name for p in task.params])
        render = lambda unit, seed: renderer.render_one(lo + np.clip(unit, 0, 1) * span, seed=seed)  # noqa: E731
        target = render(truth, TARGET_SEED)
        pictures.image_strip(
            os.path.join(out, "scenes", f"{task.name}.png"), [render(start, TARGET_SEED), target], ["start", "target"]
        )
        for seed in profile.seeds:
            row, history = _run_one(task, method, seed, budget, render, target, truth, start, snap, resolution)
            row.update(width=width, height=height, spp=spp)
            rows.append(row)
            with open(os.path.join(out, "histories", f"{task.name}__{method}__s{seed}.json"), "w") as f:
                json.dump({"task": task.name, "method": method, "seed": seed, "history": history}, f)
            print(
                f"  {task.name:20s} {method:10s} seed {seed}: param MSE {row['param_mse']:.3g} "
                f"(start {row['start_param_mse']:.3g}), image MSE {row['image_mse']:.3g}, "
                f"{row['renders']} renders, {row['wall_s']:.1f} s ({row['overhead_s']:.1f} s optimiser)",
                flush=True,
            )
    _write_csv(os.path.join(out, "units", f"{task.name}__{method}.csv"), rows)
    return rows


def _run_one(task, method_name, seed, budget, render, target, truth, start, snap=None, resolution=None):
    import numpy as np

    from optimizer_server.methods import create_method

    mse = lambda a, b: float(np.mean((np.asarray(a, np.float64) - b) ** 2))  # noqa: E731
    snap = snap or (lambda unit: np.clip(unit, 0, 1))
    started = time.perf_counter()
    overhead = 0.0
    registered, options = method_and_options(task, method_name)
    if registered == "auto":
        options.setdefault("residuals", True)  # as the server does: it has the rendered images
    method = create_method(registered, task.n, budget, seed=seed, x0=start, resolution=resolution, **options)
    history = [{"renders": 0, "seconds": 0.0, "loss": mse(render(start, 0), target), "param_mse": mse(start, truth)}]
    every = max(1, budget // 200)  # ≤ ~200 points per curve
    while not method.done:
        t0 = time.perf_counter()
        batch = method.ask()
        overhead += time.perf_counter() - t0
        images = [render(x, s) for x, s in zip(batch.x, batch.seeds)]
        losses = [mse(image, target) for image in images]
        residuals = None
        if method.wants_residuals:  # the pixels' differences, scaled so their squares sum to the MSE
            residuals = np.stack([(np.asarray(i, np.float64) - target).ravel() for i in images]) / np.sqrt(target.size)
        t0 = time.perf_counter()
        method.tell(batch, losses, residuals)
        overhead += time.perf_counter() - t0
        if method.iteration % every == 0 or method.done:
            history.append(
                {
                    "renders": method.evaluations,
                    "seconds": time.perf_counter() - started,
                    "loss": float(np.mean(losses)),
                    "param_mse": mse(snap(method.current), truth),
                }
            )
    estimate = snap(method.current)
    wall = time.perf_counter() - started
    row = {
        "task": task.name,
        "method": method_name,
        "seed": seed,
        "n": task.n,
        "renders": method.evaluations,
        "image_mse": mse(render(estimate, TARGET_SEED), target),
        "param_mse": mse(estimate, truth),
        "start_param_mse": mse(start, truth),
        "wall_s": round(wall, 3),
        "overhead_s": round(overhead, 3),
    }
    return row, history


def _write_csv(path: str, rows: list[dict]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)


# --- orchestration -----------------------------------------------------------------------------------


def _units(task_names, methods, profile):
    """(task, method) pairs, the most renders first so parallel lanes finish together; ``methods``
    None: each task's default_methods."""
    tasks = {t: task_registry.load(t, profile.size) for t in task_names}
    units = [(t, m) for t in task_names for m in (methods or default_methods(tasks[t]))]
    cost = {t: profile.budget(task) * (4 if t == "sort" else 1) for t, task in tasks.items()}
    return sorted(units, key=lambda u: -cost[u[0]])


def run_all(task_names, methods, profile, out, jobs=1, fresh=False) -> str:
    """Run every unit not yet done (its CSV exists: resume after an interruption), then merge."""
    todo = [
        u
        for u in _units(task_names, methods, profile)
        if fresh or not os.path.exists(os.path.join(out, "units", f"{u[0]}__{u[1]}.csv"))
    ]
    print(
        f"scene benchmark, profile {profile.name}: {len(todo)} (task, method) units to run, "
        f"{len(profile.seeds)} seeds each, {jobs} at a time -> {out}",
        flush=True,
    )
    started, running = time.monotonic(), []
    threads = 1 if jobs > 1 else 0
    done = 0
    while todo or running:
        while todo and len(running) < jobs:
            t, m = todo.pop(0)
            cmd = [
                sys.executable,
                "-m",
                "benchmarks.scene_bench",
                "--unit",
                f"{t}:{m}",
                "--profile",
                profile.name,
                "--out",
                out,
                "--threads",
                str(threads),
            ]
            log = open(os.path.join(out, "logs", f"{t}__{m}.log"), "w")  # noqa: SIM115 (closed by _forward)
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
            forward = threading.Thread(target=_forward, args=(proc.stdout, log), daemon=True)
            forward.start()
            running.append(((t, m), proc, forward))
        for entry in list(running):
            (t, m), proc, forward = entry
            if proc.poll() is None:
                continue
            forward.join()
            running.remove(entry)
            done += 1
            status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode}; see logs/{t}__{m}.log)"
            print(
                f"[{done} done, {len(running)} running, {len(todo)} left, "
                f"{time.monotonic() - started:.0f} s] {t} × {m}: {status}",
                flush=True,
            )
        time.sleep(0.2)
    return merge(out)


def _forward(stream, log) -> None:
    """Our per-run lines (indented) to the terminal as they come; Blender's chatter only to the log."""
    with log:
        for line in stream:
            log.write(line)
            if line.startswith("  "):
                print(line, end="", flush=True)


def merge(out: str) -> str:
    """Concatenate the units' CSVs into out/runs.csv."""
    rows = []
    units = os.path.join(out, "units")
    for name in sorted(os.listdir(units)) if os.path.isdir(units) else []:
        with open(os.path.join(units, name), newline="") as f:
            rows.extend(csv.DictReader(f))
    path = os.path.join(out, "runs.csv")
    _write_csv(path, rows)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    parser.add_argument(
        "--tasks",
        default=",".join(task_registry.TASK_NAMES),
        help="comma-separated task names, or the groups 'prdpt' / 'zerograds'",
    )
    parser.add_argument(
        "--methods",
        default=None,
        help="comma-separated labels (default: each task's "
        f"default_methods: {','.join(METHODS)} on PRDPT's tasks, "
        f"{','.join(ZEROGRADS_METHODS)} on ZeroGrads')",
    )
    parser.add_argument("--jobs", type=int, default=2, help="units run side by side (one Cycles thread each)")
    parser.add_argument("--out", default=None, help="default: out/bench-scenes/<profile>")
    parser.add_argument("--report", default=None, help="also write the Markdown report here (e.g. docs/results.md)")
    parser.add_argument("--fresh", action="store_true", help="re-run units whose results already exist")
    parser.add_argument("--unit", help=argparse.SUPPRESS)  # TASK:METHOD, run by run_all in a subprocess
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    out = os.path.abspath(args.out or os.path.join(ROOT, "out", "bench-scenes", profile.name))
    if args.unit:
        task_name, method = args.unit.split(":")
        run_unit(task_name, method, profile, out, threads=args.threads)
        return 0
    groups = {"prdpt": task_registry.PRDPT_TASKS, "zerograds": task_registry.ZEROGRADS_TASKS}
    task_names = [name for t in args.tasks.split(",") if t for name in groups.get(t, (t,))]
    methods = [m for m in args.methods.split(",") if m] if args.methods else None
    for t in task_names:
        task_registry.load(t, profile.size)  # unknown names fail here, before anything runs
    os.makedirs(os.path.join(out, "logs"), exist_ok=True)
    runs = run_all(task_names, methods, profile, out, jobs=max(1, args.jobs), fresh=args.fresh)
    from benchmarks import scene_report

    command = "python -m benchmarks.scene_bench " + " ".join(argv if argv is not None else sys.argv[1:])
    report = scene_report.write_report(runs, out, args.report, profile_name=profile.name, command=command)
    print(f"runs: {runs}\nreport: {report}\nreproduce: {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

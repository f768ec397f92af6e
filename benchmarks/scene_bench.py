"""Scene benchmark (`make bench-quick`, `make bench`): every method on every task, equal render budgets.

    python -m benchmarks.scene_bench --profile quick [--jobs 2] [--tasks cup,shadows | prdpt | zerograds]
                                     [--methods prdpt,fd]
                                     [--out out/bench-scenes/quick] [--report docs/results.md]

Runs (task × method × seed) with real Cycles renders on PRDPT's six tasks and ZeroGrads' seven
(``scenes/registry.py``; the ZeroGrads tasks at the profile's size: "ci" in smoke/quick, "full" in full).
Without --methods, PRDPT's tasks run METHODS, ZeroGrads' tasks ZEROGRADS_METHODS (ZeroGrads with the
paper's settings too, its Tab. 5.2 ablations and the baselines). Rows are configuration names; what
each runs on a task (the papers' per-task settings, the task's σ0 for ``zerograds:efficient``) is
``scenes/configs.py``, which the task's job file follows too. The same loop as the server's jobs
(``optimizer_server.evaluation``) drives every run, with the same image loss.
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

from benchmarks.scene_runs import TARGET_SEED, SceneRuns, task_space
from scenes import registry as task_registry
from scenes.configs import row_configuration

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Row labels are configuration names (scenes/configs.py: what each runs on a task).
METHODS = ("auto", "zerograds:efficient", "prdpt", "fd", "spsa", "cmaes", "nevergrad")  # PRDPT's tasks (issue 5's list)
# The ZeroGrads tasks' rows (issue 7): ZeroGrads, its Tab. 5.2 ablations (no smoothing, no neural surrogate,
# no local sampling, each on top of this project's ZeroGrads), and the others of Tab. 5.2.
ZEROGRADS_METHODS = (
    "auto",
    "zerograds:efficient",
    "zerograds:paper",
    "zerograds:efficient_nonn",
    "zerograds:efficient_nolocal",
    "zerograds:efficient_nosmooth",
    "prdpt",
    "fd",
    "spsa",
    "cmaes",
)
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


# --- one (task, method) unit, in this process ------------------------------------------------------


def run_unit(task_name: str, label: str, profile: Profile, out: str, threads: int = 0) -> list[dict]:
    """All seeds of one row on one task; appends rows to out/units/<task>__<label>.csv."""
    import torch

    from blender_addon import jobspec
    from blender_addon.worker import SceneRenderer
    from optimizer_server import pictures

    torch.set_num_threads(1)  # tiny tensors; the cores belong to Cycles
    task = task_registry.load(task_name, profile.size)
    task.build()
    width, height = task.resolution(profile.long_side)
    spp, budget = profile.spp(task), profile.budget(task)
    space = task_space(task)
    # The workers' own parameter references (ParamRef locators: data paths and node links) and
    # the simulation frame: what a batch job sends them.
    settings = jobspec.render_settings(width, height, spp, [p.ref() for p in task.params], frame=task.frame)
    rows = []
    os.makedirs(os.path.join(out, "histories"), exist_ok=True)
    with SceneRenderer(threads=threads) as renderer:
        renderer.setup(settings, [p.name for p in task.params])
        scene = SceneRuns(task, space, renderer.render_one)
        pictures.image_strip(
            os.path.join(out, "scenes", f"{task.name}.png"),
            [scene.render_unit(scene.start, TARGET_SEED), scene.target],
            ["start", "target"],
        )
        for seed in profile.seeds:
            row, history = scene.run(label, seed, budget)
            row.update(width=width, height=height, spp=spp)
            rows.append(row)
            with open(os.path.join(out, "histories", f"{task.name}__{label}__s{seed}.json"), "w") as f:
                json.dump({"task": task.name, "method": label, "seed": seed, "history": history}, f)
            print(
                f"  {task.name:20s} {label:10s} seed {seed}: param MSE {row['param_mse']:.3g} "
                f"(start {row['start_param_mse']:.3g}), image MSE {row['image_mse']:.3g}, "
                f"{row['renders']} renders, {row['wall_s']:.1f} s ({row['overhead_s']:.1f} s optimiser)",
                flush=True,
            )
    _write_csv(os.path.join(out, "units", f"{task.name}__{label}.csv"), rows)
    return rows


def check_row(task, label: str) -> None:
    """Fail before anything runs when ``label`` names no configuration (or preset) on ``task``."""
    from optimizer_server.methods import get_method_class, split_configuration
    from optimizer_server.methods.registry import resolve_preset

    method, preset = split_configuration(row_configuration(task, label)[0])
    resolve_preset(get_method_class(method), preset, {})


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
        task_name, method = args.unit.split(":", 1)
        run_unit(task_name, method, profile, out, threads=args.threads)
        return 0
    groups = {"prdpt": task_registry.PRDPT_TASKS, "zerograds": task_registry.ZEROGRADS_TASKS}
    task_names = [name for t in args.tasks.split(",") if t for name in groups.get(t, (t,))]
    methods = [m for m in args.methods.split(",") if m] if args.methods else None
    for t in task_names:
        task = task_registry.load(t, profile.size)  # unknown names fail here, before anything runs
        for label in methods or default_methods(task):
            check_row(task, label)
    os.makedirs(os.path.join(out, "logs"), exist_ok=True)
    runs = run_all(task_names, methods, profile, out, jobs=max(1, args.jobs), fresh=args.fresh)
    from benchmarks import scene_report

    command = "python -m benchmarks.scene_bench " + " ".join(argv if argv is not None else sys.argv[1:])
    report = scene_report.write_report(runs, out, args.report, profile_name=profile.name, command=command)
    print(f"runs: {runs}\nreport: {report}\nreproduce: {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

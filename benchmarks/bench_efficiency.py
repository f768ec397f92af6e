"""Render efficiency of every method on analytic problems that behave like rendering (issue 6).

For each (problem × method × seed): evaluations until the method's current estimate first reaches
the problem's target error, the error at fixed fractions of the budget, and the optimiser's own time
per iteration. Writes CSV (one row per run), a Markdown table (medians over seeds) and one
convergence plot per problem (median error against evaluations).

Reproduce:   make bench-efficiency                       (full: 5 seeds, full budgets)
             .venv/bin/python -m benchmarks.bench_efficiency --quick   (≈ 15 min on 2 cores)
Options:     --problems discs1 led336 ...  --methods cmaes zerograds ...  --seeds 5  --out out/efficiency
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time

import numpy as np
import torch

from optimizer_server.evaluation import Loop, Step
from optimizer_server.methods import Capabilities, create_method
from optimizer_server.problems.suite import suite
from optimizer_server.problems.traps import trap_suite
from optimizer_server.wire.errors import ConfigError

# The rows: configuration names (optimizer_server.methods.configurations). "…:paper" reproduce the
# thesis (docs/methods.md); the others are what we measure.
METHODS: tuple[str, ...] = (
    "cmaes",
    "nevergrad",
    "optuna",
    "prdpt:paper",
    "zerograds:paper",
    "prdpt",
    "zerograds:efficient",
    "gauss_newton:white_probes",
    "gauss_newton",
    "auto",
)
# label → (configuration, option overrides): one option of zerograds' "efficient" preset switched back at
# a time (what each improvement buys), and gauss_newton's model memory and probe smoothness
ABLATIONS: dict[str, tuple[str, dict]] = {
    "zg −refit_first": ("zerograds:efficient", dict(refit_first=False)),
    "zg −standardize": ("zerograds:efficient", dict(standardize_losses=False)),
    "zg −local_inputs": ("zerograds:efficient", dict(local_inputs=False)),
    "zg −replay": ("zerograds:efficient", dict(replay=0)),
    "zg −trust (adam)": ("zerograds:efficient", dict(step_control="adam", lr=0.01, lr_follows_sigma=True)),
    "zg −crn": ("zerograds:efficient", dict(common_random_numbers=False)),
    "zg −discrete_sigma": ("zerograds:efficient", dict(discrete_sigma=0.0)),
    "zg −discrete_sigma_min": ("zerograds:efficient", dict(discrete_sigma_min=0.0)),
    "gn memory 800": ("gauss_newton", {"memory": 800}),
    "gn smoothness 2": ("gauss_newton", {"grid_smoothness": 2.0}),
    "gn smoothness 8": ("gauss_newton", {"grid_smoothness": 8.0}),
}
# rows that change nothing on some problems: label → the problems they apply to, and why not elsewhere
APPLIES = {
    "zg −crn": (lambda problem: problem.noisy, "its loss has no render noise"),
    "zg −discrete_sigma": (lambda problem: problem.discrete, "it has no discrete parameters"),
    "zg −discrete_sigma_min": (lambda problem: problem.discrete, "it has no discrete parameters"),
    "gauss_newton:white_probes": (lambda problem: bool(problem.space.grids), "no image parameters: as gauss_newton"),
    **{
        label: (lambda problem: bool(problem.space.grids), "no image parameters: as gauss_newton")
        for label in ("gn memory 800", "gn smoothness 2", "gn smoothness 8")
    },
}
# runs the suite leaves out, and why (each would take longer than the rest of the suite together)
TOO_SLOW = {
    "zerograds:paper": (
        20_000,
        "paper surrogate: 8×128 MLP on 13·n encoded inputs, 1.3 GB and seconds per iteration",
    ),
    "nevergrad": (20_000, "left out at this n to keep the suite short"),
    "optuna": (200, "TPE models every parameter from every trial: too slow beyond a few hundred"),
}
BUDGET_FRACTIONS = (0.1, 0.3, 1.0)
QUICK_SCALE = 0.5  # --quick: budgets × this


def run_one(problem, label: str, seed: int, budget: int, stop_at_target: bool) -> dict:
    """One run; the error is measured at the method's current estimate after every iteration."""
    config, options = ABLATIONS.get(label, (label, {}))
    applies, why_not = APPLIES.get(label, (None, ""))
    if applies is not None and not applies(problem):
        return {"skipped": why_not}
    capabilities = Capabilities(residuals=problem.residuals is not None)  # a renderer's images, where drawn
    try:
        m = create_method(
            config, problem.space, budget=budget, seed=seed, x0=problem.x0, capabilities=capabilities, **options
        )
    except ConfigError as exc:
        return {"skipped": str(exc).split(";")[0]}
    try:
        result = _iterate(problem, m, budget, stop_at_target)
        result["chosen"] = getattr(m, "chosen", config)  # what `auto` picked
        return result
    except Exception as exc:  # a library failing at this n is a result, not a reason to lose the suite
        return {"skipped": f"crashed: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"}


def _iterate(problem, m, budget, stop_at_target) -> dict:
    curve, opt_seconds, hit = [(0, problem.error(problem.x0))], [], []

    def measure(step: Step) -> bool:
        opt_seconds.append(step.optimizer_s)
        err = problem.error(step.current)
        curve.append((step.evaluations, err))
        if not hit and err <= problem.target:
            hit.append(step.evaluations)
            return stop_at_target
        return False

    Loop(m, problem.space).run(problem.evaluate, measure)
    at_budget = {}
    for frac in BUDGET_FRACTIONS:  # error at a fixed budget: the last estimate within it
        within = [e for ev, e in curve if ev <= frac * budget]
        at_budget[frac] = within[-1]
    return {
        "hit": hit[0] if hit else None,
        "curve": curve,
        "at_budget": at_budget,
        "final": curve[-1][1],
        "ms_per_iteration": 1000 * statistics.median(opt_seconds) if opt_seconds else float("nan"),
        "evaluations": m.evaluations,
    }


def median_hits(hits: list[int | None]):
    """Median counting 'never reached' as worse than any number (None if the median is 'never')."""
    reached = sorted(h for h in hits if h is not None)
    k = len(hits) // 2
    return reached[k] if len(reached) > k else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"budgets × {QUICK_SCALE}, no ablations")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--problems", nargs="+", default=None, help="names, or the groups 'classic' and 'traps'")
    parser.add_argument("--methods", nargs="+", default=None, help="configuration names (METHODS) or ABLATIONS labels")
    parser.add_argument("--ablations", action="store_true", help="also run the ablations")
    parser.add_argument(
        "--full-budget",
        action="store_true",
        help="keep running after the target (needed for the error-at-budget columns)",
    )
    parser.add_argument("--out", default="out/efficiency")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # the machine is shared; and per-iteration times are single-core figures

    classic, traps = suite(), trap_suite()
    makers = {**classic, **traps}
    groups = {"classic": list(classic), "traps": list(traps)}
    problems = [p for name in (args.problems or ["classic", "traps"]) for p in groups.get(name, [name])]
    labels = args.methods or list(METHODS) + (list(ABLATIONS) if args.ablations else [])
    os.makedirs(args.out, exist_ok=True)
    command = (
        "make bench-efficiency  (.venv/bin/python -m benchmarks.bench_efficiency "
        + " ".join(sys.argv[1:] if argv is None else argv)
        + ")"
    )
    print(f"# bench-efficiency  (torch {torch.__version__}, 1 torch thread)\ncommand: {command}", flush=True)

    rows, summary = [], []
    for pname in problems:
        problem = makers[pname]()
        budget = max(20, int(problem.budget * (QUICK_SCALE if args.quick else 1.0)))
        print(
            f"\n## {pname}: n={problem.n}, budget {budget}, target error ≤ {problem.target} "
            f"({problem.error_doc}); {problem.description}",
            flush=True,
        )
        curves = {}
        for label in labels:
            entry, runs = run_label(problem, label, budget, args, rows)
            summary.append(entry)
            if runs:
                curves[label] = runs
        plot_problem(os.path.join(args.out, f"{pname}.png"), pname, problem, curves, budget)

    write_csv(os.path.join(args.out, "runs.csv"), rows)
    markdown = summary_markdown(summary, problems, labels, command)
    with open(os.path.join(args.out, "summary.md"), "w") as fh:
        fh.write(markdown)
    print("\n" + markdown)
    print(f"wrote {args.out}/runs.csv, summary.md and one PNG per problem")
    return 0


def run_label(problem, label: str, budget: int, args, rows: list[dict]) -> tuple[dict, list[dict]]:
    """Every seed of one row on one problem: (its summary entry, the runs); appends CSV rows."""
    base = {"problem": problem.name, "n": problem.n, "method": label}
    limit, why = TOO_SLOW.get(label, (None, ""))
    if limit is not None and problem.n > limit:
        print(f"  {label:26s} skipped: {why}", flush=True)
        return {**base, "skipped": why}, []
    runs, t0 = [], time.time()
    for seed in range(args.seeds):
        r = run_one(problem, label, seed, budget, stop_at_target=not args.full_budget)
        if "skipped" in r:
            print(f"  {label:26s} skipped: {r['skipped']}", flush=True)
            return {**base, "skipped": r["skipped"]}, []
        runs.append(r)
        rows.append(
            {
                **base,
                "seed": seed,
                "budget": budget,
                "target": problem.target,
                "evaluations_to_target": r["hit"] or "",
                **{f"error_at_{f}": r["at_budget"][f] for f in BUDGET_FRACTIONS},
                "final_error": r["final"],
                "evaluations": r["evaluations"],
                "optimizer_ms_per_iteration": r["ms_per_iteration"],
            }
        )
    hits = [r["hit"] for r in runs]
    entry = {
        **base,
        "median_hit": median_hits(hits),
        "solved": sum(h is not None for h in hits),
        "seeds": len(runs),
        "final": statistics.median(r["final"] for r in runs),
        "ms": statistics.median(r["ms_per_iteration"] for r in runs),
        "budget": budget,
    }
    med = entry["median_hit"]
    print(
        f"  {label:26s} to target: {med if med is not None else 'not reached':>11} "
        f"(solved {entry['solved']}/{len(runs)}, hits {hits}) final error {entry['final']:.4g}  "
        f"{entry['ms']:.2f} ms/it  [{time.time() - t0:.0f}s]",
        flush=True,
    )
    return entry, runs


def write_csv(path: str, rows: list[dict]) -> None:
    if not rows:
        return
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def summary_markdown(summary: list[dict], problems, labels, command: str) -> str:
    """Problems as rows, methods as columns: median evaluations to target (solved seeds)."""
    cells = {(e["problem"], e["method"]): e for e in summary}
    ns = {e["problem"]: e["n"] for e in summary}
    used = [l for l in labels if any((p, l) in cells for p in problems)]
    out = [
        f"Median evaluations to the target error (seeds that reached it / seeds; '—' = median seed never "
        f"did; 'n/a' = method refuses this n). Command: `{command}`",
        "",
        "| problem | n | " + " | ".join(used) + " |",
        "|---|---|" + "---|" * len(used),
    ]
    for p in problems:
        row = []
        for label in used:
            e = cells.get((p, label))
            if e is None:
                row.append("")
            elif "skipped" in e:
                row.append("n/a")
            else:
                hit = "—" if e["median_hit"] is None else str(e["median_hit"])
                row.append(f"{hit} ({e['solved']}/{e['seeds']})")
        out.append(f"| {p} | {ns.get(p, '')} | " + " | ".join(row) + " |")
    out += [
        "",
        "Optimiser time per iteration (ms, median; ask + tell, objective excluded, 1 thread):",
        "",
        "| problem | " + " | ".join(used) + " |",
        "|---|" + "---|" * len(used),
    ]
    for p in problems:
        row = []
        for label in used:
            e = cells.get((p, label))
            row.append("" if e is None or "skipped" in e else f"{e['ms']:.2f}")
        out.append(f"| {p} | " + " | ".join(row) + " |")
    return "\n".join(out) + "\n"


def plot_problem(path: str, pname: str, problem, curves: dict[str, list], budget: int) -> None:
    """Median (over seeds) of the error against evaluations, one line per method."""
    if not curves:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.unique(np.linspace(0, budget, 200).astype(int))
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for label, runs in curves.items():
        per_seed = []
        for r in runs:
            ev = np.array([c[0] for c in r["curve"]])
            er = np.array([c[1] for c in r["curve"]])
            idx = np.searchsorted(ev, grid, side="right") - 1
            vals = er[np.clip(idx, 0, len(er) - 1)]
            vals[grid > ev[-1]] = problem.target if r["hit"] is not None else er[-1]  # stopped at target
            per_seed.append(vals)
        ax.plot(grid, np.maximum(np.median(per_seed, axis=0), 1e-6), label=label, linewidth=1.2)
    ax.axhline(max(problem.target, 1e-6), color="k", linestyle=":", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("evaluations (renders)")
    ax.set_ylabel(problem.error_doc)
    ax.set_title(f"{pname} (n = {problem.n}), median of {len(next(iter(curves.values())))} seeds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())

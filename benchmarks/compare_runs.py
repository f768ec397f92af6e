"""Compare two runs.csv of the same benchmark, run by run: are the figures identical for the same seeds?

    python -m benchmarks.compare_runs BEFORE/runs.csv AFTER/runs.csv [--rename "old=new" ...] [--only NAMES]

Both files come from ``bench_efficiency`` (rows keyed by problem, method, seed) or ``scene_bench`` (task,
method, seed). Rows are matched by their key (``--rename`` maps a method's old label to its new one);
the deterministic columns must be equal to the last digit (timing columns are left out). Prints one line
per differing run and a summary; exit status 1 when any run differs.
"""

from __future__ import annotations

import argparse
import csv
import sys

TIMING = {"wall_s", "overhead_s", "optimizer_ms_per_iteration"}


def load(path: str) -> dict[tuple, dict]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    first = "problem" if rows and "problem" in rows[0] else "task"
    return {(r[first], r["method"], r["seed"]): r for r in rows}


def compare(before: dict, after: dict, rename: dict[str, str], only=None) -> tuple[int, list[str], list[tuple]]:
    """(identical runs, lines about differing runs, keys missing after); ``only``: these problems/tasks."""
    same, lines, missing = 0, [], []
    for (what, method, seed), row in sorted(before.items()):
        if only and what not in only:
            continue
        key = (what, rename.get(method, method), seed)
        if key not in after:
            missing.append(key)
            continue
        fields = [f for f in row if f not in TIMING and f not in ("method",) and f in after[key]]
        differ = [(f, row[f], after[key][f]) for f in fields if row[f] != after[key][f]]
        if differ:
            lines.append(f"{what} {method} seed {seed}: " + ", ".join(f"{f} {a} -> {b}" for f, a, b in differ))
        else:
            same += 1
    return same, lines, missing


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rename", nargs="*", default=[], metavar="OLD=NEW", help="a method label renamed since")
    parser.add_argument("--only", nargs="*", default=None, help="compare these problems (or tasks) only")
    args = parser.parse_args(argv)
    rename = dict(item.split("=", 1) for item in args.rename)
    same, lines, missing = compare(load(args.before), load(args.after), rename, args.only)
    print("\n".join(lines))
    print(f"{same} runs identical, {len(lines)} differ, {len(missing)} not in the second file")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())

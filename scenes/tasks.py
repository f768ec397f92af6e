"""The benchmark's task registry: a task is a scene script in scenes/ that defines ``TASK``.

To add one (the ZeroGrads tasks: CORNELL-BOX, BRDF, MOSAIC, ...), write ``scenes/<name>.py`` after
``scenes/cup.py`` — ``TASK = task.Task(...)`` with ``renders=``/``spp=`` instead of ``paper=`` when
Tab. 4.2 has no row for it — and add its name here; `make scenes`, the tests and the benchmark
(`benchmarks/scene_bench.py`) pick it up.
"""
import importlib

PRDPT_TASKS = ("cup", "shadows", "occlusion", "global_illumination", "sort", "caustic")
TASK_NAMES = PRDPT_TASKS


def load(name):
    """The ``Task`` of scene script ``scenes/<name>.py`` (imports no bpy)."""
    if name not in TASK_NAMES:
        raise KeyError(f"unknown task {name!r}; registered: {', '.join(TASK_NAMES)}")
    return importlib.import_module(f"scenes.{name}").TASK


def load_all():
    return [load(name) for name in TASK_NAMES]


def main(argv=None):
    """`make scenes`: build every task's .blend and job file into one folder."""
    import argparse
    import os

    from scenes import task
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description="build every benchmark task's .blend and job file")
    parser.add_argument("--out", default=os.path.join(root, "build", "scenes"))
    parser.add_argument("names", nargs="*", default=list(TASK_NAMES))
    args = parser.parse_args(argv)
    for name in args.names:
        blend, job = task.write(load(name), args.out)
        print(f"{name:20s} {blend}  {job}")
    return 0


if __name__ == "__main__":
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())

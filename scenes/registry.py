"""The benchmark's task registry: a task is a scene script in scenes/ that defines ``TASK``.

To add one, write ``scenes/<name>.py`` after ``scenes/cup.py`` (PRDPT's tasks) or
``scenes/zg_cbox.py`` (ZeroGrads' tasks: ``spec(size)`` and ``TASK = spec("full")``; the array tasks
``scenes/hd_*.py`` likewise, with ``scenes/highdim_kit.py``) and add its
name here; `make scenes`, the tests and the benchmark (`benchmarks/scene_bench.py`) pick it up.

    python -m scenes.registry [--size ci|full] [--out build/scenes] [names ...]
"""

import importlib

PRDPT_TASKS = ("cup", "shadows", "occlusion", "global_illumination", "sort", "caustic")
ZEROGRADS_TASKS = ("zg_cbox", "zg_brdf", "zg_mosaic", "zg_wicker", "zg_led", "zg_node_graph", "zg_gravity")
HIGHDIM_TASKS = ("hd_texture", "hd_mesh", "hd_caustic")  # array parameters: texels, vertices (Fig. 5.8-5.11)
TASK_NAMES = PRDPT_TASKS + ZEROGRADS_TASKS + HIGHDIM_TASKS


def load(name, size=None):
    """The ``SceneTask`` of scene script ``scenes/<name>.py`` (imports no bpy); ``size`` ("ci" / "full")
    picks the size of a task that has sizes, and is ignored by the others (they have one)."""
    from scenes.task import SIZES

    if name not in TASK_NAMES:
        raise KeyError(f"unknown task {name!r}; registered: {', '.join(TASK_NAMES)}")
    if size is not None and size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    module = importlib.import_module(f"scenes.{name}")
    return module.spec(size) if size and hasattr(module, "spec") else module.TASK


def load_all(size=None):
    return [load(name, size) for name in TASK_NAMES]


def main(argv=None):
    """`make scenes`: build every task's .blend and job file into one folder."""
    import argparse
    import os

    from scenes import task

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description="build every benchmark task's .blend and job file")
    parser.add_argument("--out", default=os.path.join(root, "build", "scenes"))
    parser.add_argument("--size", choices=task.SIZES, default="full", help="size of the tasks that have sizes")
    parser.add_argument("names", nargs="*", default=list(TASK_NAMES))
    args = parser.parse_args(argv)
    for name in args.names:
        t = load(name, args.size)
        blend, job = task.write(t, args.out)
        print(f"{name:20s} {t.n:4d} params  {blend}  {job}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())

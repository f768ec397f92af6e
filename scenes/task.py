"""What a benchmark task is: a scene builder plus the data its job file and the benchmark need.

A task script (``scenes/cup.py`` ...) defines ``TASK = Task(...)`` and a ``build()`` that makes
the scene with ``bpy`` at the *start* values. Nothing here imports ``bpy``, so the registry
(``scenes/tasks.py``), the job-file writer and the benchmark's report read tasks without Blender.

    python scenes/cup.py --out build/scenes       # cup.blend + cup.toml (any task script)
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class Param:
    name: str
    path: str
    """Blender data path, e.g. 'objects["Mug"].rotation_euler'."""
    index: int
    lo: float
    hi: float
    start: float
    """The value the scene is built with (the optimiser's starting point)."""
    target: float
    """The ground truth the target image is rendered with."""

    def unit(self, value: float) -> float:
        return (value - self.lo) / (self.hi - self.lo)


@dataclass(frozen=True)
class PaperResult:
    """PRDPT's own figures (Tab. 4.2, the ∂κP column) and its settings (App. Tab. B.1)."""

    image_mse: float
    param_mse: float
    samples: int      # N perturbations per iteration
    iterations: int
    spp: int

    @property
    def renders(self) -> int:
        return self.samples * self.iterations


@dataclass(frozen=True)
class Task:
    name: str
    title: str
    description: str
    params: Tuple[Param, ...]
    build: Callable
    """build(path=None): make the scene at the start values with bpy (and save it to ``path``)."""
    paper: Optional[PaperResult] = None
    """PRDPT's figures and settings for this task; None for tasks PRDPT's paper does not have."""
    prdpt_preset: Optional[str] = None
    """PRDPT's preset for this task (App. Tab. B.1); None: PRDPT on its defaults."""
    renders: Optional[int] = None
    """Render budget of a run when there is no paper figure to take it from."""
    spp: int = 16
    """Samples per pixel when there is no paper figure to take them from."""
    aspect: Tuple[int, int] = (1, 1)
    """Image width : height; the benchmark scales it to its resolution."""
    min_long_side: int = 0
    """Never render smaller than this many pixels on the long side (SORT's 75 cubes need ~96)."""
    quick_renders: Optional[int] = None
    """Render budget of the quick profile (default: the paper's N × iterations)."""
    notes: str = ""
    method_options: Dict[str, Dict] = field(default_factory=dict)
    """Extra per-method options of this task (none so far: every method runs on its defaults)."""

    @property
    def n(self) -> int:
        return len(self.params)

    @property
    def budget(self) -> int:
        """Renders per run in the full protocol: the paper's N × iterations, else ``renders``."""
        return self.paper.renders if self.paper else self.renders

    @property
    def paper_spp(self) -> int:
        return self.paper.spp if self.paper else self.spp

    def values(self, which: str) -> List[float]:
        return [getattr(p, which) for p in self.params]

    def unit(self, which: str) -> List[float]:
        return [p.unit(getattr(p, which)) for p in self.params]

    def resolution(self, long_side: int) -> Tuple[int, int]:
        w, h = self.aspect
        scale = max(long_side, self.min_long_side) / max(w, h)
        return max(8, round(w * scale)), max(8, round(h * scale))


def params_from(entries: Sequence[Tuple[str, str, int, Tuple[float, float], float, float]]) -> Tuple[Param, ...]:
    """(name, path, index, (lo, hi), start, target) rows → Params, checking start and target lie in the bounds."""
    params = []
    for name, path, index, (lo, hi), start, target in entries:
        for what, v in (("start", start), ("target", target)):
            if not lo <= v <= hi:
                raise ValueError(f"{name}: {what} {v} outside [{lo}, {hi}]")
        params.append(Param(name, path, index, float(lo), float(hi), float(start), float(target)))
    return tuple(params)


# --- job files ------------------------------------------------------------------------------------

def _toml_str(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string (escapes included)


def job_text(task: Task, blend: str, method: str = "prdpt", budget: Optional[int] = None, seed: int = 0,
             width: int = 64, height: Optional[int] = None, samples: Optional[int] = None, workers: int = 1,
             output: Optional[str] = None, options: Optional[Dict] = None) -> str:
    """The TOML job file of ``task``: ground truth as [target] values, bounds, the paper's settings.

    Start values are the ones the .blend is saved with (a job file has no start key); they are
    listed in a comment for people.
    """
    if height is None:
        width, height = task.resolution(width)
    budget = budget or task.budget
    samples = samples or task.paper_spp
    lines = [f"# {task.title}: {task.description}",
             f"# start values (saved in the .blend): "
             + ", ".join(f"{p.name} = {p.start:g}" for p in task.params[:8]) + (" ..." if task.n > 8 else "")]
    if task.paper:
        lines.append(f"# the paper (Tab. 4.2, PRDPT): image MSE {task.paper.image_mse:g}, parameter MSE "
                     f"{task.paper.param_mse:g}; {task.paper.iterations} iterations × N = {task.paper.samples}")
    lines += [f"blend = {_toml_str(blend)}",
             f"output = {_toml_str(output or task.name + '_output')}", "",
             "[render]", f"width = {width}", f"height = {height}", f"samples = {samples}", ""]
    for p in task.params:
        lines += ["[[params]]", f"name = {_toml_str(p.name)}", f"path = {_toml_str(p.path)}",
                  f"index = {p.index}", f"min = {p.lo!r}", f"max = {p.hi!r}", ""]
    values = ", ".join(f"{json.dumps(p.name)} = {p.target!r}" for p in task.params)
    lines += ["[target]", f"values = {{ {values} }}", "", "[method]", f"name = {_toml_str(method)}"]
    if method == "prdpt" and task.prdpt_preset:
        lines.append(f"preset = {_toml_str(task.prdpt_preset)}   # App. Tab. B.1")
    lines += [f"budget = {budget}", f"seed = {seed}"]
    for key, value in {**task.method_options.get(method, {}), **(options or {})}.items():
        lines.append(f"{key} = {json.dumps(value)}")
    lines += ["", "[workers]", f"count = {workers}", ""]
    return "\n".join(lines)


def write(task: Task, folder: str, **job_options) -> Tuple[str, str]:
    """Build the scene into ``folder/<name>.blend`` and write ``folder/<name>.toml`` next to it."""
    os.makedirs(folder, exist_ok=True)
    blend = os.path.join(folder, f"{task.name}.blend")
    task.build(os.path.abspath(blend))
    job = os.path.join(folder, f"{task.name}.toml")
    with open(job, "w", encoding="utf-8") as f:
        f.write(job_text(task, os.path.basename(blend), **job_options))
    return blend, job


def main(task: Task, argv=None) -> int:
    """The command line every task script shares: build the .blend and write the job file."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=f"{task.title}: {task.description}")
    parser.add_argument("--out", default=os.path.join(root, "build", "scenes"), help="folder for .blend and .toml")
    parser.add_argument("--method", default="prdpt")
    parser.add_argument("--budget", type=int, default=None, help=f"renders (default: {task.budget})")
    parser.add_argument("--width", type=int, default=64, help="long side of the image in pixels")
    parser.add_argument("--samples", type=int, default=None, help=f"spp (default: {task.paper_spp})")
    args = parser.parse_args(argv)
    blend, job = write(task, args.out, method=args.method, budget=args.budget, width=args.width,
                       samples=args.samples)
    print(f"wrote {blend} and {job}\nrun it with: python -m optimizer_server run {job}")
    return 0

"""What a benchmark task is: a scene builder plus the data its job file and the benchmark need.

A task script (``scenes/cup.py`` ...) defines ``TASK = SceneTask(...)`` and a ``build()`` that makes
the scene with ``bpy`` at the *start* values. Nothing here imports ``bpy``, so the registry
(``scenes/registry.py``), the job-file writer and the benchmark's report read tasks without Blender.
Tasks with a size (the ZeroGrads tasks, ``scenes/zg_*.py``) also define ``spec(size)``: "ci" is
tiny (tests, smoke runs), "full" the paper's dimensions; their ``TASK`` is the full size.

Parameters (``Param``) are the project's parameter references (``ParamRef``: a data path, or a node
tree's path plus a link between two named sockets, value 1 = the link exists) with bounds, a kind
(float / int / bool; a link is a bool) and the start and target values.

    python -m scenes.cup --out build/scenes                  # cup.blend + cup.toml (any task script)
    python -m scenes.zg_led --size ci --out build/scenes     # a task with sizes
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from optimizer_server.wire.paramref import ParamRef
from optimizer_server.wire.space import round_half_up

SIZES = ("ci", "full")


@dataclass(frozen=True, kw_only=True)
class Param(ParamRef):
    """A ParamRef (name, path — e.g. 'objects["Mug"].rotation_euler' —, index, link, lo, hi, kind)
    with both bounds, a kind (default float), and the values a task starts from and aims at."""

    kind: str = "float"
    start: float
    """The value the scene is built with (the optimiser's starting point)."""
    target: float
    """The ground truth the target image is rendered with."""

    def __post_init__(self):
        super().__post_init__()
        if self.lo is None or self.hi is None:
            raise ValueError(f"{self.name}: a task parameter needs both bounds")

    @property
    def discrete(self) -> bool:
        """Rounded when applied (int, bool, a link): the optimiser's ParamSpec decides."""
        return self.spec().discrete

    def unit(self, value: float) -> float:
        return (value - self.lo) / (self.hi - self.lo)

    def ref(self) -> ParamRef:
        """The plain parameter reference the add-on takes (``jobspec.render_settings``, ``params.resolve_ref``)."""
        return ParamRef(self.name, self.path, self.index, self.link, self.lo, self.hi, self.value_kind)


@dataclass(frozen=True)
class PaperResult:
    """PRDPT's own figures (Tab. 4.2, the ∂κP column) and its settings (App. Tab. B.1)."""

    image_mse: float
    param_mse: float
    samples: int  # N perturbations per iteration
    iterations: int
    spp: int

    @property
    def renders(self) -> int:
        return self.samples * self.iterations


@dataclass(frozen=True)
class ZeroGradsPaper:
    """Where the ZeroGrads paper has this task: App. Tab. C.1's settings (a preset of the
    ``zerograds`` method) and Tab. 5.2's comparison, made at the render count where ZeroGrads
    reaches 95 % error reduction (``reduction``): the others' error there over ZeroGrads' error."""

    preset: str
    reduction: float = 0.95


@dataclass(frozen=True)
class SceneTask:
    name: str
    title: str
    description: str
    params: tuple[Param, ...]
    build: Callable
    """build(path=None): make the scene at the start values with bpy (and save it to ``path``)."""
    paper: PaperResult | None = None
    """PRDPT's figures and settings for this task; None for tasks PRDPT's paper does not have."""
    prdpt_preset: str | None = None
    """PRDPT's preset for this task (App. Tab. B.1); None: PRDPT on its defaults."""
    renders: int | None = None
    """Render budget of a run when there is no paper figure to take it from."""
    spp: int = 16
    """Samples per pixel when there is no paper figure to take them from."""
    aspect: tuple[int, int] = (1, 1)
    """Image width : height; the benchmark scales it to its resolution."""
    min_long_side: int = 0
    """Never render smaller than this many pixels on the long side (SORT's 75 cubes need ~96)."""
    quick_renders: int | None = None
    """Render budget of the quick profile (default: the paper's N × iterations)."""
    notes: str = ""
    method_options: dict[str, dict] = field(default_factory=dict)
    """Extra per-method options of this task (none so far: every method runs on its defaults)."""
    zerograds: ZeroGradsPaper | None = None
    """The ZeroGrads paper's settings and comparison for this task; None for PRDPT's tasks."""
    frame: int | None = None
    """Simulate physics up to this frame before every render (GRAVITY); None: render as built."""
    size: str = "full"
    """"ci" or "full" for tasks with sizes (``spec(size)``); "full" for the others."""
    long_side: int = 64
    """The job file's default image size (long side, pixels)."""

    @property
    def n(self) -> int:
        return len(self.params)

    @property
    def budget(self) -> int:
        """Renders per run in the full protocol: the paper's N × iterations, else ``renders``."""
        return self.paper.renders if self.paper else self.renders

    @property
    def zerograds_preset(self) -> str | None:
        return self.zerograds.preset if self.zerograds else None

    @property
    def default_method(self) -> str:
        """What the job file runs by default: the paper's method with the paper's settings for the task
        (a row of the scene benchmark, ``scenes/configs.py``)."""
        return "zerograds:paper" if self.zerograds else "prdpt"

    def preset_for(self, method: str) -> str | None:
        """The paper preset of ``method`` for this task (App. Tab. B.1 / C.1), if any."""
        return {"prdpt": self.prdpt_preset, "zerograds": self.zerograds_preset}.get(method)

    @property
    def paper_spp(self) -> int:
        return self.paper.spp if self.paper else self.spp

    def values(self, which: str) -> list[float]:
        return [getattr(p, which) for p in self.params]

    def unit(self, which: str) -> list[float]:
        return [p.unit(getattr(p, which)) for p in self.params]

    def resolution(self, long_side: int) -> tuple[int, int]:
        w, h = self.aspect
        scale = max(long_side, self.min_long_side) / max(w, h)
        return max(8, round(w * scale)), max(8, round(h * scale))


def check_params(params: Sequence[Param]) -> tuple[Param, ...]:
    """Names unique, start and target inside the bounds, start ≠ target somewhere, links complete."""
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise ValueError("parameter names must be unique")
    for p in params:
        for what, v in (("start", p.start), ("target", p.target)):
            if not p.lo <= v <= p.hi:
                raise ValueError(f"{p.name}: {what} {v} outside [{p.lo}, {p.hi}]")
    if all(p.start == p.target for p in params):
        raise ValueError("start equals target: nothing to optimise")
    return tuple(params)


def param(name, path, index, lo, hi, start, target, kind="float", link=None) -> Param:
    """A :class:`Param` from positional values, in the order task scripts list them."""
    return Param(name=name, path=path, index=index, lo=lo, hi=hi, start=start, target=target, kind=kind, link=link)


def params_from(entries: Sequence[tuple[str, str, int, tuple[float, float], float, float]]) -> tuple[Param, ...]:
    """(name, path, index, (lo, hi), start, target) rows → float Params, checked (``check_params``)."""
    return check_params(
        [
            param(name, path, index, lo, hi, float(start), float(target))
            for name, path, index, (lo, hi), start, target in entries
        ]
    )


# --- job files ------------------------------------------------------------------------------------


def _toml_str(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid TOML basic string (escapes included)


def _num(p: Param, v: float) -> str:
    return str(int(round_half_up(v))) if p.discrete else repr(float(v))


def _param_lines(p: Param) -> list[str]:
    """One [[params]] table: float rows with no kind key, int/bool named, links by their sockets."""
    lines = ["[[params]]", f"name = {_toml_str(p.name)}"]
    if p.kind != "float" and p.link is None:
        lines.append(f"kind = {_toml_str(p.kind)}")
    lines.append(f"path = {_toml_str(p.path)}")
    if p.link is not None:
        return lines + [f"{k} = {_toml_str(v)}" for k, v in p.link.to_dict().items()] + [""]
    if p.index >= 0:
        lines.append(f"index = {p.index}")
    if p.kind != "bool":  # a bool's bounds are 0..1; the job file refuses min/max for it
        lines += [f"min = {_num(p, p.lo)}", f"max = {_num(p, p.hi)}"]
    return lines + [""]


def _header_lines(task: SceneTask) -> list[str]:
    """The job file's opening comments: the task, its start values, the papers' figures."""
    lines = [
        f"# {task.title} ({task.n} parameters): {task.description}",
        "# start values (saved in the .blend): "
        + ", ".join(f"{p.name} = {p.start:g}" for p in task.params[:8])
        + (" ..." if task.n > 8 else ""),
    ]
    if task.paper:
        lines.append(
            f"# the paper (Tab. 4.2, PRDPT): image MSE {task.paper.image_mse:g}, parameter MSE "
            f"{task.paper.param_mse:g}; {task.paper.iterations} iterations × N = {task.paper.samples}"
        )
    if task.zerograds:
        lines.append(
            f'# the ZeroGrads paper\'s settings (App. Tab. C.1): [method] name = "zerograds", '
            f'preset = "{task.zerograds.preset}"'
        )
    return lines


def job_text(
    task: SceneTask,
    blend: str,
    method: str | None = None,
    budget: int | None = None,
    seed: int = 0,
    width: int | None = None,
    height: int | None = None,
    samples: int | None = None,
    workers: int = 1,
    output: str | None = None,
    options: dict | None = None,
    preset: str | None = None,
) -> str:
    """The TOML job file of ``task``: ground truth as [target] values, bounds, the paper's settings.

    ``method`` is a row of the scene benchmark (``scenes/configs.py``: "zerograds:efficient", "prdpt",
    "auto" ...), written as the configuration and options that row runs, so the job reproduces it;
    default: the task's paper's method with its per-task settings. ``preset`` overrides the preset
    ("" writes none: the method's defaults). Start values are the ones the .blend is saved with (a job
    file has no start key); they are listed in a comment for people.
    """
    method = method or task.default_method
    if height is None:
        width, height = task.resolution(width or task.long_side)
    budget = budget or task.budget
    samples = samples or task.paper_spp
    lines = _header_lines(task) + [
        f"blend = {_toml_str(blend)}",
        f"output = {_toml_str(output or task.name + '_output')}",
        "",
        "[render]",
        f"width = {width}",
        f"height = {height}",
        f"samples = {samples}",
    ]
    if task.frame is not None:
        lines.append(f"frame = {task.frame}   # the worker steps the simulation up to here")
    lines.append("")
    for p in task.params:
        lines += _param_lines(p)
    values = ", ".join(f"{json.dumps(p.name)} = {_num(p, p.target)}" for p in task.params)
    lines += ["[target]", f"values = {{ {values} }}", ""]
    lines += _method_lines(task, method, preset, budget, seed, options)
    lines += ["", "[workers]", f"count = {workers}", ""]
    return "\n".join(lines)


def _method_lines(task: SceneTask, label: str, preset: str | None, budget: int, seed: int, options) -> list[str]:
    """[method]: the configuration and options the benchmark row ``label`` runs on ``task``."""
    from scenes.configs import row_configuration

    name, overrides = row_configuration(task, label)
    if preset is not None:  # an explicit preset (or "" for none) replaces the row's
        name = name.split(":")[0] + (f":{preset}" if preset else "")
    lines = ["[method]", f"name = {_toml_str(name)}", f"budget = {budget}", f"seed = {seed}"]
    for key, value in {**overrides, **task.method_options.get(label, {}), **(options or {})}.items():
        lines.append(f"{key} = {json.dumps(value)}")
    return lines


def write(task: SceneTask, folder: str, **job_options) -> tuple[str, str]:
    """Build the scene into ``folder/<name>.blend`` and write ``folder/<name>.toml`` next to it."""
    os.makedirs(folder, exist_ok=True)
    blend = os.path.join(folder, f"{task.name}.blend")
    task.build(os.path.abspath(blend))
    job = os.path.join(folder, f"{task.name}.toml")
    with open(job, "w", encoding="utf-8") as f:
        f.write(job_text(task, os.path.basename(blend), **job_options))
    return blend, job


def main(task: SceneTask, argv=None, spec: Callable | None = None) -> int:
    """The command line every task script shares: build the .blend and write the job file.

    ``spec``: the script's ``spec(size)`` for tasks with sizes (adds ``--size``)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=f"{task.title}: {task.description}")
    parser.add_argument("--out", default=os.path.join(root, "build", "scenes"), help="folder for .blend and .toml")
    if spec:
        parser.add_argument("--size", choices=SIZES, default="full")
    parser.add_argument("--method", default=None, help=f"default: {task.default_method}")
    parser.add_argument("--budget", type=int, default=None, help=f"renders (default: {task.budget})")
    parser.add_argument("--width", type=int, default=None, help=f"long side of the image (default: {task.long_side})")
    parser.add_argument("--samples", type=int, default=None, help=f"spp (default: {task.paper_spp})")
    args = parser.parse_args(argv)
    if spec:
        task = spec(args.size)
    blend, job = write(task, args.out, method=args.method, budget=args.budget, width=args.width, samples=args.samples)
    print(f"wrote {blend} and {job}\nrun it with: python -m optimizer_server run {job}")
    return 0

"""Batch job files (TOML): parse and check them before anything is started (no bpy).

blend = "scene.blend"                 # relative to this file
output = "out"                        # relative to this file (default: <job name>_output)

[render]
width = 64
height = 64
samples = 16
frame = 40                            # optional: simulate physics up to this frame
cameras = ["Front", "Side"]           # optional: render each camera's view; one loss over all of them

[[params]]
name = "x"
path = 'objects["Sphere"].location'
index = 0                             # optional, for arrays
min = -2.0                            # optional: the property's soft limits
max = 2.0
kind = "float"                        # optional: float/int/bool/enum, detected; an error if it disagrees

[[params]]                            # an array parameter: an image's pixels (one block of H×W×C values)
name = "albedo"
path = 'images["Albedo"]'             # a generated or packed 32-bit float RGBA image
array = "image"
channels = "RGB"                      # optional: which channels (default RGB)
min = 0.0                             # optional: bounds of every value of the block (default 0..1)
max = 1.0

[[params]]                            # an array parameter: a mesh object's vertices
name = "shape"
path = 'objects["Ball"]'
array = "mesh"
mode = "normal"                       # one offset per vertex along its normal; "xyz": three per vertex
group = "Top"                         # optional: only this vertex group's vertices

[[params]]                            # an array parameter: a mesh object's float attribute (what a
name = "density"                      #   geometry-nodes tree or a shader's Attribute node reads)
path = 'objects["Ground"]'
array = "attribute"
attribute = "density"                 # one value per element of its domain (point, face ...)
min = 0.0                             # optional (default 0..1, widened to the values it holds)
max = 1.0

[[params]]                            # a link parameter (bool): does this link exist?
name = "l3"
path = 'materials["Mat"].node_tree'   # the node tree (a material's, world's or a node group)
from_node = "Noise"                   # node names (not labels); sockets by name or identifier
from_socket = "Color"
to_node = "Mix"
to_socket = "A"                       # "A_Color" when several enabled inputs share the name

[target]
values = { x = 0.5 }                  # render these values as the target (an array block: a .npy
                                      # file of its shape, relative to this file), or
# image = "target.exr"                # compare with an image (relative to this file)
# mask = "mask.png"                   # optional
# seed = 7                            # noise seed of the target render

[method]                              # optional: auto, 400 renders
name = "prdpt:shadows"                # a configuration (`python -m optimizer_server methods`); default "auto"
budget = 400                          # renders
seed = 0
lr = 0.02                             # any other key is a method option

[workers]
count = 2                             # default: one per GPU when rendering on GPUs, else 1; 0: only
                                      #   workers started elsewhere (with [server] address or ray)
device = "auto"                       # optional: auto, cpu, cuda, optix, hip, oneapi, metal
ray = "auto"                          # optional: start the workers as Ray actors on this cluster
gpus_per_worker = 1                   # optional, with ray: GPUs (and cpus_per_worker: CPUs) per worker

[server]
address = "tcp://host:5555"           # optional: use a running server instead of starting one

A job file is input, not code: it names no program to run (the local server's Python comes from
`run --server-python` or $ZEROGRADS_PYTHON), its parameter paths stay in data that can change a
render (blender_addon.datapath.RENDER_DATA), and its output stays inside the job file's folder
unless `run --allow-output-outside` is given.

Each [[params]] table becomes an ``optimizer_server.wire.paramref.ParamRef`` (min/max are its
lo/hi, one number each, also for an array; ``kind = "link"``, which older job files write, is still
accepted for a link).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from typing import Any

from optimizer_server.wire.paramref import ARRAY_FIELDS, LINK_FIELDS, ParamRef
from optimizer_server.wire.space import KINDS

from ._deps import ConfigError
from .datapath import DataPathError, check_render_path
from .jobfile_files import JobFileError, array_file, check_blend_file, existing, output_folder, toml_reader
from .jobfile_files import fail as _fail

_KNOWN = {
    "": {"blend", "output", "render", "params", "target", "method", "workers", "server"},
    "render": {"width", "height", "samples", "frame", "cameras"},
    "params": {"name", "path", "index", "min", "max", "kind", "array", *ARRAY_FIELDS[1:], *LINK_FIELDS},
    "target": {"values", "image", "mask", "seed"},
    "workers": {"count", "threads", "device", "ray", "gpus_per_worker", "cpus_per_worker"},
    "server": {"address"},
}
_DEVICES = ("auto", "cpu", "cuda", "optix", "hip", "oneapi", "metal")  # blender_addon/devices.py: CHOICES
_JOB_KINDS = (*KINDS, "link")  # "link": what older job files write for a link parameter (a bool)
_PATH_HINT = """a data path such as 'objects["Sphere"].location'"""


@dataclass
class JobFile:
    path: str
    blend: str
    output: str
    width: int = 64
    height: int = 64
    samples: int = 16
    frame: int | None = None
    cameras: list[str] | None = None
    params: list[ParamRef] = field(default_factory=list)
    target_values: dict[str, Any] | None = None
    target_image: str | None = None
    mask: str | None = None
    target_seed: int = 1_000_003
    method: str = "auto"  # the measured-best pick by problem size (docs/efficiency.md)
    budget: int = 400
    seed: int = 0
    preset: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    workers: int | None = None  # None: one per GPU on GPUs, else 1
    threads: int | None = None
    device: str = "auto"
    ray: str | None = None
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    address: str | None = None


def _check_keys(table: dict[str, Any], section: str, where: str) -> None:
    known = _KNOWN[section]
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(sorted(known))}"
            raise _fail(where, f"unknown key {key!r}{hint}")


def _get(table, key, types, where, default=None, required=False, check=None, what=""):
    if key not in table:
        if required:
            raise _fail(where, f"missing key {key!r}" + (f" ({what})" if what else ""))
        return default
    value = table[key]
    if isinstance(value, bool) and bool not in types:
        ok = False
    else:
        ok = isinstance(value, types)
    if not ok:
        names = " or ".join(
            {int: "a whole number", float: "a number", str: "a string", bool: "true/false", dict: "a table"}.get(
                t, t.__name__
            )
            for t in types
        )
        raise _fail(where, f"{key!r} must be {names}, got {value!r}")
    if check is not None and not check(value):
        raise _fail(where, f"{key!r} {what}, got {value!r}")
    return value


def load(path: str, allow_output_outside: bool = False) -> JobFile:
    """Read and check a job file; relative paths are resolved against its folder."""
    tomllib = toml_reader()
    if not os.path.isfile(path):
        raise JobFileError(f"job file {path!r} does not exist")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise JobFileError(
            f"{path}: line {line} is not UTF-8 text (byte {raw[exc.start]:#04x}); save the job file as UTF-8"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise JobFileError(f"{path}: not valid TOML: {exc}") from None
    return parse(data, path, allow_output_outside)


def parse(data: dict[str, Any], path: str, allow_output_outside: bool = False) -> JobFile:
    name = os.path.basename(path)
    base = os.path.dirname(os.path.abspath(path))
    _check_keys(data, "", name)
    blend = _get(data, "blend", (str,), name, required=True, what="the .blend file to optimise")
    blend = os.path.normpath(os.path.join(base, blend))
    if not os.path.isfile(blend):
        raise _fail(name, f"'blend' = {data['blend']!r}: no such file ({blend})")
    check_blend_file(blend, data["blend"], name)
    default_out = os.path.splitext(name)[0] + "_output"
    output = output_folder(base, _get(data, "output", (str,), name, default_out), name, allow_output_outside)
    job = JobFile(path=os.path.abspath(path), blend=blend, output=output)
    _parse_render(job, _get(data, "render", (dict,), name, {}))
    job.params = _parse_params(data.get("params"), name)
    target = _get(data, "target", (dict,), name, required=True, what="values = {name = value} or image = FILE")
    _parse_target(job, target, base)
    _parse_method(job, dict(_get(data, "method", (dict,), name, {})))
    _parse_workers(job, _get(data, "workers", (dict,), name, {}))
    _parse_server(job, _get(data, "server", (dict,), name, {}))
    if job.workers == 0 and job.address is None:
        raise _fail("[workers] count", "0 workers with a server of its own would render nothing; give [server] address")
    if job.ray is not None and not job.workers:
        raise _fail("[workers] count", "with ray, say how many workers Ray starts (count = K)")
    return job


def _parse_server(job: JobFile, server: dict[str, Any]) -> None:
    if "python" in server:
        raise _fail(
            "[server] python",
            "a job file does not choose the program that runs the server (it is input, not code); "
            "remove the key and pass --server-python PATH to `python -m optimizer_server run`, "
            "or set ZEROGRADS_PYTHON",
        )
    _check_keys(server, "server", "[server]")
    job.address = _get(server, "address", (str,), "[server]", None)


def _positive(value) -> bool:
    return value > 0


def _parse_render(job: JobFile, render: dict[str, Any]) -> None:
    _check_keys(render, "render", "[render]")
    job.width = _get(render, "width", (int,), "[render]", 64, check=_positive, what="must be positive")
    job.height = _get(render, "height", (int,), "[render]", 64, check=_positive, what="must be positive")
    job.samples = _get(render, "samples", (int,), "[render]", 16, check=_positive, what="must be positive")
    job.frame = _get(render, "frame", (int,), "[render]", None)
    cameras = _get(render, "cameras", (list,), "[render]", None)
    if cameras is not None and (not cameras or not all(isinstance(c, str) and c for c in cameras)):
        raise _fail("[render]", f"'cameras' must be a list of camera object names, got {cameras!r}")
    job.cameras = cameras


def _parse_params(params: Any, name: str) -> list[ParamRef]:
    if not isinstance(params, list) or not params:
        raise _fail(name, "needs at least one [[params]] table (name, path, and optionally index/min/max/kind)")
    refs: list[ParamRef] = []
    for i, p in enumerate(params):
        where = f"[[params]] #{i + 1}"
        if not isinstance(p, dict):
            raise _fail(where, "must be a table")
        _check_keys(p, "params", where)
        pname = _get(p, "name", (str,), where, required=True, check=lambda v: bool(v.strip()), what="must not be empty")
        where = f"[[params]] {pname!r}"
        if any(ref.name == pname for ref in refs):
            raise _fail(where, "this name is used twice; every parameter needs its own name")
        refs.append(_param_ref(p, pname, where))
    return refs


def _param_ref(p: dict[str, Any], name: str, where: str) -> ParamRef:
    """One [[params]] table → a ParamRef (a link parameter: all four names, no index or bounds)."""
    path = _get(p, "path", (str,), where, required=True, what=_PATH_HINT)
    try:
        check_render_path(path)
    except DataPathError as exc:
        raise _fail(where, f"'path': {exc}") from None
    index = _get(p, "index", (int,), where, -1, check=lambda v: v >= -1, what="must be -1 or more")
    for bound in ("min", "max"):
        if isinstance(p.get(bound), (list, dict)):
            raise _fail(
                where,
                f"{bound!r} must be one number (it bounds every value of an array block alike), got {p[bound]!r}",
            )
    lo, hi = _get(p, "min", (int, float), where), _get(p, "max", (int, float), where)
    kinds = ", ".join(_JOB_KINDS)
    kind = _get(p, "kind", (str,), where, None, check=lambda v: v in _JOB_KINDS, what=f"must be one of {kinds}")
    if lo is not None and hi is not None and not lo < hi:
        raise _fail(where, f"needs min < max, got min={lo} max={hi}")
    link = None
    if kind == "link" or any(k in p for k in LINK_FIELDS):
        missing = [k for k in LINK_FIELDS if k not in p]
        if missing:
            raise _fail(where, f"a link parameter needs {', '.join(LINK_FIELDS)}; missing {', '.join(missing)}")
        if kind not in (None, "link", "bool"):
            raise _fail(where, f"kind = {kind!r} but from_node/... make it a link (on/off); leave kind out")
        extra = [k for k in ("index", "min", "max") if k in p]
        if extra:
            raise _fail(where, f"a link parameter is on/off: leave out {', '.join(extra)}")
        link = {k: _get(p, k, (str,), where, required=True, check=bool, what="must not be empty") for k in LINK_FIELDS}
        kind = None
    array = _array_of(p, where)
    try:
        return ParamRef(name, path, index, link, lo, hi, kind, array)
    except ConfigError as exc:
        raise _fail(where, str(exc)) from None


def _array_of(p: dict[str, Any], where: str) -> dict[str, str] | None:
    """array = "image" / "mesh" / "attribute" with its channels, mode, group or attribute (None for a
    scalar parameter)."""
    extra = [k for k in ARRAY_FIELDS[1:] if k in p]
    if "array" not in p:
        if extra:
            kinds = 'array = "image", "mesh" or "attribute"'
            raise _fail(where, f"{', '.join(extra)} belong to an array parameter; add {kinds}")
        return None
    array = {"kind": _get(p, "array", (str,), where)}
    for key in extra:
        array[key] = _get(p, key, (str,), where)
    return array


def _parse_target(job: JobFile, target: dict[str, Any], base: str) -> None:
    _check_keys(target, "target", "[target]")
    if ("values" in target) == ("image" in target):
        raise _fail("[target]", "give exactly one of 'values' (parameter values to render) or 'image' (a file)")
    if "values" in target:
        values = _get(target, "values", (dict,), "[target]")
        names = {ref.name for ref in job.params}
        unknown = sorted(set(values) - names)
        missing = sorted(names - set(values))
        if unknown or missing:
            raise _fail("[target] values", f"must name every parameter once: missing {missing}, unknown {unknown}")
        blocks = {ref.name for ref in job.params if ref.array is not None}
        job.target_values = {
            k: array_file(base, v, k) if k in blocks and isinstance(v, str) else v for k, v in values.items()
        }
    else:
        job.target_image = existing(base, _get(target, "image", (str,), "[target]"), "[target] image")
    if "mask" in target:
        job.mask = existing(base, _get(target, "mask", (str,), "[target]"), "[target] mask")
    job.target_seed = _get(
        target, "seed", (int,), "[target]", job.target_seed, check=lambda v: v >= 0, what="must be 0 or more"
    )


def _parse_method(job: JobFile, method: dict[str, Any]) -> None:
    """[method] (optional: auto, 400 renders); name is a method or a configuration
    ("zerograds:efficient" = method zerograds, preset efficient)."""
    job.method = _get(method, "name", (str,), "[method]", job.method, check=bool, what="must not be empty")
    renders = "must be a positive number of renders"
    job.budget = _get(method, "budget", (int,), "[method]", job.budget, check=_positive, what=renders)
    job.seed = _get(method, "seed", (int,), "[method]", 0, check=lambda v: v >= 0, what="must be 0 or more")
    job.preset = _get(method, "preset", (str,), "[method]", None)
    if ":" in job.method:
        job.method, named_preset = job.method.split(":", 1)
        if job.preset not in (None, named_preset):
            raise _fail("[method] preset", f"name {job.method}:{named_preset!r} already names a preset; drop one")
        job.preset = named_preset
    job.options = {k: v for k, v in method.items() if k not in ("name", "budget", "seed", "preset")}
    _check_method(job)


def _parse_workers(job: JobFile, w: dict[str, Any]) -> None:
    """The [workers] table: how many, on which render device, and (with ``ray``) where Ray starts them."""
    _check_keys(w, "workers", "[workers]")
    job.workers = _get(w, "count", (int,), "[workers]", None, check=lambda v: 0 <= v <= 256, what="must be 0..256")
    job.threads = _get(w, "threads", (int,), "[workers]", None, check=lambda v: v >= 1, what="must be 1 or more")
    one_of = f"must be one of {', '.join(_DEVICES)}"
    job.device = _get(w, "device", (str,), "[workers]", "auto", check=lambda v: v in _DEVICES, what=one_of)
    job.ray = _get(w, "ray", (str,), "[workers]", None, check=bool, what='must name a Ray cluster ("auto", HOST:PORT)')
    nonneg = {"check": lambda v: v >= 0, "what": "must be 0 or more"}
    job.gpus_per_worker = float(_get(w, "gpus_per_worker", (int, float), "[workers]", 0.0, **nonneg))
    job.cpus_per_worker = float(_get(w, "cpus_per_worker", (int, float), "[workers]", 1.0, **nonneg))
    if job.ray is None and ("gpus_per_worker" in w or "cpus_per_worker" in w):
        raise _fail("[workers]", "gpus_per_worker and cpus_per_worker are for Ray workers: add ray = ADDRESS")


def _check_method(job: JobFile) -> None:
    """Method name, preset and option names against the registry snapshot the add-on ships."""
    from . import catalog

    def hint(word, choices):
        close = difflib.get_close_matches(word, list(choices), n=1)
        return f"did you mean {close[0]!r}? " if close else ""

    methods = catalog.methods()
    if job.method not in methods:
        choices = ", ".join(sorted(methods))
        raise _fail("[method] name", f"unknown method {job.method!r}; {hint(job.method, methods)}available: {choices}")
    info = methods[job.method]
    if job.preset is not None and job.preset not in info["presets"]:
        raise _fail(
            "[method] preset",
            f"{job.method} has no preset {job.preset!r}; its presets: {', '.join(info['presets']) or 'none'}",
        )
    for key in job.options:
        if key not in info["options"]:
            options = ", ".join(sorted(info["options"]))
            why = f"{job.method} has no option {key!r}; {hint(key, info['options'])}its options: {options}"
            raise _fail(f"[method] {key}", why)

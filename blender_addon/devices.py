"""Which device Cycles renders on: the CPU, or the GPUs of one backend (OptiX, CUDA, HIP, oneAPI, Metal).

A worker takes ``--device auto|cpu|cuda|optix|hip|oneapi|metal`` (``auto``: the best backend Cycles
reports, else the CPU with a log line saying so) and optionally ``--gpu N`` (bind to the N-th device of
that backend: one worker per GPU) or ``--gpu-ids ID,ID`` (the devices a user enabled in Blender's
preferences, which the panel passes on: its workers start with factory settings). A GPU asked for that
Cycles does not report is an error naming what it does report.

Cycles keeps the choice in its add-on preferences (``compute_device_type`` and each device's ``use``)
and the scene's ``cycles.device`` ("CPU"/"GPU"); ``select`` sets both.
"""

from __future__ import annotations

import logging

from ._deps import ConfigError

log = logging.getLogger("zerograds.devices")

BACKENDS = ("optix", "cuda", "hip", "oneapi", "metal")  # best first: OptiX is CUDA with RT cores
CHOICES = ("auto", "cpu") + BACKENDS
NAMES = {"optix": "OptiX", "cuda": "CUDA", "hip": "HIP", "oneapi": "oneAPI", "metal": "Metal", "cpu": "CPU"}


class DeviceError(ConfigError):
    """The render device asked for is not there."""


def _prefs():
    import bpy

    addon = bpy.context.preferences.addons.get("cycles")
    if addon is None:
        raise DeviceError("the Cycles add-on is not enabled in this Blender; enable it to render")
    return addon.preferences


def gpu_devices(backend: str) -> list:
    """The devices Cycles reports for one GPU backend (none when its driver or library is missing)."""
    try:
        devices = _prefs().get_devices_for_type(backend.upper())
    except (TypeError, ValueError, RuntimeError):  # a backend this build of Cycles does not know
        return []
    return [d for d in devices if d.type == backend.upper()]


def available() -> dict[str, list[str]]:
    """GPU backend → the names of its devices, for every backend with at least one."""
    found = {backend: [d.name for d in gpu_devices(backend)] for backend in BACKENDS}
    return {backend: names for backend, names in found.items() if names}


def resolve(requested: str) -> str:
    """``auto`` → the best backend Cycles reports, or ``cpu`` (logged); a named GPU backend must exist."""
    requested = requested.lower()
    if requested not in CHOICES:
        raise DeviceError(f"device {requested!r} is not one of {', '.join(CHOICES)}")
    if requested == "cpu":
        return "cpu"
    if requested == "auto":
        for backend in BACKENDS:
            if gpu_devices(backend):
                return backend
        log.info("device auto: Cycles reports no GPU (OptiX, CUDA, HIP, oneAPI, Metal): rendering on the CPU")
        return "cpu"
    if not gpu_devices(requested):
        found = available()
        seen = ", ".join(f"{NAMES[b]}: {', '.join(n)}" for b, n in found.items()) or "no GPU at all"
        raise DeviceError(
            f"device {requested!r}: Cycles reports no {NAMES[requested]} device on this machine ({seen}); "
            "use --device auto (the best there is, else the CPU) or --device cpu"
        )
    return requested


def select(scene, requested: str = "auto", gpu: int | None = None, ids: list[str] | None = None) -> str:
    """Render ``scene`` on the device asked for; returns what it renders on, e.g. "CPU" or
    "OptiX: NVIDIA H200". ``gpu``: only the N-th device of the backend; ``ids``: only these devices."""
    backend = resolve(requested)
    if backend == "cpu":
        scene.cycles.device = "CPU"
        return "CPU"
    devices = gpu_devices(backend)
    chosen = devices
    if gpu is not None:
        if not 0 <= gpu < len(devices):
            raise DeviceError(
                f"--gpu {gpu}: Cycles reports {len(devices)} {NAMES[backend]} device(s), 0..{len(devices) - 1}"
            )
        chosen = [devices[gpu]]
    elif ids:
        chosen = [d for d in devices if d.id in ids]
        if not chosen:
            raise DeviceError(f"none of the devices {ids} is a {NAMES[backend]} device Cycles reports here")
    prefs = _prefs()
    prefs.compute_device_type = backend.upper()
    wanted = {d.id for d in chosen}
    for device in prefs.devices:  # the CPU too: a GPU worker renders on its GPU only
        device.use = device.id in wanted and device.type == backend.upper()
    scene.cycles.device = "GPU"
    return f"{NAMES[backend]}: {', '.join(d.name for d in chosen)}"


def user_choice() -> tuple[str, list[str]]:
    """The device of this Blender user's own preferences (Preferences › System › Cycles Render Devices):
    (backend or "cpu", the ids of the devices enabled there). What the panel's workers render on."""
    prefs = _prefs()
    backend = str(prefs.compute_device_type).lower()
    if backend not in BACKENDS:
        return "cpu", []
    ids = [d.id for d in prefs.devices if d.use and d.type == backend.upper()]
    return (backend, ids) if ids else ("cpu", [])


def worker_args(requested: str = "auto", count: int | None = None, ids: list[str] | None = None) -> list[list[str]]:
    """The device arguments of each of ``count`` local workers: on GPUs, one worker per GPU by default
    (``count`` None), each bound to its own (``--gpu N``); on the CPU, ``count`` (default 1) workers."""
    backend = resolve(requested)
    if backend == "cpu":
        return [["--device", "cpu"] for _ in range(count or 1)]
    if ids:
        return [["--device", backend, "--gpu-ids", ids[i % len(ids)]] for i in range(count or len(ids))]
    gpus = len(gpu_devices(backend))
    return [["--device", backend, "--gpu", str(i % gpus)] for i in range(count or gpus)]

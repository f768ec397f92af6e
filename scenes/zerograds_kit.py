"""What the ZeroGrads tasks (thesis Sec. 5.4.3, App. C.2) share beyond the common task model.

The task model, job files, registry and command line are the shared ones (``scenes/task.py``,
``scenes/registry.py``); a script (``scenes/zg_wicker.py`` ...) defines ``spec(size) -> SceneTask`` ("ci":
tiny, for tests; "full": the paper's dimensions) and ``TASK = spec("full")``. Here: the ZeroGrads
defaults of such a task (:func:`zg_task`), the paper's Tab. 5.2 ranges, deterministic start/target
patterns and the scene pieces the scripts share. Nothing imports ``bpy`` at module level.

    python -m scenes.zg_wicker --size ci --out build/scenes     # zg_wicker.blend + zg_wicker.toml
    python -m scenes.registry --size full                          # every task, ZeroGrads' included
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from scenes.task import Param, SceneTask, ZeroGradsPaper, check_params

RENDERS = 400  # a run's render budget when nothing else is asked for
SPP = 8

# Tab. 5.2: at the render count where ZeroGrads reaches 95 % error reduction, the others' error is
# this many times higher (the paper gives ranges over its tasks).
PAPER_RATIOS = {
    "nosmooth": (1.2, 3.9),
    "nonn": (8.9, 792.0),
    "nolocal": (12.0, 613.0),
    "fd": (10.0, 654.0),
    "prdpt": (3.3, 324.0),
}


def zg_task(
    name: str,
    title: str,
    description: str,
    size: str,
    params: Sequence[Param],
    build: Callable,
    preset: str,
    frame: int | None = None,
    width: int = 32,
    height: int = 32,
) -> SceneTask:
    """A ZeroGrads task: no PRDPT figure, the paper's zerograds ``preset`` (App. Tab. C.1), its own
    render budget and image size (``width`` × ``height`` is the job file's default)."""
    return SceneTask(
        name,
        title,
        description,
        check_params(params),
        build,
        renders=RENDERS,
        spp=SPP,
        aspect=(width, height),
        long_side=max(width, height),
        zerograds=ZeroGradsPaper(preset),
        frame=frame,
        size=size,
    )


def bits(count: int, seed: int, share: float = 0.5) -> list[int]:
    """A deterministic on/off pattern (LED, NODE-GRAPH start/target)."""
    rng = random.Random(seed)
    return [1 if rng.random() < share else 0 for _ in range(count)]


def uniforms(count: int, seed: int, lo: float, hi: float) -> list[float]:
    rng = random.Random(seed)
    return [round(rng.uniform(lo, hi), 4) for _ in range(count)]


# --- scene builders shared by the task scripts (bpy imported inside) ---------------------------------


def studio(camera_location, target, lens=40.0, world_color=(0.15, 0.15, 0.18)):
    """Empty scene + camera + dim world: the start of every ZeroGrads scene."""
    from scenes import kit

    scene = kit.empty_scene()
    kit.camera(camera_location, target=target, lens=lens)
    kit.world(world_color, 1.0)
    return scene


def emission_material(name, color, strength=1.0):
    from scenes import kit

    return kit.node_material(name, "ShaderNodeEmission", Color=(*color, 1.0), Strength=strength)


def finish(path, width=32, height=32):
    from scenes import kit

    kit.quiet_indirect()
    return kit.finish(path, width, height)

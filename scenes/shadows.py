"""SHADOWS (PRDPT, Sec. 4.4): find an object outside the view from its shadow alone.

The scene is the SHADOWS demo's (``scenes/shadows_demo.py``): a sphere outside an orthographic
top view, its shadow thrown into the picture by a low sun. Start and target shadows do not overlap.

    python -m scenes.shadows [--out build/scenes]
"""

import sys

from scenes import shadows_demo, task

PARAMS = task.params_from(
    [
        (
            axis,
            'objects["Occluder"].location',
            index,
            shadows_demo.BOUNDS[axis],
            shadows_demo.START[axis],
            shadows_demo.TARGET[axis],
        )
        for index, axis in enumerate(("x", "y"))
    ]
)


def build(path=None):
    from scenes import kit

    shadows_demo.build()
    return kit.finish(path)


TASK = task.SceneTask(
    name="shadows",
    title="SHADOWS",
    description="a sphere outside the view, found from its shadow",
    params=PARAMS,
    build=build,
    quick_renders=800,
    prdpt_preset="shadows",
    paper=task.PaperResult(image_mse=1.74e-5, param_mse=1.81e-3, samples=2, iterations=400, spp=32),
)

if __name__ == "__main__":
    sys.exit(task.main(TASK))

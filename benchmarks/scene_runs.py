"""Runs of configurations on one built scene, rendered in this process (the scene benchmark's harness).

Every run goes through the one ask → evaluate → tell loop (``optimizer_server.evaluation``) with the
server's image loss, rendering in memory with the workers' own renderer; the row's configuration
comes from ``scenes/configs.py``.
"""

from __future__ import annotations

import time

from scenes.configs import row_configuration

TARGET_SEED = 1_000_003  # the batch runner's default target seed


def task_space(task, bindings=None):
    """The task's parameters as the server's jobs see them (a link is an on/off switch: a bool; an array
    block's shape and edges come from the scene, so those tasks pass the renderer's ``bindings``)."""
    from optimizer_server.wire.space import Space

    if bindings is None:
        return Space([p.spec() for p in task.params])
    from blender_addon import params

    return Space([params.spec_for(p.ref(), b) for p, b in zip(task.params, bindings)])


class SceneRuns:
    """Runs of configurations on one built scene, rendered in this process through the one loop."""

    def __init__(self, task, space, render_one):
        import numpy as np

        from optimizer_server.wire.imageloss import ImageLoss

        self.task, self.space, self.render_one = task, space, render_one
        self.truth, self.start = np.array(task.unit("target")), np.array(task.unit("start"))
        self.target = self.render_unit(self.truth, TARGET_SEED)
        self.loss = ImageLoss(self.target)
        self.start_image_mse = self.loss.loss(self.render_unit(self.start, TARGET_SEED))

    def render_unit(self, unit, seed: int):
        """A unit-cube point rendered as the renderer applies it (clipped, discrete kinds rounded)."""
        return self.render_one(self.space.from_unit(unit), seed=seed)

    def evaluate(self, values, seeds, residuals: bool):
        from optimizer_server.evaluation import Evaluation

        images = [self.render_one(v, seed=int(s)) for v, s in zip(values, seeds)]
        return Evaluation(self.loss(images), self.loss.residuals(images) if residuals else None)

    def param_mse(self, unit) -> float:
        """Mean over the parameters of (estimate − truth)², both in [0, 1] by the job's bounds, the
        estimate as the renderer applies it."""
        import numpy as np

        return float(np.mean((self.space.snap(unit) - self.truth) ** 2))

    def run(self, label: str, seed: int, budget: int) -> tuple[dict, list[dict]]:
        """One seed of one row: (its CSV row, its history of loss and parameter error)."""
        from optimizer_server.evaluation import Loop
        from optimizer_server.methods import Capabilities, create_method

        started = time.perf_counter()
        config, overrides = row_configuration(self.task, label)
        method = create_method(
            config,
            self.space,
            budget,
            seed=seed,
            x0=self.start,
            capabilities=Capabilities(residuals=True),
            **overrides,
        )
        history = [
            {
                "renders": 0,
                "seconds": 0.0,
                "loss": self.loss.loss(self.render_unit(self.start, 0)),
                "param_mse": self.param_mse(self.start),
            }
        ]
        every = budget / 200  # a point at least every half percent of the budget: ≤ ~200 points per curve
        overhead = []

        def record(step) -> None:
            overhead.append(step.optimizer_s)
            if step.evaluations - history[-1]["renders"] >= every or method.done:
                history.append(
                    {
                        "renders": step.evaluations,
                        "seconds": time.perf_counter() - started,
                        "loss": step.loss,
                        "param_mse": self.param_mse(step.current),
                    }
                )

        Loop(method, self.space).run(self.evaluate, record)
        self.last_current = method.current
        row = {
            "task": self.task.name,
            "method": label,
            "seed": seed,
            "n": self.task.n,
            "renders": method.evaluations,
            "image_mse": self.loss.loss(self.render_unit(method.current, TARGET_SEED)),
            "param_mse": self.param_mse(method.current),
            "start_param_mse": self.param_mse(self.start),
            "start_image_mse": self.start_image_mse,
            "wall_s": round(time.perf_counter() - started, 3),
            "overhead_s": round(sum(overhead), 3),
        }
        return row, history

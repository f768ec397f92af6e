"""A discrete task end to end through the batch runner: server, Blender worker process, Cycles.

WICKER at ci size (three int inputs of a geometry-nodes modifier, 32×32, 8 spp), ZeroGrads with
the project's defaults and a small budget.
"""

import json

import numpy as np
import pytest

from scenes import registry as tasks
from scenes import task as task_module

pytest.importorskip("torch", reason="the optimizer server needs torch")

BUDGET = 96


@pytest.mark.slow
def test_wicker_runs_end_to_end(tmp_path):
    from blender_addon import batch

    task = tasks.load("zg_wicker", "ci")
    # preset="": the project's defaults, not the paper's Tab. C.1 preset the job file names by default
    _, job = task_module.write(task, str(tmp_path), method="zerograds", budget=BUDGET, seed=0, preset="")
    result = batch.run_job(job, quiet=True)
    assert result["state"] == "finished"
    assert result["evaluations"] == BUDGET
    saved = json.loads((tmp_path / "zg_wicker_output" / "result.json").read_text())
    assert saved["x"].keys() == {p.name for p in task.params}
    # ints come back as whole numbers inside the bounds
    for p in task.params:
        assert p.lo <= saved["x"][p.name] <= p.hi

    def param_error(x):
        return np.mean([(p.unit(round(x[p.name])) - p.unit(p.target)) ** 2 for p in task.params])

    best = saved["best_sample"]
    assert all(float(v).is_integer() for v in best["x"].values())  # the workers rendered whole counts
    print(
        f"\nWICKER ci, {BUDGET} renders, {result['wall_s']:.1f} s: parameter MSE start "
        f"{param_error(saved['start']):.4f}, estimate {param_error(saved['x']):.4f}, best sample "
        f"{param_error(best['x']):.4f} (image MSE {best['loss']:.4g} vs the estimate's {saved['loss']:.4g})"
    )
    # The renders answer the discrete inputs: some sample the workers rendered looks more like the
    # target than the start does (the estimate itself may not have moved in so few renders).
    start_loss = saved["history"][0]["loss"]
    assert best["loss"] < min(start_loss, saved["loss"])

"""Every task scene builds, its job file validates, and its ground truth is not its start."""

import json
import math
import os

import pytest
from scenes_support import python

from scenes import registry as tasks
from scenes import task as task_module

ALL = list(tasks.PRDPT_TASKS)


@pytest.mark.parametrize("name", ALL)
def test_task_data_is_consistent(name):
    task = tasks.load(name)
    assert task.name == name and task.n == len({p.name for p in task.params})
    assert all(p.lo <= v <= p.hi for p in task.params for v in (p.start, p.target))
    # The optimiser has to move: start and truth are apart in the normalised space.
    distance = math.sqrt(sum((a - b) ** 2 for a, b in zip(task.unit("start"), task.unit("target"))))
    assert distance > 0.1
    assert task.paper.renders == task.paper.samples * task.paper.iterations == task.budget


def test_sort_is_150_dimensional_and_the_registry_refuses_unknown_names():
    assert tasks.load("sort").n == 150
    with pytest.raises(KeyError, match="registered: cup"):
        tasks.load("cornell_box")


@pytest.mark.parametrize("name", ALL)
def test_job_file_validates_and_holds_the_paper_settings(built_scenes, name):
    from blender_addon import jobfile

    task = tasks.load(name)
    assert (built_scenes / f"{name}.blend").stat().st_size > 10_000
    job = jobfile.load(str(built_scenes / f"{name}.toml"))
    assert job.method == "prdpt" and job.preset == task.prdpt_preset
    assert job.budget == task.paper.renders and job.samples == task.paper.spp
    assert job.target_values == {p.name: p.target for p in task.params}
    assert [(p.lo, p.hi) for p in job.params] == [(p.lo, p.hi) for p in task.params]


def test_ground_truth_renders_differ_from_the_start(built_scenes):
    """At 32 px (SORT: 96×32) and 16 spp, the start's render differs from the target's by clearly
    more than two target renders with different noise seeds do; and each .blend holds the start."""
    jobs = []
    for name in ALL:
        path = built_scenes / f"{name}_tiny.toml"
        path.write_text(task_module.job_text(tasks.load(name), f"{name}.blend", width=32, samples=16))
        jobs.append(str(path))
    lines = [
        json.loads(line)
        for line in python(os.path.join("tests", "scenes", "render_check.py"), *jobs).splitlines()
        if line.startswith("{")
    ]
    assert [line["job"] for line in lines] == [f"{n}_tiny.toml" for n in ALL]
    for name, line in zip(ALL, lines):
        assert line["start_vs_target"] > 3 * line["noise"], (name, line)
        assert line["start"] == pytest.approx(tasks.load(name).values("start"), abs=1e-5), name


def test_job_text_is_valid_toml_for_any_method():
    import tomllib

    task = tasks.load("caustic")
    data = tomllib.loads(task_module.job_text(task, "caustic.blend", method="cmaes", budget=40, width=32))
    assert data["method"] == {"name": "cmaes", "budget": 40, "seed": 0}
    assert (data["render"]["width"], data["render"]["height"]) == (32, 32)
    assert data["target"]["values"] == {"light_x": 2.4, "light_y": 0.8}


def test_a_task_without_paper_figures_gets_its_own_budget_and_no_preset():
    """A task without a Tab. 4.2 row: budget and spp come from the task."""
    import dataclasses

    import tomllib

    task = dataclasses.replace(tasks.load("shadows"), name="plain", paper=None, prdpt_preset=None, renders=60, spp=8)
    data = tomllib.loads(task_module.job_text(task, "plain.blend"))
    assert data["method"] == {"name": "prdpt", "budget": 60, "seed": 0} and data["render"]["samples"] == 8

"""One task model and one registry for PRDPT's and ZeroGrads' tasks: every registered task builds
through `make scenes`' command and its job file validates; the ZeroGrads parts of the model (link
parameters, simulation frame, Tab. C.1 preset) reach the job file and the workers' references."""

import pytest
import tomllib

from scenes import registry as tasks
from scenes import task as task_module


def test_registry_holds_both_papers_tasks_at_both_sizes():
    assert set(tasks.PRDPT_TASKS) | set(tasks.ZEROGRADS_TASKS) == set(tasks.TASK_NAMES)
    for name in tasks.ZEROGRADS_TASKS:
        ci, full = tasks.load(name, "ci"), tasks.load(name, "full")
        assert full.n == tasks.load(name).n  # the script's TASK is the full size
        assert (ci.size, full.size) == ("ci", "full") and ci.n <= full.n
        assert ci.paper is None and ci.zerograds.preset and ci.default_method == "zerograds:paper"
    assert tasks.load("cup", "ci") is tasks.load("cup")  # one size: size is ignored
    with pytest.raises(ValueError, match="size must be one of"):
        tasks.load("zg_led", "huge")


@pytest.mark.parametrize("name", tasks.TASK_NAMES)
def test_every_registered_task_builds_and_its_job_validates(built_scenes, name):
    from blender_addon import jobfile

    task = tasks.load(name, "ci")
    assert (built_scenes / f"{name}.blend").stat().st_size > 10_000
    job = jobfile.load(str(built_scenes / f"{name}.toml"))
    # the default row: the paper's method with its per-task preset (scenes/configs.py)
    method = task.default_method.split(":")[0]
    assert job.method == method and job.preset == task.preset_for(method)
    assert job.budget == task.budget and job.frame == task.frame
    assert [p.name for p in job.params] == [p.name for p in task.params]
    assert job.target_values == {p.name: pytest.approx(p.target) for p in task.params}


def test_link_parameters_and_frame_reach_job_and_worker_references():
    from blender_addon import jobspec

    graph, gravity = tasks.load("zg_node_graph", "ci"), tasks.load("zg_gravity", "ci")
    link = graph.params[0]
    settings = jobspec.render_settings(32, 32, 4, [p.ref() for p in graph.params])
    assert settings["paths"][0] == {
        "name": link.name,
        "path": link.path,
        "index": -1,
        "link": link.link.to_dict(),
    }
    data = tomllib.loads(task_module.job_text(gravity, "g.blend", method="fd", budget=20))
    assert data["render"]["frame"] == 40 and data["method"] == {"name": "fd", "budget": 20, "seed": 0}
    data = tomllib.loads(task_module.job_text(graph, "n.blend"))
    assert data["method"]["name"] == "zerograds:node_graph" and "kind" not in data["params"][0]
    assert "min" not in data["params"][0] and data["target"]["values"][link.name] == int(link.target)


def test_task_model_refuses_incomplete_links_and_still_tasks():
    with pytest.raises(ValueError, match="a link needs a table with from_node, from_socket, to_node, to_socket"):
        task_module.param("l", "materials['M'].node_tree", -1, 0.0, 1.0, 0.0, 1.0, kind="bool", link=("N", "C", "M"))
    with pytest.raises(ValueError, match="a link parameter is on/off"):
        task_module.param("l", "materials['M'].node_tree", -1, 0.0, 1.0, 0.0, 1.0, link=("N", "C", "M", "A"))
    with pytest.raises(ValueError, match="nothing to optimise"):
        task_module.check_params([task_module.param("x", "objects['A'].location", 0, 0.0, 1.0, 0.5, 0.5)])

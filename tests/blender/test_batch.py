"""Batch mode end to end: real server, real worker processes, real Cycles renders (32×32, 8 spp)."""

import json
import os
import subprocess
import sys

import pytest
import scene_kit

pytest.importorskip("torch", reason="the optimizer server needs torch")

JOB = """
blend = "tiny.blend"
output = "out"
[render]
width = 32
height = 32
samples = 8
[[params]]
name = "x"
path = '{path}'
index = 0
min = {lo}
max = {hi}
[target]
values = {{ x = {target} }}
[method]
name = "cmaes"
budget = 60
seed = 1
[workers]
count = {workers}
"""


@pytest.fixture(scope="module")
def tiny_blend(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    scene_kit.build_tiny_scene(folder / "tiny.blend")
    return folder / "tiny.blend"


def write_job(folder, workers=1, **overrides):
    text = JOB.format(
        path=scene_kit.TINY_PATH,
        lo=scene_kit.TINY_BOUNDS[0],
        hi=scene_kit.TINY_BOUNDS[1],
        target=scene_kit.TINY_TARGET,
        workers=workers,
    )
    for old, new in overrides.items():
        assert old in text, old
        text = text.replace(old, new)
    path = folder / "job.toml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_batch_run_recovers_the_hidden_parameter(tiny_blend, capsys):
    from blender_addon import batch

    job = write_job(tiny_blend.parent)
    result = batch.run_job(str(job))
    out = tiny_blend.parent / "out"
    for name in ("result.json", "initial.png", "final.png", "target.png", "loss.png", "optimised.blend"):
        assert (out / name).stat().st_size > 0, name
    saved = json.loads((out / "result.json").read_text())
    assert saved["x"]["x"] == pytest.approx(scene_kit.TINY_TARGET, abs=0.05)
    assert saved["evaluations"] == 60 and len(saved["history"]) >= 5
    assert saved["history"][-1]["best_loss"] < saved["history"][0]["loss"]
    assert result["state"] == "finished"
    printed = capsys.readouterr().out
    assert "renders" in printed and "pictures:" in printed  # progress lines and where the pictures are
    verdict = saved["verdict"]  # the answer against the target's own render noise, in the log too
    assert verdict["noise_floor"] > 0 and verdict["text"] in printed
    assert verdict["text"].startswith("matched" if verdict["matched"] else "not matched")


@pytest.mark.slow  # reads what test_batch_run_recovers_the_hidden_parameter wrote
def test_optimised_blend_holds_the_result_and_the_original_render_settings(tiny_blend):
    import bpy

    bpy.ops.wm.open_mainfile(filepath=str(tiny_blend))
    original = (bpy.context.scene.render.resolution_x, bpy.context.scene.cycles.samples)
    out = tiny_blend.parent / "out"
    x = json.loads((out / "result.json").read_text())["x"]["x"]
    bpy.ops.wm.open_mainfile(filepath=str(out / "optimised.blend"))
    assert bpy.data.objects["Ball"].location[0] == pytest.approx(x, abs=1e-6)
    assert (bpy.context.scene.render.resolution_x, bpy.context.scene.cycles.samples) == original


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("samples = 8", "sampels = 8", "[render]: unknown key 'sampels'; did you mean 'samples'?"),
        ('blend = "tiny.blend"', 'blend = "nope.blend"', "'blend' = 'nope.blend': no such file"),
        ("min = -1.0", "min = 2.0", "needs min < max"),
        ("values = { x = 0.3 }", "values = { y = 0.3 }", "missing ['x'], unknown ['y']"),
        ('name = "cmaes"', 'name = "cmaez"', "unknown method 'cmaez'; did you mean 'cmaes'?"),
        ("budget = 60", "budget = -3", "'budget' must be a positive number of renders"),
        ("index = 0", "index = 7", "index 7 is out of range 0…2"),
        (".location'", ".locaton'", "no property 'locaton'"),
        ("seed = 1", "seed = 1\nlr = 0.1", "cmaes has no option 'lr'"),
        ("count = 1", "count = 0", "[workers] count: 0 workers with a server of its own would render nothing"),
        ("count = 1", "count = 300", "[workers]: 'count' must be 0..256"),
        ("budget = 60", "budget = 60.5", "'budget' must be a whole number"),
    ],
)
def test_bad_job_files_name_the_key_and_the_problem(tiny_blend, old, new, message):
    from blender_addon import batch
    from optimizer_server.wire.errors import ZeroGradsError

    job = write_job(tiny_blend.parent, **{old: new})
    with pytest.raises(ZeroGradsError) as info:
        batch.run_job(str(job), quiet=True)
    assert message in str(info.value)


def test_kind_mismatch_is_explained(tiny_blend):
    from blender_addon import batch
    from optimizer_server.wire.errors import ZeroGradsError

    job = write_job(tiny_blend.parent, **{"max = 1.0": 'max = 1.0\nkind = "int"'})
    with pytest.raises(ZeroGradsError, match="is a float property; write kind = 'float'"):
        batch.run_job(str(job), quiet=True)


@pytest.mark.slow
def test_cli_exit_code_and_message_for_a_bad_job(tiny_blend):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    job = write_job(tiny_blend.parent, **{"samples = 8": "samples = 0"})
    proc = subprocess.run(
        [sys.executable, "-m", "optimizer_server", "run", str(job)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "[render]: 'samples' must be positive, got 0" in proc.stderr

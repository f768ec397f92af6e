"""Finding 4: job files were trusted like code. Every bad one is now a ConfigError naming the key and
the fix; they cannot name a program, write outside their folder or into scripts; scenes never run
their scripts; and the runner says at once how to resume when its server dies."""

from __future__ import annotations

import os
import signal
import sys

import pytest

bpy = pytest.importorskip("bpy", reason="the `bpy` module (pip install bpy) is needed for job files")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "blender"))

import scene_kit  # noqa: E402

from blender_addon import batch  # noqa: E402
from optimizer_server.wire.errors import ConfigError, ServerUnavailableError  # noqa: E402

JOB = """
blend = "tiny.blend"
output = "out"
[render]
width = 24
height = 24
samples = 4
[[params]]
name = "x"
path = 'objects["Ball"].location'
index = 0
min = -1.0
max = 1.0
[target]
values = { x = 0.3 }
[method]
name = "cmaes"
budget = 300
seed = 1
"""


@pytest.fixture
def folder(tmp_path):
    scene_kit.build_tiny_scene(tmp_path / "tiny.blend")
    return tmp_path


def job_file(folder, text=JOB, **replace) -> str:
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = folder / "job.toml"
    path.write_text(text)
    return str(path)


def refused(path: str, needle: str, **kw) -> str:
    with pytest.raises(ConfigError) as info:
        batch.run_job(path, quiet=True, **kw)
    assert needle in str(info.value), str(info.value)
    return str(info.value)


def test_a_job_file_that_is_not_utf8(folder):
    path = folder / "job.toml"
    path.write_bytes(JOB.encode().replace(b'name = "x"', b'name = "\xff\xfe"'))
    refused(str(path), "is not UTF-8 text (byte 0xff); save the job file as UTF-8")


def test_a_blend_that_is_random_bytes(folder):
    (folder / "noise.blend").write_bytes(os.urandom(4096))
    refused(job_file(folder, **{'"tiny.blend"': '"noise.blend"'}), "'blend' = 'noise.blend' is not a Blender file")


def test_a_blend_that_only_starts_like_one(folder):
    (folder / "broken.blend").write_bytes(b"BLENDER-v404" + os.urandom(4096))
    refused(job_file(folder, **{'"tiny.blend"': '"broken.blend"'}), "Blender cannot open it")


def test_a_target_image_that_is_a_text_file(folder):
    (folder / "target.png").write_text("this is not an image\n")
    refused(
        job_file(folder, **{"values = { x = 0.3 }": 'image = "target.png"'}),
        "[target] image = ",
    )


def test_an_output_that_names_an_existing_file(folder):
    (folder / "out").write_text("a file, not a folder")
    refused(job_file(folder), "'output' = 'out' names an existing file")


@pytest.mark.parametrize("output", ["../../elsewhere", "/tmp/zerograds-anywhere"])
def test_output_stays_inside_the_job_folder_unless_allowed(folder, output):
    path = job_file(folder, **{'output = "out"': f'output = "{output}"'})
    refused(path, "is outside the job file's folder")
    from blender_addon import jobfile

    assert jobfile.load(path, allow_output_outside=True).output == os.path.normpath(os.path.join(folder, output))


def test_a_job_file_cannot_choose_the_servers_program(folder):
    path = job_file(folder, text=JOB + '[server]\npython = "/bin/sh"\n')
    message = refused(path, "[server] python")
    assert "--server-python" in message and "ZEROGRADS_PYTHON" in message


@pytest.mark.parametrize(
    "data_path, needle",
    [
        ('texts["evil.py"].use_module', "bpy.data.texts, which cannot change a render"),
        ('window_managers["WinMan"].windows', "bpy.data.window_managers"),
        ('screens["Layout"].is_animation_playing', "bpy.data.screens"),
        ('workspaces["Layout"].object_mode', "bpy.data.workspaces"),
        ('objects["Ball"].animation_data.drivers[0].driver.type', "reaches 'drivers'"),
    ],
)
def test_parameter_paths_stay_in_render_data(folder, data_path, needle):
    refused(job_file(folder, **{"""'objects["Ball"].location'""": f"'{data_path}'"}), needle)


def test_workers_refuse_such_paths_from_any_client():
    from blender_addon import jobspec
    from optimizer_server.wire.paramref import ParamRef

    with pytest.raises(ConfigError, match="bpy.data.texts"):
        jobspec.render_settings(8, 8, 1, [ParamRef("t", 'texts["x"].use_module')])
    with pytest.raises(ConfigError, match="bpy.data.texts"):  # what a client sends on the wire
        jobspec.check_settings(
            {"width": 8, "height": 8, "samples": 1, "paths": [{"name": "t", "path": 'texts["x"].a'}]}
        )


def test_a_scene_never_runs_its_scripts_even_when_the_preferences_allow_it(folder, tmp_path):
    """A text registered as a module runs on load when auto-run is on; ours opens with use_scripts=False."""
    marker = tmp_path / "ran"
    scene_kit.build_tiny_scene()
    text = bpy.data.texts.new("autorun.py")
    text.write(f"open({str(marker)!r}, 'w').write('ran')\n")
    text.use_module = True
    bpy.ops.wm.save_as_mainfile(filepath=str(folder / "tiny.blend"))
    prefs = bpy.context.preferences.filepaths
    previous = prefs.use_scripts_auto_execute
    prefs.use_scripts_auto_execute = True  # a user who trusts every file
    try:  # the job stops at its parameter, after the scene was opened
        refused(job_file(folder, **{'"Ball"': '"Nope"'}), "Nope")
    finally:
        prefs.use_scripts_auto_execute = previous
    assert "autorun.py" in bpy.data.texts and not marker.exists()


@pytest.mark.slow
def test_the_runner_notices_its_dead_server_at_once_and_says_how_to_resume(folder):
    from blender_addon.runner import Run, RunError

    run = Run(str(folder / "tiny.blend"), worker_count=1, work_dir=str(folder / "run"), client_timeout_s=120)
    space = {"params": [{"name": "x", "lo": -1.0, "hi": 1.0}]}
    settings = {"width": 16, "height": 16, "samples": 2, "frame": None}
    settings["paths"] = [{"name": "x", "path": scene_kit.TINY_PATH, "index": 0}]
    try:
        run.start(space, "cmaes", budget=2000, target_values={"x": 0.3}, settings=settings)
        os.kill(run.server.process.pid, signal.SIGKILL)  # the supervisor itself: nobody restarts the server
        run.server.process.wait()
        with pytest.raises(ServerUnavailableError, match="has exited"):  # not after client_timeout_s
            run.client.status(run.job.id)
        with pytest.raises(RunError) as info:
            run.poll()
    finally:
        run.stop()
    assert f"--resume {run.job.job_dir}" in str(info.value)

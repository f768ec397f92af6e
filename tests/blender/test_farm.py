"""From one laptop to a render farm (issue 17), the Blender end: the render device (``--device``, here
on a machine without a GPU), and scenes that travel with jobs to a worker that has no access to the .blend.

Real bpy and Cycles, a real server process, a real worker process started in another directory; the
GPU side of ``--device`` needs a GPU (scripts/device_check.sh runs there).
"""

import json
import logging
import os
import shutil
import subprocess
import sys
import time

import pytest
import scene_kit

pytest.importorskip("torch", reason="the optimizer server needs torch")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

JOB = """
blend = "tiny.blend"
output = "{output}"
[render]
width = 24
height = 24
samples = 4
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
budget = 12
seed = 1
[workers]
count = 0
[server]
address = "{address}"
"""


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    env.update(extra)
    return env


def test_device_auto_falls_back_to_the_cpu_with_a_log_line(caplog):
    import bpy

    from blender_addon import devices

    with caplog.at_level(logging.INFO, logger="zerograds.devices"):
        assert devices.select(bpy.context.scene, "auto") == "CPU"
    assert bpy.context.scene.cycles.device == "CPU"
    assert "Cycles reports no GPU" in caplog.text and "rendering on the CPU" in caplog.text
    assert devices.worker_args("auto", 2) == [["--device", "cpu"], ["--device", "cpu"]]


@pytest.mark.parametrize("backend, name", [("cuda", "CUDA"), ("optix", "OptiX"), ("hip", "HIP")])
def test_a_gpu_asked_for_and_absent_is_a_clear_error(backend, name):
    import bpy

    from blender_addon import devices

    if devices.gpu_devices(backend):
        pytest.skip(f"this machine has a {name} device")
    with pytest.raises(devices.DeviceError, match=f"Cycles reports no {name} device on this machine.*--device auto"):
        devices.select(bpy.context.scene, backend)


def test_the_panel_uses_the_users_cycles_preferences():
    import bpy

    from blender_addon import devices

    prefs = bpy.context.preferences.addons["cycles"].preferences
    assert prefs.compute_device_type == "NONE"  # no GPU here: the user's preference can only be the CPU
    assert devices.user_choice() == ("cpu", [])


def test_a_worker_asked_for_an_absent_gpu_exits_saying_so(tmp_path):
    from blender_addon import devices

    if devices.gpu_devices("cuda"):
        pytest.skip("this machine has a CUDA device")
    scene_kit.build_tiny_scene(tmp_path / "tiny.blend")
    proc = subprocess.run(
        [sys.executable, "-m", "blender_addon.worker", "--connect", "tcp://127.0.0.1:9", "--device", "cuda"]
        + ["--blend", str(tmp_path / "tiny.blend")],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "device 'cuda': Cycles reports no CUDA device on this machine" in proc.stderr


@pytest.mark.slow
def test_the_device_check_script_runs_here_and_says_whether_it_found_a_gpu():
    """scripts/device_check.sh at its smallest (one 64² size, one render, one iteration per method): on a
    machine without a GPU it says so and prints the CPU column; with one, the GPU column is filled."""
    import torch

    from blender_addon import devices

    proc = subprocess.run(
        ["bash", "scripts/device_check.sh", "--sizes", "64", "--repeats", "1", "--iterations", "1"],
        cwd=ROOT,
        env=_env(PYTHON=sys.executable),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "Cycles renders/s" in out and "ms per iteration at n = 196,608" in out
    assert "zerograds (efficient)" in out and "gauss_newton" in out
    gpu_here = bool(devices.available()) or torch.cuda.is_available()
    assert ("no GPU found" in out) == (not gpu_here), out
    if not gpu_here:
        assert "GPU: none found" in out and "CUDA: none found" in out


def _server(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimizer_server.cli_serve", "serve", "--bind", "tcp://127.0.0.1:*", "--device", "cpu"]
        + ["--jobs-dir", str(tmp_path / "jobs")],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in proc.stdout:
        if line.startswith("ZEROGRADS_SERVER_READY"):
            return proc, line.split()[1]
    raise AssertionError("the server did not start")


def _scene_bytes(address):
    from optimizer_server.wire.client import OptimizerClient

    with OptimizerClient(address) as client:
        return client.status()["workers"]["scene_bytes"]


@pytest.mark.slow
def test_a_worker_elsewhere_fetches_the_scene_by_hash_and_the_next_job_sends_no_scene_bytes(tmp_path):
    from blender_addon import batch

    artist = tmp_path / "artist"
    elsewhere = tmp_path / "elsewhere"  # the worker's folder: no .blend, no path to one
    artist.mkdir(), elsewhere.mkdir()
    scene_kit.build_tiny_scene(artist / "tiny.blend")
    before = (artist / "tiny.blend").read_bytes()
    server, address = _server(tmp_path)
    log = open(elsewhere / "worker.log", "w")  # noqa: SIM115 (closed below)
    worker = subprocess.Popen(
        [sys.executable, "-m", "blender_addon.worker", "--connect", address, "--device", "auto"]
        + ["--scene-cache", str(elsewhere / "cache"), "--name", "far-away"],
        cwd=elsewhere,
        env=_env(ZEROGRADS_CACHE=str(tmp_path / "client-cache")),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        results = []
        for run in ("first", "second"):
            job = artist / f"{run}.toml"
            job.write_text(
                JOB.format(
                    output=run,
                    path=scene_kit.TINY_PATH,
                    lo=scene_kit.TINY_BOUNDS[0],
                    hi=scene_kit.TINY_BOUNDS[1],
                    target=scene_kit.TINY_TARGET,
                    address=address,
                )
            )
            sent_before = _scene_bytes(address)
            os.environ["ZEROGRADS_CACHE"] = str(tmp_path / "client-cache")  # the packed copies of this test
            try:
                result = batch.run_job(str(job), quiet=True)
            finally:
                del os.environ["ZEROGRADS_CACHE"]
            results.append((result, _scene_bytes(address) - sent_before))
    finally:
        worker.terminate()
        worker.wait(20)
        server.terminate()
        server.wait(20)
        log.close()
    (first, fetched_first), (second, fetched_second) = results
    assert first["state"] == second["state"] == "finished"
    size = first["scene"]["size"]
    assert first["scene"]["uploaded_bytes"] == size and fetched_first == size  # sent once each way
    assert second["scene"]["sha256"] == first["scene"]["sha256"]
    assert second["scene"]["uploaded_bytes"] == 0 and fetched_second == 0  # the same scene: no bytes at all
    text = (elsewhere / "worker.log").read_text()
    assert text.count("fetching scene") == 1 and "Cycles reports no GPU" in text and "on CPU" in text
    assert os.listdir(elsewhere / "cache") == [f"{first['scene']['sha256']}.blend"]
    assert (artist / "tiny.blend").read_bytes() == before  # the artist's file is never touched
    assert json.loads((artist / "first" / "result.json").read_text())["scene"]["sha256"] == first["scene"]["sha256"]
    shutil.rmtree(tmp_path / "client-cache", ignore_errors=True)


RAY_JOB = (
    JOB.replace('address = "{address}"', "")
    .replace("[server]\n", "")
    .replace("count = 0", 'count = 2\nray = "{ray}"\ncpus_per_worker = 1')
)


@pytest.mark.slow
def test_a_batch_job_on_two_ray_workers_completes_when_an_actor_is_killed(tmp_path, local_ray):
    """[workers] ray = ADDRESS: two Blender workers as Ray actors (a local instance, 2 CPUs), which fetch
    the scene; one actor's process is killed mid-job: the job completes, Ray restarted the actor, and the
    budget is spent exactly (no render counted twice)."""
    import signal
    import threading

    from blender_addon import batch
    from optimizer_server.farm import NAMESPACE

    ray = local_ray
    scene_kit.build_tiny_scene(tmp_path / "tiny.blend")
    job = tmp_path / "ray.toml"
    text = RAY_JOB.format(
        output="out",
        path=scene_kit.TINY_PATH,
        lo=scene_kit.TINY_BOUNDS[0],
        hi=scene_kit.TINY_BOUNDS[1],
        target=scene_kit.TINY_TARGET,
        ray=ray.get_runtime_context().gcs_address,
    )
    job.write_text(text.replace("budget = 12", "budget = 90"))
    killed = []

    def kill_one_actor_mid_job():
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not killed:
            states = list((tmp_path / "out" / "run" / "jobs").glob("*/state.npz"))
            if states and time.time() - states[0].stat().st_mtime < 5 and _iterations(states[0]) >= 2:
                actor = ray.get_actor("zerograds-worker-0", namespace=NAMESPACE)
                pid, _ = ray.get(actor.pids.remote(), timeout=30)
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.1)

    killer = threading.Thread(target=kill_one_actor_mid_job, daemon=True)
    killer.start()
    os.environ["ZEROGRADS_CACHE"] = str(tmp_path / "cache")
    try:
        result = batch.run_job(str(job), quiet=True)
    finally:
        del os.environ["ZEROGRADS_CACHE"]
    killer.join(5)
    assert killed, "the job ended before an actor could be killed mid-job"
    assert result["state"] == "finished" and result["evaluations"] == 90
    assert result["worker_restarts"] == 1  # Ray restarted the killed actor
    evaluations = [h["evaluations"] for h in result["history"]]
    assert evaluations == sorted(set(evaluations))  # every iteration counted once


def _iterations(state_path) -> int:
    from optimizer_server.state_io import load_state

    try:
        return int(load_state(state_path)["method"]["iteration"])
    except Exception:  # being replaced right now: ask again
        return 0

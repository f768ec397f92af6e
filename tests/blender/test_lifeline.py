"""Nothing outlives Blender: ``kill -9`` the process that started a run mid-run, and 10 s later
neither the optimizer server nor a render worker is alive (their lifeline: a stdin pipe).

Real processes throughout: a Blender executable (Debian's, when on PATH) or a Python with the bpy
module plays Blender, starts the server (a Python with torch) and one worker, waits for the
first progress, writes their process ids, and is then killed with SIGKILL, which it cannot catch.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import scene_kit

from benchmarks.gui.harness import blender_skip_reason

pytest.importorskip("torch", reason="the optimizer server needs torch")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

SCRIPT = """
import json, os, sys
sys.path[:0] = [{root!r}]
from blender_addon import jobspec
from blender_addon.runner import Run
from optimizer_server.wire.paramref import ParamRef

run = Run({blend!r}, worker_count=1, work_dir={work!r})
settings = jobspec.render_settings(24, 24, 2, [ParamRef("x", 'objects["Ball"].location', 0)])
space = {{"params": [{{"name": "x", "lo": -1.0, "hi": 1.0, "kind": "float"}}]}}
run.start(space, "cmaes", budget=100000, seed=0, settings=settings, target_values={{"x": 0.3}})
pids = {{"server": run.server.process.pid, "workers": [p.pid for p in run.workers.processes]}}
while True:
    for kind, body in run.poll(0.2):
        if kind == "progress" and not os.path.exists({pids!r}):
            with open({pids!r} + ".tmp", "w") as f:
                json.dump(pids, f)
            os.replace({pids!r} + ".tmp", {pids!r})
"""


def children_of(pid: int) -> list[int]:
    from benchmarks.gui.steps import children_of as descendants

    return descendants(pid)


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for a parent that will never reap it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def blenders():
    """The bpy module always; a ``blender`` executable when one is on PATH (skipped, saying why,
    when its Python cannot run the worker: Debian's without python3-numpy/python3-zmq)."""
    if shutil.which("blender") is None:
        return ["bpy-module"]
    reason = blender_skip_reason(window=False)
    return ["bpy-module", pytest.param("blender", marks=pytest.mark.skipif(reason is not None, reason=str(reason)))]


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc (Linux)")
@pytest.mark.parametrize("which", blenders())
def test_kill_9_of_blender_mid_run_leaves_no_server_or_worker(tmp_path, which):
    blend, pids_file, work = str(tmp_path / "tiny.blend"), str(tmp_path / "pids.json"), str(tmp_path / "run")
    script = SCRIPT.format(root=ROOT, blend=blend, work=work, pids=pids_file)
    if which == "blender":  # saved by that Blender: an older one cannot read a newer file
        build = (
            f"import sys; sys.path[:0] = [{ROOT!r}, {HERE!r}]; import scene_kit; scene_kit.build_tiny_scene({blend!r})"
        )
        subprocess.run(["blender", "-b", "--factory-startup", "--python-expr", build], check=True, capture_output=True)
        cmd = ["blender", "-b", blend, "--factory-startup", "--python-expr", script]
    else:
        scene_kit.build_tiny_scene(blend)
        cmd = [sys.executable, "-c", "import bpy\n" + script]
    env = dict(os.environ, ZEROGRADS_PYTHON=sys.executable)  # the server's Python: this one has torch
    blender = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=str(tmp_path))
    children: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while not os.path.exists(pids_file):
            assert blender.poll() is None, f"the run did not start:\n{blender.stderr.read().decode()[-3000:]}"
            assert time.monotonic() < deadline, "no progress within 120 s"
            time.sleep(0.2)
        with open(pids_file) as f:
            pids = json.load(f)
        children = children_of(blender.pid)  # the supervisor, its server and gateway, the worker
        assert pids["server"] in children and set(pids["workers"]) <= set(children) and len(children) >= 3
        blender.send_signal(signal.SIGKILL)  # Blender crashes: nothing of ours runs any more
        blender.wait(10)
        time.sleep(10)
        survivors = [p for p in children if alive(p)]
        assert not survivors, f"still running 10 s after Blender died: {survivors}"
    finally:  # whatever went wrong: nothing of this test keeps running
        leftovers = children + (children_of(blender.pid) if blender.poll() is None else [])
        if blender.poll() is None:
            blender.kill()
        for pid in leftovers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

"""Persistence: a server killed mid-job and restarted with --resume ends exactly where an
uninterrupted run ends (same seed, deterministic renderer)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from server_kit import disc_job, spawn_server, spawn_worker

from optimizer_server.state_io import load_state, save_state
from optimizer_server.wire.client import OptimizerClient
from optimizer_server.wire.errors import StateError

ITERATIONS = 60
JOB = disc_job(method="prdpt", budget=2 * ITERATIONS, options={"samples": 2, "sigma": 0.2, "lr": 0.02})


def history(job_dir):
    return load_state(os.path.join(job_dir, "state.npz"))["history"]


@pytest.mark.slow
def test_killed_and_resumed_server_reproduces_the_uninterrupted_run(tmp_path, start_server, start_workers, spawn):
    reference_server = start_server(jobs_dir=str(tmp_path / "reference"))
    start_workers(reference_server.endpoint, 2)
    with OptimizerClient(reference_server.endpoint) as client:
        reference = client.submit(**JOB, job_id="run")
        reference.wait(timeout_s=60)

    jobs_dir = tmp_path / "jobs"
    first, endpoint = spawn_server(spawn, jobs_dir)
    for _ in range(2):
        # slow renders leave ≥ 3 s of job after the kill point, so a loaded machine cannot finish first
        spawn_worker(spawn, endpoint, "--sleep-ms", "60")
    with OptimizerClient(endpoint, timeout_s=30) as client:
        job = client.submit(**JOB, job_id="run")
        events = job.progress(timeout_s=90)
        for progress in events:
            if progress["iteration"] >= 4:
                break
        first.kill()  # SIGKILL: no goodbye, possibly mid-write
        first.wait()
        saved = load_state(os.path.join(job.job_dir, "state.npz"))
        assert 3 <= saved["method"]["iteration"] < ITERATIONS, "the kill should land mid-job"

        # Same address, so the running workers and this client reconnect on their own.
        second, _ = spawn_server(spawn, jobs_dir, "--resume", job.job_dir, bind=endpoint)
        for _ in events:  # the client re-attaches to the resumed job and sees it to the end
            pass
    resumed_at = [line for line in second.lines if "resumed job run" in line]
    assert f"at iteration {saved['method']['iteration']} " in resumed_at[0]  # not restarted from scratch

    assert job.result["state"] == "finished"
    for key in ("best", "best_loss", "current", "evaluations", "iteration"):
        assert job.result[key] == reference.result[key], key
    resumed, uninterrupted = history(job.job_dir), history(reference.job_dir)
    for key in ("loss", "loss_min", "best_loss", "evaluations", "current"):
        np.testing.assert_array_equal(resumed[key], uninterrupted[key], err_msg=key)


def test_resuming_a_finished_job_reports_its_result(tmp_path, start_server, start_workers):
    first = start_server(jobs_dir=str(tmp_path / "jobs"))
    start_workers(first.endpoint, 1)
    with OptimizerClient(first.endpoint) as client:
        done = client.submit(**disc_job(budget=12)).wait(timeout_s=30)
    first.stop()

    second = start_server(jobs_dir=str(tmp_path / "jobs"))
    job = second.server.resume_job(done["job_dir"])
    with OptimizerClient(second.endpoint) as client:
        events = list(client.events(job.id, timeout_s=10))
    assert [e.kind for e in events] == ["done"]
    assert events[0].body["best"] == done["best"] and events[0].body["state"] == "finished"


def test_an_auto_checkpoint_with_options_that_are_gone_still_resumes(tmp_path, start_server, start_workers):
    """Checkpoints written while `auto` still had the options `residuals` and `grid` (now a capability
    and the Space's layout) resume: options that no longer exist choose nothing."""
    first = start_server(jobs_dir=str(tmp_path / "jobs"))
    start_workers(first.endpoint, 1)
    with OptimizerClient(first.endpoint) as client:
        done = client.submit(**disc_job(method="auto", budget=12)).wait(timeout_s=30)
    first.stop()
    path = os.path.join(done["job_dir"], "state.npz")
    state = load_state(path)
    state["method"]["options"].update(residuals=True, grid="")  # what an older version wrote
    save_state(path, state)

    second = start_server(jobs_dir=str(tmp_path / "jobs"))
    job = second.server.resume_job(done["job_dir"])
    assert job.method.chosen == "blockwise" and job.method.evaluations == done["evaluations"]


def test_resuming_something_that_is_not_a_job_directory_says_so(tmp_path, start_server):
    server = start_server()
    with pytest.raises(StateError, match="is not a job directory"):
        server.server.resume_job(str(tmp_path))
    (tmp_path / "job.npz").write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(StateError, match="not a readable state file"):
        server.server.resume_job(str(tmp_path))


def test_a_slow_checkpoint_spaces_the_next_and_shutdown_writes_the_deferred_one(start_server, start_workers):
    """Serialising a big state (gauss_newton's probe images) is not repeated after every iteration:
    after one that took t, the next waits ~9 t. A state left unsaved for that reason reaches disk
    when the server shuts down."""
    server = start_server()
    start_workers(server.endpoint, 1)
    with OptimizerClient(server.endpoint) as client:
        job = client.submit(**disc_job(budget=12))
        job.wait(timeout_s=60)
    state_path = os.path.join(job.job_dir, "state.npz")
    written = os.stat(state_path).st_mtime_ns
    live = server.server.jobs[job.id]
    live._next_save = float("inf")  # as if the last checkpoint had taken very long
    live.message = "changed after the last checkpoint"
    live._dirty = True
    time.sleep(0.5)  # the serve loop turns ~10 times and leaves the file alone
    assert os.stat(state_path).st_mtime_ns == written
    server.stop()  # serve_forever closes the server: the deferred checkpoint is written
    assert load_state(state_path)["message"] == "changed after the last checkpoint"

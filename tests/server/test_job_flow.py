"""Jobs over the wire: submit, progress, results, pause/resume/cancel, several jobs, late workers."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from server_kit import DISC_SPACE, TARGET, disc_error, disc_job, spawn_worker, wait_until

from optimizer_server.methods import available_methods
from optimizer_server.problems.disc import DiscTask
from optimizer_server.state_io import load_state
from optimizer_server.wire.client import OptimizerClient
from optimizer_server.wire.errors import RequestRejectedError


def test_two_worker_processes_optimise_the_disc_over_the_wire(start_server, spawn):
    server = start_server()
    for name in ("proc-a", "proc-b"):
        spawn_worker(spawn, server.endpoint, "--name", name)
    wait_until(lambda: len(server.server.roster.workers) == 2, what="two workers to register")

    with OptimizerClient(server.endpoint) as client:
        job = client.submit(**disc_job(budget=90))
        progress = list(job.progress(timeout_s=60))

    result = job.result
    assert result["state"] == "finished", result["message"]
    assert disc_error(result["best"]) < 0.02, result["best"]
    assert progress[0]["loss"] > 10 * result["best_loss"]
    evaluations = [p["evaluations"] for p in progress]
    assert evaluations == sorted(evaluations) and evaluations[-1] == result["evaluations"]
    assert [p["iteration"] for p in progress] == list(range(1, len(progress) + 1))
    first = progress[0]
    assert set(first["current"]) == {"cx", "cy"} and first["sigma"] is not None
    assert {"iteration_s", "render_s", "optimizer_ms", "loss_ms", "persist_ms"} <= set(first["timings"])
    rendered = {w.name: w.images_rendered for w in server.server.roster.workers.values()}
    assert all(n > 0 for n in rendered.values()), f"one worker did all the work: {rendered}"
    # + the target twice (two noise seeds: the noise floor) + the answer, for the verdict
    assert sum(rendered.values()) == result["evaluations"] + 3
    assert result["verdict"]["text"] == result["message"]
    assert result["verdict"]["noise_floor"] == result["noise_floor"] == 0.0  # the disc worker has no noise

    checkpoint = load_state(os.path.join(job.job_dir, "state.npz"))
    assert checkpoint["state"] == "finished"
    np.testing.assert_array_equal(checkpoint["history"]["loss"], [p["loss"] for p in progress])


def test_target_image_and_target_values_give_the_same_run(start_server, start_workers):
    server = start_server()
    start_workers(server.endpoint, 2)
    target = DiscTask(size=24).render(np.array([[TARGET["cx"], TARGET["cy"]]]))[0]
    with OptimizerClient(server.endpoint) as client:
        by_values = client.submit(**disc_job(budget=40)).wait(timeout_s=30)
        by_image = client.submit(**disc_job(budget=40, target_values=None, target_image=target)).wait(timeout_s=30)
    assert by_image["state"] == "finished"
    assert by_image["best"] == by_values["best"] and by_image["best_loss"] == by_values["best_loss"]


def test_a_mask_restricts_the_loss_to_its_pixels(start_server, start_workers):
    server = start_server()
    start_workers(server.endpoint, 1)
    mask = np.zeros((24, 24, 1), np.float32)
    mask[:, :12] = 1  # only the left half counts; both discs below lie in the right half
    right_half = {"cx": 0.8, "cy": 0.8}
    with OptimizerClient(server.endpoint) as client:
        masked = client.submit(**disc_job(method="fd", budget=8, mask=mask, start=right_half))
        unmasked = client.submit(**disc_job(method="fd", budget=8, start=right_half))
        masked_loss = next(masked.progress(timeout_s=30))["loss"]
        unmasked_loss = next(unmasked.progress(timeout_s=30))["loss"]
    assert masked_loss == 0.0 and unmasked_loss > 0.01


# methods whose default batch would not fit the tiny budget below
SMALL_BATCH = {"gauss_newton": {"samples": 4}}


@pytest.mark.parametrize("method", available_methods())
def test_every_registered_method_runs_over_the_wire(start_server, start_workers, method):
    """Also the residual images' path: gauss_newton fails its job if tell() gets only losses."""
    server = start_server()
    start_workers(server.endpoint, 2)
    with OptimizerClient(server.endpoint) as client:
        job = client.submit(**disc_job(method=method, budget=16, options=SMALL_BATCH.get(method, {})))
        result = job.wait(timeout_s=60)
    assert result["state"] == "finished" and 0 < result["evaluations"] <= 16
    assert set(result["best"]) == {"cx", "cy"}


def test_pause_resume_and_cancel(start_server, start_workers):
    server = start_server()
    start_workers(server.endpoint, 2, sleep_ms=10)
    with OptimizerClient(server.endpoint) as client:
        job = client.submit(**disc_job(method="prdpt", budget=400, options={"samples": 4}))
        events = job.progress(timeout_s=30)
        next(events)
        assert job.pause()["state"] == "paused"
        time.sleep(0.3)  # the iteration in flight completes, then nothing more is rendered
        frozen = job.status()["evaluations"]
        time.sleep(0.3)
        assert job.status()["evaluations"] == frozen
        assert job.status()["state"] == "paused"

        assert job.resume()["state"] == "running"
        wait_until(lambda: job.status()["evaluations"] > frozen, what="renders after resume")
        assert job.cancel()["state"] == "cancelled"
        for _ in events:
            pass
    assert job.result["state"] == "cancelled" and job.result["evaluations"] < 400


def test_a_cancelled_job_stops_its_worker_within_one_render(start_server, start_workers):
    """The worker holds a whole iteration (one message of many samples) when the job is cancelled:
    the server tells it to abort, and it renders at most the sample in progress, then is free."""
    server = start_server()
    disc = DiscTask(size=24)
    rendered = []  # samples rendered per call (the loop calls one sample at a time)

    def slow(values, settings, seeds):
        time.sleep(0.05)
        rendered.append(len(values))
        return disc.render(values)

    start_workers(server.endpoint, 1, render=slow)
    wait_until(lambda: len(server.server.roster.workers) == 1, what="the worker")
    worker = next(iter(server.server.roster.workers.values()))
    with OptimizerClient(server.endpoint) as client:
        job = client.submit(**disc_job(method="prdpt", budget=400, options={"samples": 20}))
        wait_until(lambda: len(rendered) >= 3, what="the first iteration's renders")  # target + 2 samples
        held = sum(len(server.server.roster.tasks[t].indices) for t in worker.inflight)
        assert held == 20  # one iteration, all in one message
        job.cancel()
        wait_until(lambda: worker.idle, what="the worker to answer the aborted task")
    after = len(rendered) - 3
    assert 0 <= after < held - 2, f"{after} of the cancelled task's {held} samples were still rendered"
    assert set(rendered) == {1} and server.server.counters["ignored_results"] >= 1


def test_two_jobs_share_the_workers_and_a_late_worker_joins(start_server, start_workers):
    server = start_server()
    with OptimizerClient(server.endpoint) as client:
        a = client.submit(**disc_job(budget=30, seed=1))
        b = client.submit(**disc_job(budget=30, seed=2, method="spsa"))
        time.sleep(0.3)
        assert a.status()["evaluations"] == 0  # nobody to render yet: the jobs wait
        start_workers(server.endpoint, 2)
        assert a.wait(timeout_s=30)["state"] == "finished"
        assert b.wait(timeout_s=30)["state"] == "finished"
        states = {j["job"]: j["state"] for j in client.status()["jobs"]}
    assert states == {a.id: "finished", b.id: "finished"}


def test_jobs_wait_for_a_worker_with_the_required_capability(start_server, start_workers):
    server = start_server()
    start_workers(server.endpoint, 1)  # a disc worker
    with OptimizerClient(server.endpoint) as client:
        job = client.submit(**disc_job(budget=12, requires={"renderer": "cycles"}))
        time.sleep(0.3)
        status = job.status()
        assert (status["state"], status["evaluations"]) == ("waiting_for_target", 0)
        job.cancel()


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"method": "gradient-descent"}, "unknown method 'gradient-descent'; available:"),
        ({"options": {"warp": 9}}, "unknown option(s) ['warp']"),
        ({"space": [{"name": "cx", "lo": 1.0, "hi": 0.0}]}, "needs lo < hi"),
        ({"target_values": {"cx": 0.5}}, "missing ['cy']"),
        ({"budget": 1}, "budget 1 is too small"),
    ],
)
def test_bad_submissions_are_refused_with_the_reason(start_server, change, needle):
    server = start_server()
    with OptimizerClient(server.endpoint) as client:
        with pytest.raises(RequestRejectedError) as info:
            client.submit(**disc_job(**change))
        assert needle in str(info.value)
        assert info.value.code == "bad_request"
        assert client.status()["jobs"] == []  # nothing half-created


def test_requests_for_unknown_jobs_are_refused(start_server):
    server = start_server()
    with OptimizerClient(server.endpoint) as client:
        with pytest.raises(RequestRejectedError, match="no job 'nope'") as info:
            client.pause("nope")
        assert info.value.code == "unknown_job"
        job = client.submit(**disc_job(), job_id="mine")
        assert job.id == "mine"
        with pytest.raises(RequestRejectedError, match="exists already"):
            client.submit(**disc_job(), job_id="mine")


def test_space_can_be_given_as_plain_dicts(start_server, start_workers):
    server = start_server()
    start_workers(server.endpoint, 1)
    with OptimizerClient(server.endpoint) as client:
        result = client.submit(**disc_job(space=DISC_SPACE.to_dict()["params"], budget=12)).wait(timeout_s=30)
    assert result["state"] == "finished"


def test_a_job_stops_early_only_when_a_render_matches_and_every_job_ends_with_a_verdict(start_server, start_workers):
    """The disc renderer has no noise (floor 0): a job whose start renders like the target stops at
    once, matched; one that cannot get there spends its whole budget and says it did not match. An
    image target gets its noise floor from two renders of the answer."""
    server = start_server()
    start_workers(server.endpoint, 1)
    with OptimizerClient(server.endpoint) as client:
        found = client.submit(**disc_job(method="auto", budget=200, start=TARGET)).wait(timeout_s=60)
        assert found["verdict"]["matched"] and found["evaluations"] < 200, found
        assert found["best"] == pytest.approx(TARGET)

        far = {"cx": 0.05, "cy": 0.95}  # the disc cannot reach its target in 24 renders from here
        lost = client.submit(**disc_job(method="cmaes", budget=24, start=far, options={"sigma0": 0.01}))
        result = lost.wait(timeout_s=60)
        assert result["evaluations"] == 24 and not result["verdict"]["matched"]
        assert result["message"].startswith("not matched: best loss")

        target = DiscTask(size=24).render(np.array([[TARGET["cx"], TARGET["cy"]]]))[0]
        pictured = client.submit(
            **{**disc_job(method="auto", budget=200, start=TARGET), "target_values": None, "target_image": target}
        ).wait(timeout_s=60)
        assert pictured["verdict"]["matched"] and pictured["noise_floor"] == 0.0

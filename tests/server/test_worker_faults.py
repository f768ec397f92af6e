"""Workers that die, hang, fail or lie: the job still completes, exactly, or fails with a reason."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
from server_kit import HEARTBEAT_TIMEOUT_S, disc_error, disc_job, spawn_worker, wait_until

from optimizer_server.problems.disc import DiscTask
from optimizer_server.wire.client import OptimizerClient
from optimizer_server.wire.errors import JobFailedError


def worker_named(server, name):
    for worker in list(server.server.roster.workers.values()):
        if worker.name == name:
            return worker
    return None


def busy(server, name) -> bool:
    worker = worker_named(server, name)
    return worker is not None and bool(set(worker.inflight))


def two_workers(spawn, server, troubled, troubled_sleep_ms, healthy, healthy_sleep_ms):
    """The worker the test will break, a healthy one, both registered; returns the troubled process."""
    proc = spawn_worker(spawn, server.endpoint, "--name", troubled, "--sleep-ms", str(troubled_sleep_ms))
    spawn_worker(spawn, server.endpoint, "--name", healthy, "--sleep-ms", str(healthy_sleep_ms))
    wait_until(lambda: len(server.server.roster.workers) == 2, what="two workers")
    return proc


@pytest.mark.slow
def test_a_killed_worker_loses_nothing(start_server, spawn):
    server = start_server()
    victim = two_workers(spawn, server, "victim", 40, "survivor", 10)
    with OptimizerClient(server.endpoint) as client:
        job = client.submit(**disc_job(budget=48))
        events = job.progress(timeout_s=60)
        next(events)
        wait_until(lambda: busy(server, "victim"), what="the victim to be rendering")
        victim.kill()  # SIGKILL mid-render: no bye, no result
        for _ in events:
            pass
    assert job.result["state"] == "finished", job.result["message"]
    assert job.result["evaluations"] == 48  # every sample rendered once and counted once
    assert disc_error(job.result["best"]) < 0.05
    assert server.server.counters["reassigned_samples"] >= 1
    assert [w.name for w in server.server.roster.workers.values()] == ["survivor"]


@pytest.mark.slow
def test_a_frozen_worker_is_declared_dead_and_its_late_result_ignored(start_server, spawn):
    server = start_server()
    frozen = two_workers(spawn, server, "frozen", 40, "healthy", 5)
    with OptimizerClient(server.endpoint) as client:
        job = client.submit(**disc_job(budget=60))
        events = job.progress(timeout_s=60)
        next(events)
        wait_until(lambda: busy(server, "frozen"), what="the frozen worker to be rendering")
        frozen.send_signal(signal.SIGSTOP)  # hung: no heartbeats, no result
        t_stop = time.monotonic()
        wait_until(lambda: worker_named(server, "frozen") is None, timeout_s=10, what="the frozen worker to be dropped")
        assert time.monotonic() - t_stop >= HEARTBEAT_TIMEOUT_S * 0.9  # not before its heartbeat timeout
        frozen.send_signal(signal.SIGCONT)  # it wakes up, sends its stale result, re-registers
        for _ in events:
            pass
    assert job.result["state"] == "finished", job.result["message"]
    assert job.result["evaluations"] == 60
    wait_until(lambda: server.server.counters["ignored_results"] >= 1, what="the stale result to arrive")
    wait_until(lambda: worker_named(server, "frozen") is not None, what="the woken worker to re-register")


@pytest.mark.slow
def test_a_hung_render_that_still_heartbeats_is_reassigned_after_the_render_timeout(start_server, start_workers):
    server = start_server()
    release = threading.Event()
    disc = DiscTask(size=24)
    calls = []

    def hangs_once(values, settings, seeds):
        calls.append(len(values))
        if len(calls) == 2:  # the first samples batch (call 1 is the target)
            release.wait(10)
        return disc.render(values)

    start_workers(server.endpoint, 1, render=hangs_once)
    wait_until(lambda: len(server.server.roster.workers) == 1, what="the hanging worker")
    with OptimizerClient(server.endpoint) as client:
        job = client.submit(**disc_job(budget=30, render_timeout_s=0.3))
        wait_until(lambda: len(calls) >= 2, what="the hanging render to start")
        start_workers(server.endpoint, 1)  # someone to take over
        result = job.wait(timeout_s=30)
    release.set()
    assert result["state"] == "finished" and result["evaluations"] == 30
    assert server.server.counters["reassigned_samples"] >= 1
    wait_until(lambda: server.server.counters["ignored_results"] >= 1, what="the late result to be ignored")


def test_a_renderer_that_always_raises_fails_the_job_with_its_message(start_server, start_workers):
    server = start_server(max_attempts=3)

    def broken(values, settings, seeds):
        raise RuntimeError("scene file missing: cup.blend")

    start_workers(server.endpoint, 2, render=broken)
    with OptimizerClient(server.endpoint) as client:
        job = client.submit(**disc_job())
        with pytest.raises(JobFailedError) as info:
            job.wait(timeout_s=30)
        # each worker's own text, and why the job gave up: nobody left who had not failed it
        assert "failed on every worker able to render it" in str(info.value)
        for worker in ("custom-worker-0", "custom-worker-1"):
            assert f"{worker} (" in str(info.value)
        assert "scene file missing: cup.blend" in str(info.value)
        # The server is fine: the next job, on a working worker, completes.
        good = start_workers(server.endpoint, 1)[0]
        retry = client.submit(**disc_job(requires={"name": good.name}))
        assert retry.wait(timeout_s=30)["state"] == "finished"


def test_images_of_the_wrong_size_are_not_used(start_server, start_workers):
    server = start_server(max_attempts=2)
    disc_16 = DiscTask(size=16)
    start_workers(server.endpoint, 1, render=lambda values, settings, seeds: disc_16.render(values))
    target = DiscTask(size=24).render(np.array([[0.7, 0.3]]))[0]
    with OptimizerClient(server.endpoint) as client:
        job = client.submit(**disc_job(target_values=None, target_image=target))
        with pytest.raises(
            JobFailedError, match=r"rendered images of shape \(16, 16, 3\) but the target is \(24, 24, 3\)"
        ):
            job.wait(timeout_s=30)


def test_a_crashing_worker_process_restarts_cleanly(start_server, spawn):
    """SIGKILL then a fresh process: the new worker registers and finishes what the old one left."""
    server = start_server()
    first = spawn_worker(spawn, server.endpoint, "--name", "first", "--sleep-ms", "20")
    wait_until(lambda: worker_named(server, "first") is not None, what="the first worker")
    with OptimizerClient(server.endpoint) as client:
        job = client.submit(**disc_job(budget=30))
        wait_until(lambda: busy(server, "first"), what="the first worker to render")
        os.kill(first.pid, signal.SIGKILL)
        spawn_worker(spawn, server.endpoint, "--name", "second")
        result = job.wait(timeout_s=60)
    assert result["state"] == "finished" and result["evaluations"] == 30

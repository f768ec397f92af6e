"""Workers on Ray (issue 17): ``RayWorkers`` starts render workers as Ray actors that connect back to
the server; Ray restarts an actor whose process dies, and the server re-dispatches its renders.

A local Ray instance started by the test (2 CPUs), analytic disc workers (the Blender end, through the
batch runner's ``[workers]`` table, is tests/blender/test_farm.py). Skipped, saying why, where Ray
cannot be imported; the package itself never needs it.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from server_kit import disc_job, wait_until

from optimizer_server.farm import RayWorkers, worker_command
from optimizer_server.wire.client import OptimizerClient

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'zerograds[ray]' to run the Ray tests")


@pytest.mark.slow
def test_ray_workers_serve_a_job_and_a_killed_actor_is_restarted(local_ray, start_server):
    server = start_server()
    command = worker_command(server.endpoint, "disc", ["--sleep-ms", "30", "--heartbeat", "0.1"])
    with RayWorkers("auto", 2, command, cpus_per_worker=1) as workers:
        (actor_pid, _), _ = workers.pids()
        with OptimizerClient(server.endpoint) as client:
            wait_until(lambda: client.status()["workers"]["count"] == 2, 60, "two Ray workers")
            job = client.submit(**disc_job(method="prdpt", budget=80, options={"samples": 2, "sigma": 0.2, "lr": 0.02}))
            steps = []
            for progress in job.progress(timeout_s=120):
                steps.append(progress["evaluations"])
                if len(steps) == 3:
                    os.kill(actor_pid, signal.SIGKILL)  # the actor's process; its worker dies with it
            assert job.result["state"] == "finished", job.result["message"]
            # no render counted twice: every iteration added exactly its batch, the budget exactly spent
            assert steps == list(range(2, 81, 2)) and job.result["evaluations"] == 80
            deadline = time.monotonic() + 60
            while True:  # Ray restarted the actor: a new process, a new worker, both connected again
                try:
                    new_pid, _ = ray.get(workers.actors[0].pids.remote(), timeout=10)
                    if new_pid != actor_pid and client.status()["workers"]["count"] == 2:
                        break
                except ray.exceptions.RayActorError:
                    pass
                assert time.monotonic() < deadline, "Ray did not restart the killed worker actor"
                time.sleep(0.5)

"""Finding 2: every local process was trusted, and any client could see and steer any job.

Now a loopback server authenticates with this user's local keys, jobs belong to the key that
submitted them, and a worker that fails a job's renders stops getting them.
"""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
import zmq
from server_kit import RawPeer, disc_job, wait_until

from optimizer_server.problems.disc import DiscTask
from optimizer_server.server.auth import create_peer_keys, create_server_keys
from optimizer_server.wire import protocol
from optimizer_server.wire.client import OptimizerClient
from optimizer_server.wire.transport import CurveKeys


def anonymous_peer(endpoint: str) -> zmq.Socket:
    """A local process of another user: it cannot read this user's keys, so it connects without."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    sock.sndtimeo = 3000  # with its handshake refused, a DEALER has nowhere to queue a message
    sock.connect(endpoint)
    return sock


def ask(sock: zmq.Socket, kind: str, job: str | None = None, timeout_s: float = 3.0):
    """The reply, or None when the server never answers."""
    try:
        sock.send_multipart(protocol.encode(kind, {}, job=job, seq=1))
    except zmq.Again:
        return None
    if not sock.poll(int(timeout_s * 1000)):
        return None
    return protocol.decode(sock.recv_multipart(), accept=protocol.SERVER_TO_CLIENT)


def test_a_stranger_on_loopback_can_neither_list_nor_cancel_a_job(start_server, start_workers):
    server = start_server()  # defaults: loopback, authenticated with the local keys
    start_workers(server.endpoint, 1, sleep_ms=20)
    with OptimizerClient(server.endpoint) as owner:
        job = owner.submit(**disc_job(budget=40, name="secret scene"))
        stranger = anonymous_peer(server.endpoint)
        try:
            listed = ask(stranger, "status")
            cancelled = ask(stranger, "cancel", job=job.id)
        finally:
            stranger.close()
        result = job.wait(timeout_s=60)
    assert listed is None and cancelled is None  # refused at the handshake: never answered
    assert result["state"] == "finished"


def test_the_local_keys_are_made_by_the_server_and_private(start_server):
    server = start_server()
    keys_dir = os.environ["ZEROGRADS_LOCAL_KEYS"]
    assert server.server.config.insecure_loopback is False
    assert stat.S_IMODE(os.stat(keys_dir).st_mode) == 0o700
    for root, _, files in os.walk(keys_dir):
        for name in files:
            assert stat.S_IMODE(os.stat(os.path.join(root, name)).st_mode) == 0o600, name


@pytest.fixture
def two_users(tmp_path):
    """A server key directory with two authorised clients (alice, mallory) and a worker."""
    server_dir = tmp_path / "keys"
    server_public = create_server_keys(str(server_dir))
    loaded = {
        name: CurveKeys.load(server_public, create_peer_keys(str(server_dir), name))
        for name in ("alice", "mallory", "worker")
    }
    return str(server_dir), loaded


def test_only_the_owner_sees_pauses_resumes_or_cancels_a_job(start_server, start_workers, two_users):
    keys_dir, keys = two_users
    server = start_server(keys_dir=keys_dir)
    start_workers(server.endpoint, 1, keys=keys["worker"], sleep_ms=20)
    with (
        OptimizerClient(server.endpoint, keys=keys["alice"]) as alice,
        OptimizerClient(server.endpoint, keys=keys["mallory"]) as mallory,
    ):
        job = alice.submit(**disc_job(budget=40))
        theirs = mallory.submit(**disc_job(budget=12))
        assert [j["job"] for j in mallory.status()["jobs"]] == [theirs.id]  # not alice's
        for request in (mallory.status, mallory.pause, mallory.resume, mallory.cancel):
            with pytest.raises(Exception) as info:
                request(job.id)
            assert getattr(info.value, "code", None) == "unknown_job", request
            assert job.id not in str(info.value).split("yours:")[1]
        assert [j["job"] for j in alice.status()["jobs"]] == [job.id]
        assert alice.pause(job.id)["state"] == "paused" and alice.resume(job.id)["state"] != "paused"
        assert job.wait(timeout_s=60)["state"] == "finished"
        assert theirs.wait(timeout_s=60)["state"] == "finished"


def test_a_peer_claiming_another_peers_routing_id_does_not_become_it(start_server, start_workers):
    server = start_server()
    start_workers(server.endpoint, 1, sleep_ms=20)
    with OptimizerClient(server.endpoint) as owner:
        job = owner.submit(**disc_job(budget=40))
        wait_until(lambda: server.server.jobs[job.id].listeners, what="the owner to follow its job")
        owner_id = server.server.jobs[job.id].listeners[0]
        impostor = RawPeer(server.endpoint, routing_id=owner_id)  # libzmq ignores the claim...
        impostor.send("cancel", {}, job=job.id)  # ...so this frame is taken as its routing id, not obeyed
        result = job.wait(timeout_s=60)
        impostor.close()
    assert result["state"] == "finished"


def test_a_failing_worker_beside_healthy_ones_does_not_fail_the_job(start_server, start_workers):
    server = start_server()

    def always_fails(values, settings, seeds):
        raise RuntimeError("I fail every render")

    start_workers(server.endpoint, 1, render=always_fails)
    wait_until(lambda: len(server.server.roster.workers) == 1, what="the failing worker")
    start_workers(server.endpoint, 2, sleep_ms=30)
    with OptimizerClient(server.endpoint) as client:
        result = client.submit(**disc_job(budget=60)).wait(timeout_s=90)
    assert result["state"] == "finished" and result["evaluations"] == 60
    bad = next(w for w in server.server.roster.workers.values() if w.name.startswith("custom"))
    assert sum(bad.failures.values()) <= server.server.config.worker_failure_limit  # quarantined, not retried forever


def test_a_worker_returning_nan_images_beside_healthy_ones_does_not_fail_the_job(start_server, start_workers):
    server = start_server()
    disc = DiscTask(size=24)

    def nan_images(values, settings, seeds):
        images = disc.render(values)
        images[:, 0, 0, 0] = np.nan
        return images

    start_workers(server.endpoint, 1, render=nan_images)
    wait_until(lambda: len(server.server.roster.workers) == 1, what="the lying worker")
    start_workers(server.endpoint, 2, sleep_ms=30)
    with OptimizerClient(server.endpoint) as client:
        result = client.submit(**disc_job(budget=60)).wait(timeout_s=90)
    assert result["state"] == "finished" and result["evaluations"] == 60


def test_when_every_worker_fails_the_job_fails_with_each_workers_text(start_server, start_workers):
    server = start_server()
    for text in ("GPU out of memory", "scene file missing"):
        start_workers(server.endpoint, 1, render=lambda *a, text=text: (_ for _ in ()).throw(RuntimeError(text)))
    wait_until(lambda: len(server.server.roster.workers) == 2, what="two failing workers")
    with OptimizerClient(server.endpoint) as client:
        result = client.submit(**disc_job(budget=30)).progress(timeout_s=60)
        for _ in result:
            pass
    job = next(iter(server.server.jobs.values()))
    assert job.state == "failed"
    assert "every worker able to render it" in job.message
    assert "GPU out of memory" in job.message and "scene file missing" in job.message

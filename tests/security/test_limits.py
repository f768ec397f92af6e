"""Finding 3: no quotas, unbounded ranges, a lax version check, one job's odd value breaking every status."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from server_kit import RawPeer, disc_job

from optimizer_server.server.auth import create_peer_keys, create_server_keys
from optimizer_server.wire.client import OptimizerClient
from optimizer_server.wire.errors import RequestRejectedError
from optimizer_server.wire.transport import CurveKeys


def header(**overrides) -> bytes:
    h = {"v": 1, "type": "status", "job": None, "seq": 5, "re": None, "body": {}, "arrays": []}
    h.update(overrides)
    return json.dumps(h).encode()


@pytest.mark.parametrize("version", [True, 1.0, "1", [1]])
def test_the_protocol_version_must_be_the_integer_1(start_server, raw_peer, version):
    peer = raw_peer(start_server().endpoint)
    peer.send_frames([header(v=version)])
    reply = peer.recv()
    assert (reply.kind, reply.body["code"]) == ("error", "unsupported_version")


def test_a_huge_sample_count_is_refused_before_anything_is_built(start_server, tmp_path):
    server = start_server()
    with OptimizerClient(server.endpoint) as client:
        with pytest.raises(RequestRejectedError) as info:
            client.submit(**disc_job(method="prdpt", options={"samples": 4_000_000}), job_id="greedy")
    assert info.value.code == "too_large" and "--max-batch-samples" in str(info.value)
    assert not os.path.exists(os.path.join(server.server.config.jobs_dir, "greedy"))
    assert server.server.jobs == {}


def test_a_method_whose_batch_is_over_the_quota_is_refused_and_leaves_no_files(start_server):
    server = start_server(max_batch_samples=4)
    with OptimizerClient(server.endpoint) as client:
        with pytest.raises(RequestRejectedError, match="would render 6 samples per iteration"):
            client.submit(**disc_job(method="cmaes"), job_id="wide")  # CMA-ES's own population for n=2: 6
    assert not os.path.exists(os.path.join(server.server.config.jobs_dir, "wide"))


def test_a_space_declaring_billions_of_values_is_refused_before_it_is_built(start_server):
    server = start_server()
    vast = {"params": [{"name": "tex", "lo": 0.0, "hi": 1.0, "shape": [100_000, 100_000]}]}
    with OptimizerClient(server.endpoint) as client:
        with pytest.raises(RequestRejectedError, match="10,000,000,000 parameter values") as info:
            client.submit(**disc_job(space=vast, target_values=None, target_image=np.zeros((8, 8, 3), np.float32)))
    assert info.value.code == "too_large"


def test_a_target_image_over_the_pixel_quota_is_refused(start_server):
    server = start_server(max_target_pixels=32 * 32)
    with OptimizerClient(server.endpoint) as client:
        with pytest.raises(RequestRejectedError, match="the target image has 4,096 pixels") as info:
            client.submit(**disc_job(target_values=None, target_image=np.zeros((64, 64, 3), np.float32)))
    assert info.value.code == "too_large"


def test_ranges_must_be_finite_and_status_keeps_working(start_server):
    server = start_server()
    huge = {"params": [{"name": "cx", "lo": -1e308, "hi": 1e308}, {"name": "cy", "lo": 0.0, "hi": 1.0}]}
    with OptimizerClient(server.endpoint) as client:
        ok = client.submit(**disc_job(budget=12))
        with pytest.raises(RequestRejectedError, match="range hi - lo .* overflows"):
            client.submit(**disc_job(space=huge, target_values={"cx": 0.5, "cy": 0.5}, start={"cx": 0, "cy": 0.5}))
        assert [j["job"] for j in client.status()["jobs"]] == [ok.id]


def test_one_jobs_unreportable_value_does_not_break_the_status_of_the_others(start_server):
    """Whatever odd number a job comes to hold (here: put there by hand), status answers for all."""
    server = start_server()
    with OptimizerClient(server.endpoint) as client:
        first = client.submit(**disc_job(budget=12))
        second = client.submit(**disc_job(budget=12))
        server.server.jobs[first.id].config.budget = float("inf")  # a number JSON cannot carry
        jobs = {j["job"]: j for j in client.status()["jobs"]}
        assert set(jobs) == {first.id, second.id}
        assert jobs[first.id]["budget"] is None and jobs[second.id]["state"] == "waiting_for_target"
        assert second.status()["budget"] == 12


def test_one_client_cannot_take_every_job_slot(start_server, tmp_path):
    keys_dir = tmp_path / "keys"
    server_public = create_server_keys(str(keys_dir))
    keys = {n: CurveKeys.load(server_public, create_peer_keys(str(keys_dir), n)) for n in ("greedy", "other")}
    server = start_server(keys_dir=str(keys_dir), max_jobs_per_client=3)
    with OptimizerClient(server.endpoint, keys=keys["greedy"]) as greedy:
        for _ in range(3):  # no worker: they wait for their target render for ever
            greedy.submit(**disc_job())
        with pytest.raises(RequestRejectedError, match="--max-jobs-per-client") as info:
            greedy.submit(**disc_job())
        assert info.value.code == "server_busy"
    with OptimizerClient(server.endpoint, keys=keys["other"]) as other:
        assert other.submit(**disc_job()).status()["state"] == "waiting_for_target"


def test_oversize_and_malformed_requests_get_errors_and_the_server_serves_on(start_server, start_workers):
    """A burst of fuzzed requests from an authenticated peer, then a normal job."""
    server = start_server()
    start_workers(server.endpoint, 1)
    peer = RawPeer(server.endpoint)
    rng = np.random.default_rng(7)
    for i in range(200):
        kind = ["submit", "status", "cancel", "ready", "result", "heartbeat"][i % 6]
        body = {"space": {"params": [{"name": "x", "lo": float(rng.normal()), "hi": float(rng.normal())}]}}
        frames = [header(type=kind, seq=i, body=body if kind == "submit" else {"junk": i})]
        frames += [rng.bytes(int(rng.integers(0, 64)))] * int(rng.integers(0, 3))
        peer.send_frames(frames)
    peer.send_frames([b"{" * 100_000])  # deep JSON
    peer.send_frames([header(body={"x": "y" * 2_000_000})])  # over the header limit
    replies = 0
    while peer.socket.poll(500):
        peer.socket.recv_multipart()
        replies += 1
    assert replies >= 200
    with OptimizerClient(server.endpoint) as client:
        assert client.submit(**disc_job(budget=12)).wait(timeout_s=60)["state"] == "finished"
    peer.close()

"""Scenes travel with jobs (issue 17): a client uploads the scene once by hash, a worker without it
fetches it in chunks and caches it, and the next job on the same scene moves no scene bytes at all.

Real server, real sockets, real WorkerLoop threads; the "scene" is random bytes (the server never opens
a scene, and this worker only checks it got the very bytes): the Blender end is tests/blender/test_farm.py.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time

import numpy as np
import pytest
from server_kit import RawPeer, disc_job, wait_until

from optimizer_server.problems.disc_worker import DiscRenderer
from optimizer_server.wire.client import OptimizerClient
from optimizer_server.wire.errors import RequestRejectedError
from optimizer_server.wire.protocol import SCENE_CHUNK_BYTES
from optimizer_server.wire.scene_cache import SceneCache


def _scene(tmp_path, size: int, seed: int = 0) -> str:
    path = tmp_path / f"scene{seed}.blend"
    path.write_bytes(np.random.default_rng(seed).bytes(size))
    return str(path)


class SceneCheckingRenderer(DiscRenderer):
    """The disc renderer, refusing to render unless the job's scene file is there with the right bytes."""

    def __init__(self):
        super().__init__()
        self.scenes_seen = set()

    def __call__(self, values, settings, seeds):
        path = settings["scene_file"]
        with open(path, "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == os.path.basename(path).split(".")[0]
        self.scenes_seen.add(path)
        return super().__call__(values, settings, seeds)


def test_a_fetching_worker_gets_each_scene_once_and_the_next_job_moves_no_bytes(tmp_path, start_server, start_workers):
    server = start_server()
    size = 2 * SCENE_CHUNK_BYTES + 12345  # three chunks each way
    scene_a, scene_b = _scene(tmp_path, size, 1), _scene(tmp_path, 1000, 2)
    cache = SceneCache(str(tmp_path / "worker-cache"))
    renderer = SceneCheckingRenderer()
    (worker,) = start_workers(server.endpoint, 1, render=renderer, scene_cache=cache)
    with OptimizerClient(server.endpoint) as client:
        ref = client.upload_scene(scene_a)
        assert client.scene_bytes_sent == size
        client.submit(**disc_job(method="cmaes", budget=12), scene=ref).wait(timeout_s=60)
        assert cache.bytes_received == size and server.server.counters["scene_bytes_sent"] == size

        # the same scene again: the client sends nothing, the worker fetches nothing
        again = client.upload_scene(scene_a)
        assert again == ref and client.scene_bytes_sent == size
        client.submit(**disc_job(method="cmaes", budget=12, seed=4), scene=again).wait(timeout_s=60)
        assert cache.bytes_received == size and server.server.counters["scene_bytes_sent"] == size

        # the next job on another scene: the same worker serves it
        other = client.upload_scene(scene_b)
        client.submit(**disc_job(method="cmaes", budget=12), scene=other).wait(timeout_s=60)
    assert cache.bytes_received == size + 1000
    assert len(renderer.scenes_seen) == 2 and server.server.counters["scene_bytes_received"] == size + 1000


def test_a_scene_over_the_limit_is_refused_with_a_clear_error(tmp_path, start_server):
    server = start_server(max_scene_bytes=1 << 20)
    with OptimizerClient(server.endpoint) as client:
        with pytest.raises(RequestRejectedError, match="at most 1,048,576.*--max-scene-mb") as info:
            client.upload_scene(_scene(tmp_path, (1 << 20) + 1))
        assert info.value.code == "too_large"
        with pytest.raises(RequestRejectedError, match="upload it first"):
            client.submit(**disc_job(), scene={"sha256": "0" * 64, "size": 10})


def test_a_worker_fetches_only_scenes_of_jobs_it_renders(tmp_path, start_server):
    """A worker that never got a render of the job cannot read its scene by hash."""
    server = start_server()
    with OptimizerClient(server.endpoint) as client:
        ref = client.upload_scene(_scene(tmp_path, 5000))
    peer = RawPeer(server.endpoint)
    peer.send("ready", {"capabilities": {"renderer": "disc", "scene_fetch": True}})
    assert peer.recv().kind == "welcome"
    peer.send("scene_get", {"sha256": ref["sha256"], "offset": 0})
    reply = peer.recv()
    assert reply.kind == "error" and "belongs to no job this worker was sent" in reply.body["message"]
    assert server.server.counters["scene_bytes_sent"] == 0


class SlowCache(SceneCache):
    """A worker's scene cache that takes 0.2 s per chunk, and says when the first one is in."""

    def __init__(self, directory):
        super().__init__(directory)
        self.first_chunk = threading.Event()

    def write(self, *args):
        done = super().write(*args)
        self.first_chunk.set()
        time.sleep(0.2)
        return done


def test_a_job_cancelled_while_its_scene_is_fetched_stops_the_fetch(tmp_path, start_server, start_workers):
    """The worker is fetching the scene for the job's first render when the job is cancelled: the
    server's abort answers that render at once, and the rest of the scene is not fetched."""
    server = start_server()
    size = 6 * SCENE_CHUNK_BYTES
    cache = SlowCache(str(tmp_path / "worker-cache"))
    start_workers(server.endpoint, 1, render=DiscRenderer(), scene_cache=cache)
    wait_until(lambda: len(server.server.roster.workers) == 1, what="the worker")
    worker = next(iter(server.server.roster.workers.values()))
    with OptimizerClient(server.endpoint) as client:
        ref = client.upload_scene(_scene(tmp_path, size, 3))
        job = client.submit(**disc_job(method="cmaes", budget=12), scene=ref)
        assert cache.first_chunk.wait(30), "the worker never started fetching the scene"
        job.cancel()
        wait_until(lambda: worker.idle, what="the worker to answer its called-off render")
    time.sleep(0.5)  # a chunk still under way is in by now
    assert SCENE_CHUNK_BYTES <= cache.bytes_received < size
    assert cache.path(ref["sha256"]) is None

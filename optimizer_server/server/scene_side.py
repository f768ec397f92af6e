"""The serve loop's handling of scenes that travel with jobs (a mixin of OptimizerServer, one thread).

A client uploads a job's .blend with ``scene_put`` before it submits (``submit`` names it by hash); a
worker without the scene fetches it with ``scene_get``, chunk by chunk, and caches it by hash, so the
bytes go to each worker once. A worker may fetch only the scenes of jobs it was sent renders of.
"""

from __future__ import annotations

import logging
import time

from ..wire.errors import RequestRejectedError
from ..wire.protocol import SCENE_CHUNK_BYTES, Message

log = logging.getLogger("zerograds.server")


class SceneSide:
    def _require_scene(self, config) -> None:
        """A job that names a scene is accepted only once the scene is here (uploaded before the submit)."""
        if config.scene is not None and self.scenes.path(config.scene["sha256"]) is None:
            raise RequestRejectedError(
                f"the job's scene {config.scene['sha256'][:12]}… is not on this server: upload it first "
                "(OptimizerClient.upload_scene)",
                code="bad_request",
            )

    def _on_scene_put(self, identity: bytes, owner: str | None, msg: Message) -> None:
        b = msg.body
        chunks = msg.arrays_named("chunk")
        if len(chunks) > 1:
            raise RequestRejectedError("'scene_put' carries at most one array 'chunk'", code="bad_message")
        held = self.scenes.put(b["sha256"], b["size"], b["offset"], chunks[0] if chunks else None)
        if chunks:
            self.counters["scene_bytes_received"] += len(chunks[0])
        if held == b["size"] and chunks:
            log.info("scene %s… uploaded (%d bytes)", b["sha256"][:12], b["size"])
        self._send(identity, "scene_state", {"sha256": b["sha256"], "size": b["size"], "received": held}, re=msg.seq)

    def _on_scene_get(self, identity: bytes, owner: str | None, msg: Message) -> None:
        worker = self._worker(identity, msg)
        if worker is None:
            return
        sha = msg.body["sha256"]
        jobs = [self.jobs[j] for j in worker.setups if j in self.jobs]
        scene = next((j.config.scene for j in jobs if j.config.scene and j.config.scene["sha256"] == sha), None)
        if scene is None:
            raise RequestRejectedError(
                f"scene {sha[:12]}… belongs to no job this worker was sent renders of", code="bad_request"
            )
        offset = msg.body["offset"]
        data = self.scenes.read(sha, offset, min(SCENE_CHUNK_BYTES, max(0, scene["size"] - offset)))
        now = time.monotonic()
        for task_id in worker.inflight:  # the renders wait for the scene: their clock starts when it is there
            task = self.roster.tasks.get(task_id)
            if task is not None:
                task.deadline = max(task.deadline, now + (task.deadline - task.sent_at))
        self.counters["scene_bytes_sent"] += len(data)
        worker.scene_bytes += len(data)
        body = {"sha256": sha, "offset": offset, "size": scene["size"]}
        self._send(identity, "scene_chunk", body, re=msg.seq, arrays=[("chunk", memoryview(data))])

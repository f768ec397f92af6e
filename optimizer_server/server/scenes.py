"""Scenes that travel with jobs: .blend files kept by content (SHA-256), uploaded by clients in chunks
(``scene_put``) and fetched by workers in chunks (``scene_get``), in ``JOBS_DIR/scenes/``.

The server never opens a scene: it stores bytes, checks that they hash to the name they were uploaded
under, and hands them to workers rendering a job on that scene. An upload past ``max_bytes`` is refused
with a message saying how to fix it; an upload that stops half-way resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import os
import time

from ..wire.errors import RequestRejectedError

_MAX_PARTIAL = 4  # uploads in progress at once; starting another drops the oldest


class SceneStore:
    def __init__(self, directory: str, max_bytes: int):
        self.directory = directory
        self.max_bytes = max_bytes

    def path(self, sha256: str) -> str | None:
        """The complete scene's file, or None."""
        path = os.path.join(self.directory, f"{sha256}.blend")
        return path if os.path.isfile(path) else None

    def _part(self, sha256: str) -> str:
        return os.path.join(self.directory, f"{sha256}.part")

    def received(self, sha256: str, size: int) -> int:
        """Bytes of the scene the server holds (``size`` once complete)."""
        if self.path(sha256):
            return size
        try:
            return os.path.getsize(self._part(sha256))
        except OSError:
            return 0

    def put(self, sha256: str, size: int, offset: int, chunk) -> int:
        """Append ``chunk`` (bytes at ``offset``) to an upload; returns the bytes held. The last chunk
        completes it once the whole file hashes to ``sha256``."""
        if size > self.max_bytes:
            raise RequestRejectedError(
                f"the scene is {size:,} bytes; this server accepts scenes of at most {self.max_bytes:,} "
                "(serve --max-scene-mb); make it smaller (fewer or smaller packed images, simpler meshes) "
                "or ask the server's operator to raise the limit",
                code="too_large",
            )
        held = self.received(sha256, size)
        if chunk is None or held == size:
            return held
        if offset != held:
            raise RequestRejectedError(
                f"scene {sha256[:12]}: a chunk at byte {offset:,}, but the server holds {held:,}; send from there",
                code="bad_request",
            )
        if offset + len(chunk) > size:
            raise RequestRejectedError(
                f"scene {sha256[:12]}: the chunk runs past its size {size:,}", code="bad_request"
            )
        os.makedirs(self.directory, exist_ok=True)
        if held == 0:
            self._limit_partial()
        with open(self._part(sha256), "ab") as f:
            f.write(memoryview(chunk).cast("B"))
        held += len(chunk)
        if held == size:
            self._complete(sha256)
        return held

    def _complete(self, sha256: str) -> None:
        part = self._part(sha256)
        digest = hashlib.sha256()
        with open(part, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != sha256:
            os.unlink(part)
            raise RequestRejectedError(
                f"the uploaded scene's bytes hash to {digest.hexdigest()[:12]}…, not {sha256[:12]}…; "
                "it changed during the upload or was damaged: upload it again",
                code="bad_request",
            )
        os.replace(part, os.path.join(self.directory, f"{sha256}.blend"))

    def _limit_partial(self) -> None:
        parts = sorted(
            (os.path.getmtime(os.path.join(self.directory, n)), n)
            for n in os.listdir(self.directory)
            if n.endswith(".part")
        )
        for _, name in parts[: max(0, len(parts) - _MAX_PARTIAL + 1)]:
            os.unlink(os.path.join(self.directory, name))

    def read(self, sha256: str, offset: int, length: int) -> bytes:
        path = self.path(sha256)
        if path is None:
            raise RequestRejectedError(f"this server holds no scene {sha256[:12]}…", code="bad_request")
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(length)
        os.utime(path, (time.time(), os.path.getmtime(path)))  # last use, for whoever cleans up
        return data

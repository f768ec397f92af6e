"""A render worker's cache of the scenes jobs carry: files named by their SHA-256, fetched from the
server in chunks the first time a job needs one (``WorkerLoop`` does the fetching), kept for the next
job on the same scene. Only the standard library: the add-on vendors it.

A file is used only once its bytes hash to its name; a fetch that stops half-way resumes where it
stopped. The least recently used scenes go when more than ``keep`` are cached.
"""

from __future__ import annotations

import hashlib
import os


def default_cache_dir() -> str:
    """``$ZEROGRADS_CACHE/scenes``, else ``~/.cache/zerograds/scenes`` (XDG_CACHE_HOME honoured)."""
    root = os.environ.get("ZEROGRADS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "zerograds"
    )
    return os.path.join(root, "scenes")


class SceneCache:
    def __init__(self, directory: str | None = None, keep: int = 16):
        self.directory = directory or default_cache_dir()
        self.keep = keep
        self.bytes_received = 0

    def path(self, sha256: str) -> str | None:
        """The cached scene, or None (marked as just used)."""
        path = os.path.join(self.directory, f"{sha256}.blend")
        if not os.path.isfile(path):
            return None
        os.utime(path)
        return path

    def _part(self, sha256: str) -> str:
        return os.path.join(self.directory, f"{sha256}.part")

    def received(self, sha256: str) -> int:
        try:
            return os.path.getsize(self._part(sha256))
        except OSError:
            return 0

    def write(self, sha256: str, offset: int, size: int, chunk: bytes) -> bool:
        """Store one chunk; True once the scene is complete (and hashes to its name). Raises ValueError
        for a chunk that does not fit (the caller asks again from ``received``) or a damaged file."""
        if offset != self.received(sha256) or offset + len(chunk) > size or not chunk:
            raise ValueError(
                f"scene {sha256[:12]}: a chunk at {offset} does not continue the {self.received(sha256)} bytes held"
            )
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        with open(self._part(sha256), "ab") as f:
            f.write(chunk)
        self.bytes_received += len(chunk)
        if offset + len(chunk) < size:
            return False
        digest = hashlib.sha256()
        with open(self._part(sha256), "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != sha256:
            os.unlink(self._part(sha256))
            raise ValueError(
                f"the scene fetched as {sha256[:12]}… hashes to {digest.hexdigest()[:12]}…; it was dropped"
            )
        os.replace(self._part(sha256), os.path.join(self.directory, f"{sha256}.blend"))
        self._evict()
        return True

    def _evict(self) -> None:
        scenes = sorted(
            (os.path.getmtime(os.path.join(self.directory, n)), n)
            for n in os.listdir(self.directory)
            if n.endswith(".blend")
        )
        for _, name in scenes[: max(0, len(scenes) - self.keep)]:
            os.unlink(os.path.join(self.directory, name))

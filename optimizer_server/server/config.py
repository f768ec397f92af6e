"""Settings of one server process (the `serve` command line maps onto these fields)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..wire.protocol import DEFAULT_LIMITS, Limits


def default_jobs_dir() -> str:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "zerograds", "jobs")


@dataclass
class ServerConfig:
    bind: str = "tcp://127.0.0.1:5555"
    """Where clients and workers connect. Loopback by default; any other address needs `keys_dir`.
    A port of '*' picks a free one (see OptimizerServer.endpoint)."""
    jobs_dir: str = field(default_factory=default_jobs_dir)
    """Each job writes its files to JOBS_DIR/<job id>/."""
    keys_dir: str | None = None
    """CurveZMQ keys: server.key_secret and authorized/*.key (see `python -m optimizer_server keys`).
    None on loopback: this user's local keys (wire/local_keys.py), made on first use."""
    insecure_loopback: bool = False
    """On loopback, let every local process in without keys, and every job be anyone's (the old
    behaviour; only for those who ask)."""
    local_keys_dir: str | None = None
    """Where the local keys live (default: wire.local_keys.local_keys_dir())."""
    isolate_peers: bool = True
    """Keep the public socket in a gateway process (gateway.py), so no peer can abort the server."""
    heartbeat_interval_s: float = 0.5
    """Told to every worker in `welcome`: how often it sends a heartbeat."""
    heartbeat_timeout_s: float = 10.0
    """A worker silent this long is dead: its renders go to other workers."""
    render_timeout_s: float = 300.0
    """Per image: a render task not answered after this many seconds × its batch size is sent to
    another worker (a hung renderer that still heartbeats). Jobs may override it."""
    max_attempts: int = 5
    """A sample that this many different workers failed (errors, deaths, timeouts, unusable images)
    fails its job; so does one that every connected worker able to render it failed."""
    worker_failure_limit: int = 3
    """A worker that failed this many of a job's renders gets no more of that job's renders."""
    tries_per_worker: int = 2
    """How often one worker may fail the same sample before it counts as having failed it."""
    max_jobs: int = 64
    """Jobs held in memory at once (finished ones are dropped first)."""
    max_jobs_per_client: int = 32
    """Unfinished jobs one client identity may hold (so that one client cannot lock the others out)."""
    max_batch_samples: int = 4096
    """Renders one iteration may ask for (a method's samples / popsize / batch_size)."""
    max_target_pixels: int = 4096 * 4096
    """Pixels of a target image or mask (and of every render compared with it)."""
    max_parameters: int = 1 << 22
    """Values one job optimises (array parameters count every element: a 1024² RGB texture is 3.1M)."""
    max_scene_bytes: int = 4 << 30
    """Largest scene (.blend with packed assets) a job may carry (JOBS_DIR/scenes/ keeps them)."""
    device: str = "auto"
    """Torch device for losses and methods: auto (CUDA when present), cpu or cuda."""
    limits: Limits = DEFAULT_LIMITS

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
    """CurveZMQ keys: server.key_secret and authorized/*.key (see `python -m optimizer_server keys`)."""
    require_auth: bool = False
    """Authenticate even on loopback (non-loopback binds always authenticate)."""
    heartbeat_interval_s: float = 0.5
    """Told to every worker in `welcome`: how often it sends a heartbeat."""
    heartbeat_timeout_s: float = 10.0
    """A worker silent this long is dead: its renders go to other workers."""
    render_timeout_s: float = 300.0
    """Per image: a render task not answered after this many seconds × its batch size is sent to
    another worker (a hung renderer that still heartbeats). Jobs may override it."""
    max_attempts: int = 5
    """A sample sent this many times without a result (failures, deaths, timeouts) fails its job."""
    max_jobs: int = 64
    """Jobs held in memory at once (finished ones are dropped first)."""
    device: str = "auto"
    """Torch device for losses and methods: auto (CUDA when present), cpu or cuda."""
    limits: Limits = DEFAULT_LIMITS

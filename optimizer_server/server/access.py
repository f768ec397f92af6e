"""Who may do what: jobs belong to the client identity that submitted them, and quotas per client.

A client's identity is its CurveZMQ public key (the ZAP user id the gateway passes on). On loopback
every local process of this user shares one key (wire/local_keys.py), so "the owner" is this user;
other users cannot even connect. Without authentication (``--insecure-loopback``) every client is
the same anonymous one and every job is everybody's, as before.

Someone else's job is answered exactly like a job that does not exist (``unknown_job``), so a
stranger learns neither its name nor its folder nor its values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..wire import local_keys
from ..wire.errors import ConfigError, RequestRejectedError
from ..wire.transport import is_loopback
from .config import ServerConfig

# the method options that set how many renders one iteration asks for
_BATCH_OPTIONS = ("samples", "popsize", "batch_size", "population")


def keys_dir_for(c: ServerConfig) -> str | None:
    """Which keys authenticate peers: --keys; on loopback the local keys; None: nobody is asked."""
    if c.keys_dir:
        return c.keys_dir
    if not is_loopback(c.bind):
        raise ConfigError(
            f"{c.bind} is reachable from other machines, so the server must authenticate its peers: "
            "pass --keys DIR with a CurveZMQ key directory (create one with "
            "`python -m optimizer_server keys DIR --peer NAME`), or bind tcp://127.0.0.1:PORT"
        )
    if c.insecure_loopback:
        return None
    return local_keys.ensure_local_keys(c.local_keys_dir)


def owner_of(user_id: bytes) -> str | None:
    return user_id.decode("ascii", errors="replace") if user_id else None


class Access:
    def __init__(self, config: ServerConfig):
        self.config = config

    @staticmethod
    def visible(job, owner: str | None) -> bool:
        """A job recorded without an owner (unauthenticated, or from before owners) is everyone's."""
        return job.store.owner is None or job.store.owner == owner

    def job(self, jobs: dict[str, Any], job_id: str | None, kind: str, owner: str | None):
        """The caller's job ``job_id``; someone else's is reported as unknown."""
        if job_id is None:
            raise RequestRejectedError(f"'{kind}' needs the job id in the header field 'job'")
        job = jobs.get(job_id)
        if job is None or not self.visible(job, owner):
            mine = [j for j in jobs if self.visible(jobs[j], owner)]
            raise RequestRejectedError(
                f"no job {job_id!r} of yours on this server (yours: {', '.join(mine[:20]) or 'none'})",
                code="unknown_job",
            )
        return job

    def mine(self, jobs: Iterable[Any], owner: str | None) -> list[Any]:
        return [job for job in jobs if self.visible(job, owner)]

    def check_submit(self, jobs: Iterable[Any], owner: str | None, body: dict[str, Any], arrays) -> None:
        """Quotas that must hold before a job is built (building a huge method costs memory)."""
        c = self.config
        running = sum(1 for job in jobs if not job.final and job.store.owner == owner)
        if running >= c.max_jobs_per_client:
            raise RequestRejectedError(
                f"you already have {running} unfinished jobs on this server, the limit per client "
                f"(--max-jobs-per-client); cancel one or wait for one to finish",
                code="server_busy",
            )
        values = _parameter_count(body.get("space", {}))
        if values > c.max_parameters:
            raise RequestRejectedError(
                f"the space holds {values:,} parameter values; this server optimises at most {c.max_parameters:,} "
                "per job (--max-parameters)",
                code="too_large",
            )
        for name in _BATCH_OPTIONS:
            value = body.get("options", {}).get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value > c.max_batch_samples:
                raise RequestRejectedError(
                    f"option {name} = {value} asks for more renders per iteration than this server allows "
                    f"({c.max_batch_samples}, --max-batch-samples); use fewer",
                    code="too_large",
                )
        for name, array in arrays:
            if name in ("start", "target_values"):  # vectors of a big space: Job checks their length
                if array.size > c.max_parameters:
                    raise RequestRejectedError(
                        f"the {name} vector holds {array.size:,} values; this server optimises at most "
                        f"{c.max_parameters:,} per job (--max-parameters)",
                        code="too_large",
                    )
                continue
            pixels = int(np.prod(array.shape[:2]))
            if pixels > c.max_target_pixels:
                raise RequestRejectedError(
                    f"the {name} image has {pixels:,} pixels; this server takes at most {c.max_target_pixels:,} "
                    "(--max-target-pixels): send a smaller image",
                    code="too_large",
                )

    def check_batch(self, batch_size: int, method: str) -> None:
        if batch_size > self.config.max_batch_samples:
            raise RequestRejectedError(
                f"{method} would render {batch_size} samples per iteration; this server allows "
                f"{self.config.max_batch_samples} (--max-batch-samples): choose smaller method options",
                code="too_large",
            )


def _parameter_count(space: dict[str, Any]) -> int:
    """How many values the submitted specs declare (malformed specs count 1: Space refuses them)."""
    total = 0
    for spec in space.get("params", []) if isinstance(space.get("params"), list) else []:
        shape = spec.get("shape", ()) if isinstance(spec, dict) else ()
        ok = isinstance(shape, list | tuple) and all(isinstance(v, int) and not isinstance(v, bool) for v in shape)
        total += math.prod(shape) if ok and shape else 1
    return total

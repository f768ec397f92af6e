"""Small helpers for the serve loop's replies (kept out of core.py)."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from typing import Any

from ..wire import protocol

log = logging.getLogger("zerograds.server")


def reportable(job) -> dict[str, Any]:
    """A job's summary with every number JSON can carry: one job's odd value (inf, NaN) must not
    make the status of every job unreadable."""

    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    try:
        return clean(job.summary())
    except Exception as exc:  # a summary that cannot even be built: say so, keep the others
        log.exception("could not summarise job %s", job.id)
        return {"job": job.id, "state": job.state, "message": f"status unavailable: {exc}"}


def peek_seq(frames: Sequence[Any]) -> int | None:
    """The request's seq for the error reply, when the header is readable enough to have one."""
    try:
        head = frames[0].bytes if hasattr(frames[0], "bytes") else bytes(frames[0])
        if len(head) <= protocol.DEFAULT_LIMITS.max_header_bytes:
            seq = json.loads(head).get("seq")
            if isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq <= protocol.MAX_SEED:
                return seq
    except Exception:  # unreadable header: the reply just carries no 're'
        pass
    return None

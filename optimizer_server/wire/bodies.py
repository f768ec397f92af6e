"""The bodies of protocol messages: which fields each kind carries, their types, and the checks
of their values (job states, error codes, seeds, scenes). ``protocol.decode`` and ``encode`` call
``validate_body`` on both ends, so a malformed body is a :class:`ProtocolError` naming the field.

Imports only numpy and the standard library: the add-on and the workers ship it (Python 3.10).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .errors import ProtocolError

# Job states as the server reports them.
JOB_STATES = ("waiting_for_target", "running", "paused", "finished", "cancelled", "failed")
FINAL_JOB_STATES = ("finished", "cancelled", "failed")

# Error codes of ``error`` replies (``body.code``).
ERROR_CODES = (
    "bad_message",  # not a valid protocol message (framing, JSON, field types)
    "unsupported_version",  # header "v" is not PROTOCOL_VERSION
    "too_large",  # a frame, the header or the frame count exceeds the limits
    "bad_request",  # well-formed but its content is invalid (unknown method, bad spec ...)
    "unknown_job",  # the job id does not exist on this server
    "not_registered",  # a worker sent work messages before `ready` (re-send `ready`)
    "server_busy",  # too many jobs
    "internal_error",  # a server bug; the server keeps running
)
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_SEED = 2**63 - 1

_NUM = (int, float)
_JSON_SCALAR = (str, int, float, bool, type(None))

# kind -> {field: (allowed python types, required)}
_BODIES: dict[str, dict[str, tuple[tuple, bool]]] = {
    "submit": {
        "space": ((dict,), True),
        "method": ((str,), True),
        "options": ((dict,), False),
        "budget": ((int,), True),
        "seed": ((int,), False),
        "target": ((dict,), True),
        "settings": ((dict,), False),
        "requires": ((dict,), False),
        "start": ((dict,), False),
        "name": ((str,), False),
        "render_timeout_s": (_NUM, False),
        "scene": ((dict,), False),
    },
    "pause": {},
    "resume": {},
    "cancel": {},
    "status": {"follow": ((bool,), False)},
    "accepted": {"job": ((str,), True), "job_dir": ((str,), True), "state": ((str,), True)},
    "job_state": {"jobs": ((list,), True), "workers": ((dict,), True)},
    "progress": {
        "state": ((str,), True),
        "iteration": ((int,), True),
        "evaluations": ((int,), True),
        "budget": ((int,), True),
        "loss": (_NUM, True),
        "loss_min": (_NUM, True),
        "best_loss": (_NUM, True),
        "current": ((dict,), True),
        "best": ((dict,), True),
        "sigma": (_NUM + (type(None),), True),
        "timings": ((dict,), True),
    },
    "done": {
        "state": ((str,), True),
        "iteration": ((int,), True),
        "evaluations": ((int,), True),
        "best_loss": (_NUM + (type(None),), True),
        "best": ((dict, type(None)), True),
        "current": ((dict, type(None)), True),
        "message": ((str,), True),
        "job_dir": ((str,), True),
        "noise_floor": (_NUM + (type(None),), False),
        "verdict": ((dict, type(None)), False),  # wire.verdict.Verdict.to_dict(), for a finished job
    },
    "error": {"code": ((str,), True), "message": ((str,), True), "task": ((int,), False)},
    "ready": {"capabilities": ((dict,), True)},
    "welcome": {"worker": ((str,), True), "heartbeat_interval_s": (_NUM, True)},
    "heartbeat": {"busy": ((bool,), False)},
    "render": {"task": ((int,), True), "seeds": ((list,), True), "setup": ((dict,), False)},
    "result": {"task": ((int,), True), "render_s": (_NUM, True)},
    "render_failed": {"task": ((int,), True), "message": ((str,), True)},
    "abort": {"tasks": ((list,), True)},
    "bye": {},
    "scene_put": {"sha256": ((str,), True), "size": ((int,), True), "offset": ((int,), True)},
    "scene_state": {"sha256": ((str,), True), "size": ((int,), True), "received": ((int,), True)},
    "scene_get": {"sha256": ((str,), True), "offset": ((int,), True)},
    "scene_chunk": {"sha256": ((str,), True), "offset": ((int,), True), "size": ((int,), True)},
}


def validate_body(kind: str, body: dict[str, Any]) -> None:
    """Check the fields of a body: names, JSON types, then the kind's own rules."""
    spec = _BODIES[kind]
    unknown = sorted(set(body) - set(spec))
    if unknown:
        raise ProtocolError(f"'{kind}' has unknown field(s) {unknown}; allowed: {', '.join(sorted(spec)) or 'none'}")
    for name, (types, required) in spec.items():
        if name not in body:
            if required:
                raise ProtocolError(f"'{kind}' is missing the field {name!r}")
            continue
        value = body[name]
        # bool is an int in Python; a JSON true is never a valid count or number here.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            wanted = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)
            raise ProtocolError(f"'{kind}' field {name!r} must be {wanted}, got {_describe(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ProtocolError(f"'{kind}' field {name!r} must be finite, got {value!r}")
    rule = _RULES.get(kind)
    if rule is not None:
        rule(body)


_TYPE_NAMES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true/false",
    type(None): "null",
}


def _describe(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, _JSON_SCALAR) else type(value).__name__
    return text if len(text) < 60 else text[:57] + "..."


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_submit(b: dict[str, Any]) -> None:
    if not 1 <= b["budget"] <= 10**9:
        raise ProtocolError(f"'submit' budget must be 1 .. 1e9 evaluations, got {b['budget']}")
    if "seed" in b and not 0 <= b["seed"] <= MAX_SEED:
        raise ProtocolError(f"'submit' seed must be a non-negative 64-bit integer, got {b['seed']}")
    if "render_timeout_s" in b and not 0 < b["render_timeout_s"] <= 86400:
        raise ProtocolError(f"'submit' render_timeout_s must be in (0, 86400] seconds, got {b['render_timeout_s']}")
    params = b["space"].get("params")
    if not isinstance(params, list) or not params:
        raise ProtocolError("'submit' space must be {\"params\": [spec, ...]} with at least one parameter spec")
    target = b["target"]
    kind = target.get("kind")
    if kind == "image":
        extra = sorted(set(target) - {"kind"})
        if extra:
            raise ProtocolError(
                f"'submit' target of kind 'image' takes no other fields, got {extra}; "
                "send the image as the array 'target'"
            )
    elif kind == "values":
        extra = sorted(set(target) - {"kind", "values", "seed", "settings"})
        if extra:
            raise ProtocolError(f"'submit' target has unknown field(s) {extra}; allowed: kind, values, seed, settings")
        if not isinstance(target.get("values"), dict):
            raise ProtocolError("'submit' target of kind 'values' needs 'values': {parameter name: value}")
        if "seed" in target and (not _is_int(target["seed"]) or not 0 <= target["seed"] <= MAX_SEED):
            raise ProtocolError(f"'submit' target seed must be a non-negative integer, got {target['seed']!r}")
        if "settings" in target and not isinstance(target["settings"], dict):
            raise ProtocolError("'submit' target settings must be an object")
    else:
        raise ProtocolError(
            f"'submit' target kind must be 'image' (send the array 'target') or 'values' "
            f"(parameter values the workers render), got {kind!r}"
        )
    for reserved in ("params", "job"):
        if reserved in b.get("settings", {}):
            raise ProtocolError(
                f"'submit' settings may not use the reserved key {reserved!r} (the server adds it for the workers)"
            )
    for name, value in b.get("requires", {}).items():
        if not isinstance(value, _JSON_SCALAR):
            raise ProtocolError(f"'submit' requires[{name!r}] must be a string, number or bool")
    if "scene" in b:
        check_scene_ref(b["scene"], "'submit' scene")


def check_scene_ref(scene: Any, what: str) -> dict[str, Any]:
    """A job's scene as content: {"sha256": 64 hex digits, "size": bytes, "name"?: a label}."""
    if not isinstance(scene, dict) or not set(scene) <= {"sha256", "size", "name"}:
        raise ProtocolError(f"{what} must be {{sha256, size, name?}}, got {_describe(scene)}")
    if not isinstance(scene.get("sha256"), str) or not _SHA256_RE.match(scene["sha256"]):
        raise ProtocolError(f"{what} sha256 must be 64 lower-case hex digits (the file's SHA-256)")
    if not _is_int(scene.get("size")) or not 0 < scene["size"] <= 1 << 40:
        raise ProtocolError(f"{what} size must be the file's size in bytes, got {scene.get('size')!r}")
    if not isinstance(scene.get("name", ""), str) or len(scene.get("name", "")) > 256:
        raise ProtocolError(f"{what} name must be a string of at most 256 characters")
    return scene


def _check_scene_bytes(b: dict[str, Any]) -> None:
    if not _SHA256_RE.match(b["sha256"]):
        raise ProtocolError("scene sha256 must be 64 lower-case hex digits (the file's SHA-256)")
    for key in ("size", "offset"):
        if key in b and not 0 <= b[key] <= 1 << 40:
            raise ProtocolError(f"scene {key} must be a byte count in [0, 2^40], got {b[key]}")


def _check_seeds(b: dict[str, Any]) -> None:
    if not b["seeds"] or not all(_is_int(s) and 0 <= s <= MAX_SEED for s in b["seeds"]):
        raise ProtocolError("'render' seeds must be a non-empty list of non-negative integers")


def _check_abort(b: dict[str, Any]) -> None:
    tasks = b["tasks"]
    if not tasks or len(tasks) > 4096 or not all(_is_int(t) and t >= 0 for t in tasks):
        raise ProtocolError("'abort' tasks must be a non-empty list of at most 4096 task ids (non-negative integers)")


def _check_capabilities(b: dict[str, Any]) -> None:
    caps = b["capabilities"]
    if len(caps) > 64:
        raise ProtocolError(f"'ready' capabilities has {len(caps)} entries; at most 64 are allowed")
    for name, value in caps.items():
        if not isinstance(value, _JSON_SCALAR):
            raise ProtocolError(f"'ready' capability {name!r} must be a string, number, bool or null")
    mb = caps.get("max_batch", 1)
    if not _is_int(mb) or not 1 <= mb <= 512:
        raise ProtocolError(f"'ready' capability 'max_batch' must be an integer in 1..512, got {mb!r}")


def _check_state(b: dict[str, Any]) -> None:
    if b["state"] not in JOB_STATES:
        raise ProtocolError(f"unknown job state {b['state']!r}; known: {', '.join(JOB_STATES)}")


def _check_error(b: dict[str, Any]) -> None:
    if b["code"] not in ERROR_CODES:
        raise ProtocolError(f"unknown error code {b['code']!r}; known: {', '.join(ERROR_CODES)}")


def _check_heartbeat_interval(b: dict[str, Any]) -> None:
    if not 0 < b["heartbeat_interval_s"] <= 3600:
        raise ProtocolError("'welcome' heartbeat_interval_s must be in (0, 3600]")


_RULES = {
    "submit": _check_submit,
    "render": _check_seeds,
    "abort": _check_abort,
    "ready": _check_capabilities,
    "progress": _check_state,
    "done": _check_state,
    "accepted": _check_state,
    "error": _check_error,
    "welcome": _check_heartbeat_interval,
    "scene_put": _check_scene_bytes,
    "scene_state": _check_scene_bytes,
    "scene_get": _check_scene_bytes,
    "scene_chunk": _check_scene_bytes,
}

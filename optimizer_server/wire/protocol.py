"""The wire protocol between optimizer server, clients and render workers (see docs/protocol.md).

A message is a ZeroMQ multipart message::

    frame 0      UTF-8 JSON header  {"v": 1, "type": "render", "job": "a1b2", "seq": 7, "re": null,
                                     "body": {...}, "arrays": [{"name": "values", "dtype": "<f8",
                                                                "shape": [4, 2]}]}
    frame 1..k   raw little-endian array bytes, one frame per entry of "arrays", in order

Images are ``<f4`` arrays of shape (H, W, C); parameter vectors are ``<f8``. Nothing is ever
pickled or evaluated: JSON is parsed with the standard library and arrays are reinterpreted
bytes whose size must match their declared shape exactly.

Every field is validated here, on both ends, so a malformed message becomes a
:class:`ProtocolError` naming the field and the fix, never a crash further in.

This module imports only numpy and the standard library (no torch, no bpy): the Blender add-on
and the render workers ship it. Keep it Python 3.10 compatible.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ProtocolError

PROTOCOL_VERSION = 1

# --- message kinds, by direction ------------------------------------------------------------
CLIENT_REQUESTS = ("submit", "pause", "resume", "cancel", "status", "scene_put")
SERVER_TO_CLIENT = ("accepted", "job_state", "progress", "done", "error", "scene_state")
WORKER_TO_SERVER = ("ready", "result", "heartbeat", "render_failed", "bye", "scene_get")
SERVER_TO_WORKER = ("welcome", "render", "error", "scene_chunk")
TO_SERVER = CLIENT_REQUESTS + WORKER_TO_SERVER
ALL_KINDS = tuple(dict.fromkeys(TO_SERVER + SERVER_TO_CLIENT + SERVER_TO_WORKER))

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

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
SCENE_CHUNK_BYTES = 4 << 20
"""Scene bytes per `scene_put` / `scene_chunk` message."""
_ARRAY_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_DTYPES = {"<f4": np.dtype("<f4"), "<f8": np.dtype("<f8"), "<i8": np.dtype("<i8"), "|u1": np.dtype("u1")}
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Limits:
    """Bounds on what a peer may send; anything larger is refused before it is interpreted."""

    max_frames: int = 1 + 1 + 512
    """Header + arrays; a result carries one image frame per sample (512 samples per batch)."""
    max_header_bytes: int = 1 << 20
    """The JSON header (parameter specs, settings, named values)."""
    max_array_bytes: int = 256 << 20
    """One array frame: 4096² RGBA float32 is exactly 256 MiB."""
    max_message_bytes: int = 1 << 30
    """All frames of one message together."""
    max_array_ndim: int = 4

    def socket_max_msg_size(self) -> int:
        """For ZMQ_MAXMSGSIZE: libzmq drops a peer that sends a single frame larger than this."""
        return max(self.max_array_bytes, self.max_header_bytes) + 1024


DEFAULT_LIMITS = Limits()


@dataclass
class Message:
    """A decoded, validated protocol message."""

    kind: str
    body: dict[str, Any] = field(default_factory=dict)
    job: str | None = None
    seq: int = 0
    re: int | None = None
    arrays: list[tuple[str, np.ndarray]] = field(default_factory=list)

    def array(self, name: str) -> np.ndarray:
        """The one array called ``name``; a ProtocolError when it is missing or repeated."""
        found = self.arrays_named(name)
        if len(found) != 1:
            raise ProtocolError(f"'{self.kind}' message needs exactly one array named {name!r}, got {len(found)}")
        return found[0]

    def arrays_named(self, name: str) -> list[np.ndarray]:
        return [a for n, a in self.arrays if n == name]


# --- encoding --------------------------------------------------------------------------------
def encode(
    kind: str,
    body: dict[str, Any] | None = None,
    *,
    job: str | None = None,
    seq: int = 0,
    re: int | None = None,
    arrays: Iterable[tuple[str, np.ndarray]] = (),
) -> list[Any]:
    """Frames of one message. Arrays are sent as little-endian contiguous buffers (no copy when
    they already are). The body is validated with the same rules the receiver applies."""
    if kind not in ALL_KINDS:
        raise ProtocolError(f"cannot send unknown message type {kind!r}; known: {', '.join(ALL_KINDS)}")
    body = {} if body is None else body
    descriptors, frames = [], []
    for name, array in arrays:
        a = np.asarray(array)
        if name in _ARRAY_DTYPE and a.dtype.str not in _ARRAY_DTYPE[name]:  # images float32, values float64
            a = np.ascontiguousarray(a, dtype=_ARRAY_DTYPE[name][0])
        elif name in _ARRAY_DTYPE:
            a = np.ascontiguousarray(a)
        elif a.dtype.kind == "f" and a.dtype.itemsize == 4:
            a = np.ascontiguousarray(a, dtype="<f4")
        elif a.dtype.kind == "f":
            a = np.ascontiguousarray(a, dtype="<f8")
        elif a.dtype.kind in "iu" and a.dtype.itemsize > 1:
            a = np.ascontiguousarray(a, dtype="<i8")
        else:
            a = np.ascontiguousarray(a, dtype="u1")
        descriptors.append({"name": name, "dtype": a.dtype.str, "shape": list(a.shape)})
        frames.append(a)
    header = {
        "v": PROTOCOL_VERSION,
        "type": kind,
        "job": job,
        "seq": seq,
        "re": re,
        "body": body,
        "arrays": descriptors,
    }
    _check_header_fields(header)
    _check_arrays_declared(kind, descriptors, DEFAULT_LIMITS)
    validate_body(kind, body)
    try:
        head = json.dumps(header, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise ProtocolError(
            f"'{kind}' body is not JSON-serialisable ({exc}); send numbers, strings, "
            "lists and dicts (NaN/inf are not allowed)"
        ) from exc
    return [head] + frames


# --- decoding --------------------------------------------------------------------------------
def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON here")


def decode(frames: Sequence[Any], *, limits: Limits = DEFAULT_LIMITS, accept: Sequence[str] = ALL_KINDS) -> Message:
    """Parse and validate the frames of one message (bytes, memoryviews or zmq.Frame objects).

    Raises :class:`ProtocolError` (with ``code``) for anything malformed, oversized, of another
    protocol version or of a kind this end does not accept. Arrays are read-only views of the
    received buffers (no copy).
    """
    if not frames:
        raise ProtocolError("empty message: expected a JSON header frame")
    if len(frames) > limits.max_frames:
        raise ProtocolError(
            f"message has {len(frames)} frames; at most {limits.max_frames} are allowed (split the batch)",
            code="too_large",
        )
    buffers = [_as_buffer(f) for f in frames]
    total = sum(len(b) for b in buffers)
    if total > limits.max_message_bytes:
        raise ProtocolError(f"message is {total:,} bytes; the limit is {limits.max_message_bytes:,}", code="too_large")
    if len(buffers[0]) > limits.max_header_bytes:
        raise ProtocolError(
            f"header is {len(buffers[0]):,} bytes; the limit is {limits.max_header_bytes:,}", code="too_large"
        )
    try:
        header = json.loads(bytes(buffers[0]).decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"header frame is not UTF-8 JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError(f"header must be a JSON object, got {type(header).__name__}")
    version = header.get("v")
    # `true == 1` and `1.0 == 1` in Python: only the JSON integer 1 is version 1.
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"protocol version {version!r} is not supported; this end speaks version "
            f"{PROTOCOL_VERSION} (update the client/worker or the server so they match)",
            code="unsupported_version",
        )
    _check_header_fields(header)
    kind = header["type"]
    if kind not in accept:
        raise ProtocolError(f"message type {kind!r} is not accepted here; expected one of: {', '.join(accept)}")
    descriptors = header["arrays"]
    if len(descriptors) != len(buffers) - 1:
        raise ProtocolError(
            f"header declares {len(descriptors)} arrays but {len(buffers) - 1} data frames "
            "followed; send one frame per entry of 'arrays'"
        )
    _check_arrays_declared(kind, descriptors, limits)
    arrays = []
    for d, buf in zip(descriptors, buffers[1:]):
        dtype = _DTYPES[d["dtype"]]
        expected = math.prod(d["shape"]) * dtype.itemsize
        if len(buf) != expected:
            raise ProtocolError(
                f"array {d['name']!r}: shape {d['shape']} of {d['dtype']} needs {expected:,} bytes, "
                f"the frame has {len(buf):,}"
            )
        a = np.frombuffer(buf, dtype=dtype).reshape(d["shape"])
        arrays.append((d["name"], a))
    validate_body(kind, header["body"])
    return Message(kind=kind, body=header["body"], job=header["job"], seq=header["seq"], re=header["re"], arrays=arrays)


def _as_buffer(frame: Any) -> memoryview:
    """A flat byte view of a frame (zmq.Frame, bytes, or a numpy array not yet sent)."""
    view = frame.buffer if hasattr(frame, "buffer") else memoryview(frame)
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    return view


def _check_header_fields(h: dict[str, Any]) -> None:
    allowed = {"v", "type", "job", "seq", "re", "body", "arrays"}
    unknown = sorted(set(h) - allowed)
    if unknown:
        raise ProtocolError(f"unknown header field(s) {unknown}; allowed: {', '.join(sorted(allowed))}")
    for key in ("type", "seq", "body", "arrays"):
        if key not in h:
            raise ProtocolError(f"header is missing {key!r}")
    if h["type"] not in ALL_KINDS:
        raise ProtocolError(f"unknown message type {h['type']!r}; known: {', '.join(ALL_KINDS)}")
    if not _is_int(h["seq"]) or not 0 <= h["seq"] <= MAX_SEED:
        raise ProtocolError(f"header 'seq' must be an integer in [0, 2^63), got {h['seq']!r}")
    if h.get("re") is not None and (not _is_int(h["re"]) or not 0 <= h["re"] <= MAX_SEED):
        raise ProtocolError(f"header 're' must be null or the 'seq' of the request answered, got {h['re']!r}")
    job = h.get("job")
    if job is not None:
        check_job_id(job, "header 'job'")
    if not isinstance(h["body"], dict):
        raise ProtocolError(f"header 'body' must be a JSON object, got {type(h['body']).__name__}")
    if not isinstance(h["arrays"], list):
        raise ProtocolError("header 'arrays' must be a list of {name, dtype, shape}")
    h.setdefault("job", None)
    h.setdefault("re", None)


def check_job_id(job: Any, what: str = "job id") -> str:
    """Job ids become directory names, so they are restricted to a safe alphabet."""
    if not isinstance(job, str) or not _ID_RE.match(job):
        raise ProtocolError(
            f"{what} must be 1-64 characters of letters, digits, '_', '-', '.', "
            f"starting with a letter or digit; got {job!r}"
        )
    return job


def _check_arrays_declared(kind: str, descriptors: list[Any], limits: Limits) -> None:
    allowed_arrays = _ARRAYS.get(kind, ())
    for i, d in enumerate(descriptors):
        if not isinstance(d, dict) or set(d) != {"name", "dtype", "shape"}:
            raise ProtocolError(f"arrays[{i}] must be an object with exactly name, dtype, shape; got {d!r}"[:300])
        name, dtype, shape = d["name"], d["dtype"], d["shape"]
        if not isinstance(name, str) or not _ARRAY_NAME_RE.match(name):
            raise ProtocolError(f"arrays[{i}].name {name!r} must be lower-case letters, digits and '_'")
        if name not in allowed_arrays:
            raise ProtocolError(
                f"'{kind}' messages carry no array named {name!r}; allowed: {', '.join(allowed_arrays) or 'none'}"
            )
        if dtype not in _DTYPES:
            raise ProtocolError(
                f"arrays[{i}] ({name}): dtype {dtype!r} is not one of {', '.join(_DTYPES)} "
                "(images are little-endian float32, '<f4')"
            )
        if name in _ARRAY_DTYPE and dtype not in _ARRAY_DTYPE[name]:
            wanted = " or ".join(repr(d) for d in _ARRAY_DTYPE[name])
            raise ProtocolError(f"array {name!r} must have dtype {wanted}, got {dtype!r}")
        if (
            not isinstance(shape, list)
            or not 1 <= len(shape) <= limits.max_array_ndim
            or not all(_is_int(s) and 0 <= s <= 1 << 31 for s in shape)
        ):
            raise ProtocolError(
                f"arrays[{i}] ({name}): shape must be a list of 1-{limits.max_array_ndim} "
                f"non-negative integers, got {shape!r}"[:300]
            )
        nbytes = math.prod(shape) * _DTYPES[dtype].itemsize
        if nbytes > limits.max_array_bytes:
            raise ProtocolError(
                f"array {name!r} of shape {shape} is {nbytes:,} bytes; the limit per array is "
                f"{limits.max_array_bytes:,} (render smaller images)",
                code="too_large",
            )
        if name in ("image", "target", "mask") and len(shape) != 3:
            raise ProtocolError(f"array {name!r} must be an image of shape [H, W, C], got {shape}")
        if name == "values" and len(shape) != 2:
            raise ProtocolError(f"array 'values' must have shape [batch, parameters], got {shape}")
        if name in _VECTORS and len(shape) != 1:
            raise ProtocolError(f"array {name!r} must be one parameter vector of shape [n], got {shape}")
        if name == "chunk" and (len(shape) != 1 or dtype != "|u1" or shape[0] > SCENE_CHUNK_BYTES):
            raise ProtocolError(f"array 'chunk' must be at most {SCENE_CHUNK_BYTES:,} bytes (|u1, 1-D), got {shape}")


# Which arrays each message kind may carry. "start", "target_values", "current" and "best" are whole
# parameter vectors, sent when a space holds blocks too big to spell out in JSON (``layout.brief``).
_ARRAYS = {
    "submit": ("target", "mask", "start", "target_values"),
    "render": ("values",),
    "result": ("image",),
    "scene_put": ("chunk",),
    "scene_chunk": ("chunk",),
    "progress": ("current",),
    "done": ("current", "best"),
}
_VECTORS = ("start", "target_values", "current", "best")
# The first dtype is the default. Parameter values may travel as float32 when there are many of them:
# every value a Blender scene holds (pixels, coordinates, float properties) is a float32 anyway.
_ARRAY_DTYPE = {
    "values": ("<f8", "<f4"),
    "image": ("<f4",),
    "target": ("<f4",),
    "mask": ("<f4",),
    "start": ("<f8",),
    "target_values": ("<f8",),
    "current": ("<f4", "<f8"),
    "best": ("<f4", "<f8"),
}


# --- body validation ---------------------------------------------------------------------------
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

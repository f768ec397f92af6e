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

from .bodies import (  # the job states, error codes and seed range are part of the protocol's names too
    ERROR_CODES,  # noqa: F401
    FINAL_JOB_STATES,  # noqa: F401
    JOB_STATES,  # noqa: F401
    MAX_SEED,
    _is_int,
    validate_body,
)
from .errors import ProtocolError

PROTOCOL_VERSION = 1

# --- message kinds, by direction ------------------------------------------------------------
CLIENT_REQUESTS = ("submit", "pause", "resume", "cancel", "status", "scene_put")
SERVER_TO_CLIENT = ("accepted", "job_state", "progress", "done", "error", "scene_state")
WORKER_TO_SERVER = ("ready", "result", "heartbeat", "render_failed", "bye", "scene_get")
SERVER_TO_WORKER = ("welcome", "render", "error", "scene_chunk", "abort")
TO_SERVER = CLIENT_REQUESTS + WORKER_TO_SERVER
ALL_KINDS = tuple(dict.fromkeys(TO_SERVER + SERVER_TO_CLIENT + SERVER_TO_WORKER))


_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SCENE_CHUNK_BYTES = 4 << 20
"""Scene bytes per `scene_put` / `scene_chunk` message."""
_ARRAY_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_DTYPES = {"<f4": np.dtype("<f4"), "<f8": np.dtype("<f8"), "<i8": np.dtype("<i8"), "|u1": np.dtype("u1")}


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

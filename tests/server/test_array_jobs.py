"""A job whose parameters are a big array block (an image's texels): the start travels as a vector
frame, samples go to the workers as float32, progress and results name the block briefly and carry its
values as a frame, which the client puts back; the checkpoint holds the whole vector."""

from __future__ import annotations

import os

import numpy as np

from optimizer_server.state_io import load_state
from optimizer_server.wire import layout
from optimizer_server.wire.client import OptimizerClient
from optimizer_server.wire.space import ParamSpec, Space

SIDE = 48  # 48×48×3 = 6,912 values: above the float32 threshold and far above what JSON spells out
SPACE = Space([ParamSpec("albedo", 0.0, 1.0, shape=(SIDE, SIDE, 3)), ParamSpec("gain", 0.5, 2.0)])


def _render(values, settings, seeds):
    """The texels seen through a 3×3 box blur, times a gain: a linear 'renderer' of an image block."""
    texels = values[:, : SIDE * SIDE * 3].reshape(-1, SIDE, SIDE, 3) * values[:, -1, None, None, None]
    padded = np.pad(texels, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    blurred = sum(padded[:, i : i + SIDE, j : j + SIDE] for i in range(3) for j in range(3)) / 9.0
    _render.dtypes.add(values.dtype)
    _render.seen.append(values.copy())
    return blurred.astype(np.float32)


_render.dtypes, _render.seen = set(), []


def test_a_big_image_block_travels_as_frames_and_comes_back_whole(start_server, start_workers):
    server = start_server()
    start_workers(server.endpoint, 1, render=_render)
    rng = np.random.default_rng(0)
    truth = {"albedo": rng.uniform(0.2, 0.8, (SIDE, SIDE, 3)), "gain": 1.0}
    target = _render(SPACE.values_from_named(truth)[None], {}, [0])[0]
    _render.seen.clear()
    start = {"albedo": np.full((SIDE, SIDE, 3), 0.5) + rng.uniform(-0.01, 0.01, (SIDE, SIDE, 3)), "gain": 1.25}
    with OptimizerClient(server.endpoint) as client:
        job = client.submit(
            SPACE, "gauss_newton", budget=60, target_image=target, start=start, requires={"renderer": "disc"}
        )
        progress = list(job.progress(timeout_s=120))
    result = job.result
    assert result["state"] == "finished", result["message"]

    first_render = _render.seen[0][0]  # the worker got the start exactly (to float32: what a scene holds)
    np.testing.assert_array_equal(first_render, SPACE.values_from_named(start).astype(np.float32))
    assert _render.dtypes == {np.dtype(np.float64)}  # the worker loop hands renderers float64, as documented

    for body in progress + [result]:
        albedo = body["current"]["albedo"]
        assert isinstance(albedo, np.ndarray) and albedo.shape == (SIDE, SIDE, 3), "the client put the block back"
        assert body["current"]["gain"] == float(body["current"]["gain"])
    assert isinstance(result["best"]["albedo"], np.ndarray)

    checkpoint = load_state(os.path.join(job.job_dir, "state.npz"))
    theta = SPACE.from_unit(checkpoint["method"]["algorithm"]["theta"])
    np.testing.assert_array_equal(result["current"]["albedo"], theta[:-1].astype(np.float32).reshape(SIDE, SIDE, 3))
    summary = client_summary(server.endpoint, job.id)
    assert layout.is_brief(summary["current"]["albedo"]) and summary["current"]["albedo"]["shape"] == [SIDE, SIDE, 3]


def client_summary(endpoint: str, job_id: str) -> dict:
    """A job summary (status) names a big block briefly: no frame comes with it."""
    with OptimizerClient(endpoint) as client:
        return client.status(job_id)["jobs"][0]


def test_big_target_values_go_to_the_worker_as_a_frame(start_server, start_workers):
    server = start_server()
    start_workers(server.endpoint, 1, render=_render)
    rng = np.random.default_rng(1)
    truth = {"albedo": rng.uniform(0.2, 0.8, (SIDE, SIDE, 3)).astype(np.float32).astype(np.float64), "gain": 1.5}
    _render.seen.clear()
    with OptimizerClient(server.endpoint) as client:
        result = client.submit(
            SPACE,
            "gauss_newton",
            budget=20,
            target_values=truth,
            start={"albedo": np.full((SIDE, SIDE, 3), 0.5), "gain": 1.0},
            requires={"renderer": "disc"},
        ).wait(timeout_s=120)
    assert result["state"] == "finished", result["message"]
    target_render = _render.seen[0][0]  # the server renders the target (twice) before anything else
    np.testing.assert_array_equal(target_render, SPACE.values_from_named(truth))

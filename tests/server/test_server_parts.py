"""The server's parts on their own: the image loss, chunk planning, the checkpoint writer."""

from __future__ import annotations

import os

import numpy as np
import pytest

from optimizer_server.server.roster import WorkerRoster
from optimizer_server.server.store import CheckpointWriter
from optimizer_server.wire.errors import ConfigError
from optimizer_server.wire.imageloss import ImageLoss


def test_image_loss_is_the_mean_squared_error_with_or_without_a_mask():
    rng = np.random.default_rng(0)
    target = rng.random((6, 5, 3), dtype=np.float32)
    images = [rng.random((6, 5, 3), dtype=np.float32) for _ in range(3)]
    loss = ImageLoss(target)
    np.testing.assert_allclose(loss(images), [((i - target) ** 2).mean() for i in images], rtol=1e-6)

    mask = np.zeros((6, 5, 1), np.float32)
    mask[:2] = 1.0
    masked = ImageLoss(target, mask)
    np.testing.assert_allclose(masked(images), [((i - target)[:2] ** 2).mean() for i in images], rtol=1e-6)

    # the residual vectors (for methods that use the pixels) are the weighted differences
    for image_loss in (loss, masked):
        residuals = image_loss.residuals(images)
        assert residuals.shape == (3, 6 * 5 * 3) and residuals.dtype == np.float64
        np.testing.assert_allclose((residuals.astype(np.float64) ** 2).sum(1), image_loss(images), rtol=1e-5)
    assert not masked.residuals(images)[:, 2 * 5 * 3 :].any()  # masked-out pixels carry nothing


def test_a_sample_loss_does_not_depend_on_its_batch():
    """Bit-identical whichever worker chunk an image arrived in (needed for exact resumes)."""
    rng = np.random.default_rng(1)
    target = rng.random((32, 32, 4), dtype=np.float32)
    images = [rng.random((32, 32, 4), dtype=np.float32) for _ in range(5)]
    loss = ImageLoss(target)
    together = loss(images)
    alone = np.concatenate([loss([img]) for img in images])
    assert together.tobytes() == alone.tobytes()


@pytest.mark.parametrize(
    "mask, needle",
    [
        (np.ones((4, 4, 1), np.float32), "must have shape (6, 5, 1)"),
        (np.zeros((6, 5, 1), np.float32), "not all zero"),
        (np.full((6, 5, 1), -1, np.float32), "non-negative"),
    ],
)
def test_bad_masks_are_refused(mask, needle):
    with pytest.raises(ConfigError) as info:
        ImageLoss(np.zeros((6, 5, 3), np.float32), mask)
    assert needle in str(info.value)


class FakeJob:
    """Just what the planner reads from a job."""

    def __init__(self, pending, requires=None):
        self.id = "fake-job"
        self.batch = type("Batch", (), {"unassigned": list(range(pending))})()
        self.config = type("Config", (), {"requires": requires or {}, "scene": None})()

    def has_work(self):
        return bool(self.batch.unassigned)

    def take(self, count):
        taken, self.batch.unassigned = self.batch.unassigned[:count], self.batch.unassigned[count:]
        return taken


def plan_chunks(pool, jobs, cap=64):
    out = []
    for worker, job, count in pool.plan(jobs, lambda job: cap):
        taken = job.take(count)
        pool.add_task(job, job.batch, taken, worker, now=0.0, timeout_s=1.0)
        out.append(len(taken))
    return out


@pytest.mark.parametrize(
    "samples, workers, chunks", [(8, 4, [2, 2, 2, 2]), (8, 1, [8]), (6, 4, [2, 2, 1, 1]), (3, 4, [1, 1, 1])]
)
def test_an_iteration_is_spread_evenly_over_the_workers(samples, workers, chunks):
    pool = WorkerRoster(heartbeat_timeout_s=1.0)
    for i in range(workers):
        pool.register(f"w{i}".encode(), {"max_batch": 64}, now=0.0)
    assert plan_chunks(pool, [FakeJob(samples)]) == chunks


def test_chunks_respect_max_batch_message_size_and_capabilities():
    pool = WorkerRoster(heartbeat_timeout_s=1.0)
    pool.register(b"small", {"max_batch": 2, "renderer": "disc"}, now=0.0)
    pool.register(b"other", {"max_batch": 64, "renderer": "cycles"}, now=0.0)
    job = FakeJob(10, requires={"renderer": "disc"})
    assert plan_chunks(pool, [job]) == [2]  # only the disc worker, at most 2 at a time
    pool2 = WorkerRoster(heartbeat_timeout_s=1.0)
    pool2.register(b"big", {"max_batch": 64}, now=0.0)
    assert plan_chunks(pool2, [FakeJob(10)], cap=3) == [3]


def test_late_and_foreign_answers_find_no_task():
    pool = WorkerRoster(heartbeat_timeout_s=1.0)
    a, _ = pool.register(b"a", {}, now=0.0)
    b, _ = pool.register(b"b", {}, now=0.0)
    job = FakeJob(2)
    task = pool.add_task(job, job.batch, [0, 1], a, now=0.0, timeout_s=1.0)
    assert pool.answered(task.id, b) is None  # not b's task
    assert pool.overdue(now=5.0) == [task]  # reassigned...
    assert pool.answered(task.id, a) is None  # ...so a's late answer is ignored
    assert a.idle  # and a is free again


def test_checkpoint_writer_keeps_only_the_newest_bytes_and_flushes(tmp_path):
    writer = CheckpointWriter()
    path = str(tmp_path / "state.npz")
    for i in range(50):
        writer.submit(path, f"version {i}".encode())
    writer.flush()
    assert open(path, "rb").read() == b"version 49"
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")] == []
    writer.close()


def test_a_worker_finishing_an_ended_jobs_render_shares_the_next_job_until_its_deadline():
    """A job ends while both workers render it: they are told to abort and will be free within one
    render, so the first to answer must not take the whole next iteration. Past the old task's
    deadline the other counts as stuck, and the next iteration goes to the one that is free."""
    pool = WorkerRoster(heartbeat_timeout_s=1.0)
    a, _ = pool.register(b"a", {"max_batch": 64}, now=0.0)
    b, _ = pool.register(b"b", {"max_batch": 64}, now=0.0)
    ended = FakeJob(8)
    assert plan_chunks(pool, [ended]) == [4, 4]
    told = pool.drop_job(ended)
    assert sorted(told) == [b"a", b"b"] and all(len(ids) == 1 for ids in told.values())
    assert pool.answered(told[b"a"][0], a) is None  # a stopped; its answer finds no task
    assert plan_chunks(pool, [FakeJob(8)]) == [4]  # b is about to be free: a takes its half only
    pool.answered(next(iter(a.inflight)), a)  # a finished its half of the next job
    assert pool.healthy(b)
    pool.overdue(now=5.0)  # b's aborted task is past its deadline and b has not answered
    assert not pool.healthy(b)
    assert plan_chunks(pool, [FakeJob(8)]) == [8]  # b is stuck now

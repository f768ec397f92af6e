"""Optimizer-server benchmark: wire overhead per render and scheduling efficiency with k workers.

    .venv/bin/python -m benchmarks.bench_server            (or: make bench-server)
    .venv/bin/python -m benchmarks.bench_server --quick    (fewer repetitions)

1. Round trip per render, 64² and 256² RGBA float32, loopback TCP: this script plays the server
   (a ROUTER socket) against a real analytic worker process that returns a ready-made image
   (``--constant``), one render per message. Overhead = round trip - the worker's render time.
   Then the same inside a real job (server: loss on the torch device, ask/tell, checkpoints).
2. Throughput of a real job with 1, 2 and 4 worker processes whose "render" sleeps a fixed time,
   so the figure shows scheduling efficiency, not this machine's CPU. Goal: ≥ 0.9·k × one worker.

Workers are separate processes; the server runs in this process (one thread), as in production.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import torch
import zmq

from optimizer_server.server import OptimizerServer, ServerConfig
from optimizer_server.wire import protocol
from optimizer_server.wire.client import OptimizerClient
from optimizer_server.wire.space import ParamSpec, Space

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SPACE = Space([ParamSpec("cx", 0.0, 1.0), ParamSpec("cy", 0.0, 1.0)])


def spawn_workers(endpoint: str, count: int, *extra: str):
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "optimizer_server.problems.disc_worker",
                "--connect",
                endpoint,
                "--name",
                f"bench-{i}",
                *extra,
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(count)
    ]


def stop(procs):
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()


# --- 1a: the wire alone -----------------------------------------------------------------------------
def wire_round_trip(size: int, renders: int):
    """Median round trip and overhead (ms) of one render message and its RGBA result."""
    ctx = zmq.Context.instance()
    router = ctx.socket(zmq.ROUTER)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    workers = spawn_workers(f"tcp://127.0.0.1:{port}", 1, "--constant", "--max-batch", "1")
    try:
        identity, *frames = router.recv_multipart(copy=False)
        assert protocol.decode(frames).kind == "ready"
        setup = {"settings": {"size": size, "channels": 4}, "params": SPACE.to_dict()["params"]}
        values = np.array([[0.5, 0.5]])
        trips, overheads = [], []
        for task in range(renders + 5):
            body = {"task": task, "seeds": [0]}
            if task == 0:
                body["setup"] = setup
            t0 = time.perf_counter()
            router.send_multipart(
                [identity.bytes] + protocol.encode("render", body, job="bench", seq=task, arrays=[("values", values)]),
                copy=False,
            )
            while True:
                _, *frames = router.recv_multipart(copy=False)
                msg = protocol.decode(frames)
                if msg.kind == "result":
                    break
            trip = time.perf_counter() - t0
            image = msg.array("image")
            assert image.shape == (size, size, 4)
            if task >= 5:  # warm-up: the first renders build the image
                trips.append(trip)
                overheads.append(trip - msg.body["render_s"])
        return 1e3 * statistics.median(trips), 1e3 * statistics.median(overheads)
    finally:
        stop(workers)
        router.close(linger=0)


# --- helpers for real jobs ---------------------------------------------------------------------------
class Server:
    def __init__(self, jobs_dir: str):
        self.server = OptimizerServer(ServerConfig(bind="tcp://127.0.0.1:*", jobs_dir=jobs_dir))
        self.endpoint = self.server.start()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for_workers(self, count: int):
        deadline = time.monotonic() + 60
        while len(self.server.roster.workers) < count:
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not register")
            time.sleep(0.05)

    def close(self):
        self.server.stop()
        self.thread.join()


def run_job(endpoint: str, size: int, samples: int, budget: int):
    """Run a PRDPT job; return (wall seconds after the first iteration, renders since, progress list)."""
    with OptimizerClient(endpoint, timeout_s=60) as client:
        job = client.submit(
            SPACE,
            "prdpt",
            budget=budget,
            options={"samples": samples},
            target_values={"cx": 0.7, "cy": 0.3},
            start={"cx": 0.45, "cy": 0.45},
            settings={"size": size, "channels": 4},
            seed=1,
        )
        progress = []
        t_first = None
        for p in job.progress(timeout_s=600):
            if t_first is None:  # start the clock after the first iteration (workers warm)
                t_first, first_evals = time.perf_counter(), p["evaluations"]
            progress.append(p)
        wall = time.perf_counter() - t_first
    return wall, progress[-1]["evaluations"] - first_evals, progress


# --- 1b: overhead inside a real job -----------------------------------------------------------------
def job_overhead(size: int, renders: int, samples: int = 16):
    with tempfile.TemporaryDirectory() as jobs_dir:
        server = Server(jobs_dir)
        workers = spawn_workers(server.endpoint, 1, "--constant", "--max-batch", "1")
        try:
            server.wait_for_workers(1)
            wall, count, progress = run_job(server.endpoint, size, samples, renders + samples)
        finally:
            stop(workers)
            server.close()
    rest = progress[1:]
    render_s = sum(p["timings"]["render_s"] for p in rest)
    per_render = lambda key: sum(p["timings"][key] for p in rest) / count  # noqa: E731
    return {
        "overhead_ms": 1e3 * (wall - render_s) / count,
        "loss_ms": per_render("loss_ms"),
        "optimizer_ms": per_render("optimizer_ms"),
        "persist_ms": per_render("persist_ms"),
    }


# --- 2: scheduling with k workers -------------------------------------------------------------------------
def throughput(k: int, render_ms: float, samples: int, iterations: int, size: int = 64):
    with tempfile.TemporaryDirectory() as jobs_dir:
        server = Server(jobs_dir)
        workers = spawn_workers(server.endpoint, k, "--constant", "--sleep-ms", str(render_ms))
        try:
            server.wait_for_workers(k)
            wall, count, _ = run_job(server.endpoint, size, samples, samples * (iterations + 1))
        finally:
            stop(workers)
            server.close()
    return count / wall


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (noisier)")
    parser.add_argument(
        "--render-ms",
        type=float,
        nargs="+",
        default=[20.0, 50.0],
        help="fixed render times for the throughput runs (default: 20 50)",
    )
    parser.add_argument("--samples", type=int, default=8, help="renders per iteration in the throughput runs")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as `serve` does by default (--torch-threads 1)
    reps = 60 if args.quick else 200
    iterations = 8 if args.quick else 20
    print(
        f"# {' '.join([os.path.relpath(sys.executable, REPO), 'benchmarks/bench_server.py'] + (argv or sys.argv[1:]))}"
    )
    print(f"# {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, loopback TCP, RGBA float32 images\n")

    print(f"1. Round-trip overhead per render (one render per message, worker returns a ready image; median of {reps})")
    print(
        f"{'image':>8} {'MiB':>6} {'wire round trip ms':>19} {'wire overhead ms':>17} "
        f"{'in-job overhead ms':>19} {'(loss':>7} {'optimizer':>9} {'persist)':>9}"
    )
    for size in (64, 256):
        trip, overhead = wire_round_trip(size, reps)
        job = job_overhead(size, reps)
        print(
            f"{size:>6}² {size * size * 16 / 2**20:>6.2f} {trip:>19.3f} {overhead:>17.3f} {job['overhead_ms']:>19.3f} "
            f"{job['loss_ms']:>7.3f} {job['optimizer_ms']:>9.3f} {job['persist_ms']:>9.3f}"
        )
    print("   wire: render message out + result back through the real worker loop (goal < 1 ms at 256²)")
    print("   in-job: (job wall time - worker render time) / renders in a PRDPT job, 16 renders per iteration,")
    print("   one worker; includes the loss on the server's device, ask/tell and checkpoint snapshots\n")

    print(
        f"2. Throughput of a PRDPT job, {args.samples} renders per iteration, 64² RGBA, {iterations} iterations; "
        "each render sleeps a fixed time"
    )
    print(f"{'render ms':>10} {'workers':>8} {'renders/s':>10} {'ideal':>8} {'efficiency':>11}")
    for render_ms in args.render_ms:
        base = None
        for k in (1, 2, 4):
            rate = throughput(k, render_ms, args.samples, iterations)
            base = base or rate
            print(f"{render_ms:>10g} {k:>8} {rate:>10.1f} {k * base:>8.1f} {rate / (k * base):>11.2f}")
    print("   efficiency = renders/s with k workers / (k × renders/s with 1 worker); goal ≥ 0.90")
    return 0


if __name__ == "__main__":
    sys.exit(main())

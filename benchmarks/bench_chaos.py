"""Chaos run: jobs on a supervised server while workers, the server and its gateway are killed and a
peer fuzzes it; every job must end with exactly the x of an undisturbed run, and none may be lost.

    python -m benchmarks.bench_chaos [--minutes 10] [--workers 3] [--seed 0]     (make bench-chaos)

Everything runs on loopback with the default security (local keys): a `serve --supervise` process,
analytic disc workers as processes (deterministic renders), two clients submitting jobs one after
the other, and a chaos loop that every few seconds does one of: SIGKILL a worker (a new one starts),
SIGSTOP a worker past the heartbeat timeout (then SIGCONT), SIGKILL the server (the supervisor
resumes its jobs), SIGABRT the gateway (what the libzmq assertion does; the server starts a new one),
or the routing-id attack of docs/security.md. A fuzzing peer sends malformed and random messages
all along. Prints a table of what was thrown at the server and how the jobs ended.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import zmq

from optimizer_server.wire import protocol
from optimizer_server.wire.client import OptimizerClient
from optimizer_server.wire.errors import RequestRejectedError, ServerUnavailableError
from optimizer_server.wire.space import ParamSpec, Space
from optimizer_server.wire.transport import keys_for

SPACE = Space([ParamSpec("cx", 0.0, 1.0), ParamSpec("cy", 0.0, 1.0)])
# (method, options, budget): each job of the run is one of these, with its own seed. `fill_workers` off: the
# chaos run's pool changes size all the time, and the comparison needs batches that do not follow it
CONFIGS = [
    ("prdpt", {"samples": 2, "sigma": 0.2, "lr": 0.02, "fill_workers": False}, 400),
    ("cmaes", {"fill_workers": False}, 300),
]
HEARTBEAT = ["--heartbeat-interval", "0.1", "--heartbeat-timeout", "1.5"]


def job_kwargs(index: int) -> dict:
    method, options, budget = CONFIGS[index % len(CONFIGS)]
    rng = np.random.default_rng(index)
    target = {"cx": float(rng.uniform(0.3, 0.7)), "cy": float(rng.uniform(0.3, 0.7))}
    return dict(
        space=SPACE,
        method=method,
        options=options,
        budget=budget,
        seed=index,
        target_values=target,
        start={"cx": 0.5, "cy": 0.5},
        settings={"size": 24},
        requires={"renderer": "disc"},
    )


class Processes:
    """The supervised server and the workers, with their output collected."""

    def __init__(self, jobs_dir: str, workers: int, sleep_ms: int):
        self.lines: list[str] = []
        self.supervisor = self._start(
            ["-m", "optimizer_server", "serve", "--supervise", "--bind", "tcp://127.0.0.1:*", "--jobs-dir", jobs_dir,
             "--device", "cpu", *HEARTBEAT]
        )  # fmt: skip
        self.endpoint = self._wait_for("ZEROGRADS_SERVER_READY").split()[1]
        self.sleep_ms = sleep_ms
        self.workers = [self.start_worker(i) for i in range(workers)]

    def _start(self, args: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
        threading.Thread(target=self._collect, args=(proc,), daemon=True).start()
        return proc

    def _collect(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _wait_for(self, prefix: str, count: int = 1, timeout_s: float = 120.0) -> str:
        """The ``count``-th line starting with ``prefix``, once it is there."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [line for line in list(self.lines) if line.startswith(prefix)]
            if len(found) >= count:
                return found[count - 1]
            time.sleep(0.05)
        raise RuntimeError(f"no {prefix!r} line #{count}:\n" + "\n".join(self.lines[-30:]))

    def count(self, prefix: str) -> int:
        return sum(line.startswith(prefix) for line in list(self.lines))

    def start_worker(self, i: int) -> subprocess.Popen:
        args = ["-m", "optimizer_server.problems.disc_worker", "--connect", self.endpoint, "--name", f"chaos-{i}"]
        return self._start(args + ["--sleep-ms", str(self.sleep_ms), "--heartbeat", "0.1"])

    def server_pid(self) -> int:
        return int([line for line in self.lines if line.startswith("ZEROGRADS_SERVER_PID")][-1].split()[1])

    def gateway_pid(self) -> int | None:
        found = [int(m.group(1)) for line in self.lines if (m := re.search(r"gateway process (\d+) serves", line))]
        return found[-1] if found else None

    def stop(self) -> None:
        for proc in self.workers + [self.supervisor]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
        for proc in self.workers + [self.supervisor]:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def run_jobs(endpoint: str, first: int, step: int, until: float, results: dict, lock: threading.Lock) -> None:
    """Submit jobs one after the other until ``until``; record how each one ended."""
    index = first
    with OptimizerClient(endpoint, timeout_s=90) as client:
        while time.monotonic() < until:
            job_id = f"chaos-{index:04d}"
            result = follow(client, job_id, job_kwargs(index))
            with lock:
                results[job_id] = result
            index += step


def follow(client: OptimizerClient, job_id: str, kwargs: dict) -> dict:
    """Submit (again, should the server have died before answering) and wait for the end."""
    last = None
    for _ in range(20):
        try:
            try:
                client.submit(**kwargs, job_id=job_id)
            except RequestRejectedError as exc:
                if "exists already" not in str(exc):
                    raise
            for msg in client.events(job_id, timeout_s=600):
                if msg.kind == "done":
                    return msg.body
        except (ServerUnavailableError, RequestRejectedError) as exc:
            time.sleep(1.0)  # the server is restarting: ask again
            last = exc
    return {"state": "lost", "message": str(last)}


def reference_results(job_ids: list[str], workdir: str) -> dict[str, dict]:
    """The same jobs on an undisturbed supervised server."""
    procs = Processes(os.path.join(workdir, "reference"), workers=2, sleep_ms=0)
    results = {}
    try:
        with OptimizerClient(procs.endpoint, timeout_s=60) as client:
            for job_id in job_ids:
                results[job_id] = follow(client, job_id, job_kwargs(int(job_id.split("-")[1])))
    finally:
        procs.stop()
    return results


class Fuzzer(threading.Thread):
    """An authenticated peer sending malformed, random and hostile messages the whole time."""

    def __init__(self, endpoint: str, rng: random.Random):
        super().__init__(daemon=True)
        self.endpoint, self.rng = endpoint, rng
        self.sent = self.answered = 0
        self.stop_event = threading.Event()

    def run(self) -> None:
        ctx = zmq.Context.instance()
        keys = keys_for(self.endpoint, None)
        while not self.stop_event.is_set():
            sock = ctx.socket(zmq.DEALER)
            sock.linger = 0
            sock.sndtimeo = 500
            keys.apply(sock)
            sock.connect(self.endpoint)
            for _ in range(50):
                try:
                    sock.send_multipart(self._message(), zmq.NOBLOCK)
                    self.sent += 1
                except zmq.ZMQError:
                    pass
                while sock.poll(0):
                    sock.recv_multipart()
                    self.answered += 1
                time.sleep(0.02)
            sock.close()

    def _message(self) -> list[bytes]:
        r = self.rng
        choice = r.randrange(6)
        if choice == 0:
            return [r.randbytes(r.randrange(0, 200))]
        kinds = list(protocol.ALL_KINDS) + ["format_disk"]
        header = {"v": r.choice([1, 1, True, 1.0, 2]), "type": r.choice(kinds), "job": r.choice([None, "../x"]),
                  "seq": r.randrange(0, 1 << 62), "re": None, "body": {}, "arrays": []}  # fmt: skip
        if choice == 1:
            header["body"] = {"space": {"params": [{"name": "x", "lo": -1e308, "hi": 1e308}]}, "method": "prdpt",
                              "budget": 10, "target": {"kind": "values", "values": {"x": 0}},
                              "options": {"samples": 10**7}}  # fmt: skip
            header["type"], header["v"] = "submit", 1
        elif choice == 2:  # it holds the clients' local key: it may look at their jobs, not steer them
            header["type"], header["v"] = r.choice(["cancel", "pause", "status", "status"]), 1
            header["job"] = f"chaos-{r.randrange(0, 50):04d}" if header["type"] == "status" else "not-a-job"
        elif choice == 3:
            header["arrays"] = [{"name": "image", "dtype": "<f4", "shape": [4, 4, 4]}]
            header["type"], header["body"] = "result", {"task": r.randrange(1, 10**6), "render_s": 0.0}
            return [json.dumps(header).encode(), r.randbytes(r.choice([256, 10]))]
        elif choice == 4:
            header["type"], header["v"], header["body"] = "ready", 1, {"capabilities": {"renderer": "nothing"}}
        return [json.dumps(header).encode()]


def unseeded_routing_ids(per_socket: int = 8) -> list[bytes]:
    """The ids the first ROUTER-like sockets of a process hand out when libc's rand() is unseeded
    (libzmq's generate_random() is rand() | rand() << 31; see docs/security.md)."""
    code = (  # in a child process, so that this process's own rand() stays untouched
        "import ctypes, ctypes.util; libc = ctypes.CDLL(ctypes.util.find_library('c')); libc.srand(1)\n"
        "for _ in range(6): low, high = libc.rand(), libc.rand(); print((low | (high << 31)) & 0xFFFFFFFF)"
    )
    starts = [
        int(v) for v in subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split()
    ]
    return [b"\x00" + struct.pack(">I", (start + k) & 0xFFFFFFFF) for start in starts for k in range(per_socket)]


def routing_id_attack(endpoint: str, claims: list[bytes]) -> None:
    """Claim the ids an unseeded ROUTER hands out next, then connect a plain peer (docs/security.md)."""
    ctx = zmq.Context.instance()
    keys = keys_for(endpoint, None)
    socks = []
    for routing_id in claims:
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        keys.apply(sock)
        sock.setsockopt(zmq.ROUTING_ID, routing_id)
        sock.sndtimeo = 500
        sock.connect(endpoint)
        try:
            sock.send_multipart(protocol.encode("status", {}, seq=1))
        except zmq.Again:
            pass
        socks.append(sock)
    plain = ctx.socket(zmq.DEALER)
    plain.linger = 0
    keys.apply(plain)
    plain.connect(endpoint)
    time.sleep(1.0)
    for sock in socks + [plain]:
        sock.close()


def chaos_loop(procs: Processes, until: float, rng: random.Random, counts: dict) -> None:
    actions = ["kill_worker", "stop_worker", "kill_server", "kill_gateway", "routing_id_attack"]
    claims = unseeded_routing_ids()
    while time.monotonic() < until:
        time.sleep(rng.uniform(3.0, 8.0))
        action = rng.choice(actions)
        counts[action] = counts.get(action, 0) + 1
        if action == "kill_worker":
            i = rng.randrange(len(procs.workers))
            procs.workers[i].kill()
            procs.workers[i].wait()
            procs.workers[i] = procs.start_worker(100 + sum(counts.values()))
        elif action == "stop_worker":
            victim = rng.choice(procs.workers)
            victim.send_signal(signal.SIGSTOP)
            time.sleep(rng.uniform(2.0, 4.0))  # past the 1.5 s heartbeat timeout: declared dead
            victim.send_signal(signal.SIGCONT)
        elif action == "kill_server":
            back = procs.count("supervisor: the server is back")
            os.kill(procs.server_pid(), signal.SIGKILL)
            procs._wait_for("supervisor: the server is back", count=back + 1)
        elif action == "kill_gateway":
            pid = procs.gateway_pid()
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGABRT)
                except ProcessLookupError:
                    pass
        else:
            routing_id_attack(procs.endpoint, claims)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the chaos phase (default %(default)s)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out/bench-chaos", help="folder for summary.json and the server log")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="zerograds-chaos-")
    rng = random.Random(args.seed)
    started = time.monotonic()
    procs = Processes(os.path.join(workdir, "jobs"), args.workers, sleep_ms=40)
    fuzzer = Fuzzer(procs.endpoint, random.Random(args.seed + 1))
    fuzzer.start()
    until = started + 60 * args.minutes
    results, lock, counts = {}, threading.Lock(), {}
    clients = [
        threading.Thread(target=run_jobs, args=(procs.endpoint, i, 2, until, results, lock), daemon=True)
        for i in range(2)
    ]
    for thread in clients:
        thread.start()
    try:
        chaos_loop(procs, until, rng, counts)
        for thread in clients:
            thread.join()
    finally:
        fuzzer.stop_event.set()
        procs.stop()
        with open(os.path.join(args.out, "server.log"), "w") as f:
            f.write("\n".join(procs.lines) + "\n")
    chaos_s = time.monotonic() - started
    print(f"chaos phase: {chaos_s / 60:.1f} min, {len(results)} jobs; now the same jobs undisturbed", flush=True)
    reference = reference_results(sorted(results), workdir)
    summary = summarise(results, reference, counts, procs, fuzzer, chaos_s)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print_table(summary)
    return 0 if summary["identical"] == summary["jobs"] and summary["lost"] == 0 else 1


def summarise(results, reference, counts, procs, fuzzer, chaos_s) -> dict:
    same = [j for j, r in results.items() if r.get("state") == "finished" and _same_x(r, reference[j])]
    logs = "\n".join(procs.lines)
    return {
        "minutes": round(chaos_s / 60, 2),
        "jobs": len(results),
        "finished": sum(r.get("state") == "finished" for r in results.values()),
        "identical": len(same),
        "lost": sum(r.get("state") != "finished" for r in results.values()),
        "different": sorted(set(results) - set(same)),
        "events": counts,
        "server_restarts": logs.count("supervisor: the server stopped"),
        "gateway_restarts": logs.count("the gateway process"),
        "fuzz_sent": fuzzer.sent,
        "fuzz_answered": fuzzer.answered,
        "renders": sum(int(r.get("evaluations", 0)) for r in results.values()),
    }  # fmt: skip


def _same_x(result: dict, reference: dict) -> bool:
    return result.get("current") == reference.get("current") and result.get("best") == reference.get("best")


def _of(events: dict, name: str, restarts: int) -> str:
    return f"{events.get(name, 0)} ({restarts})"


def print_table(s: dict) -> None:
    e = s["events"]
    rows = [
        ("chaos phase", f"{s['minutes']} min"),
        ("worker SIGKILLs (a new worker starts)", e.get("kill_worker", 0)),
        ("worker SIGSTOPs past the heartbeat timeout", e.get("stop_worker", 0)),
        ("server SIGKILLs (restarts by the supervisor, --resume)", _of(e, "kill_server", s["server_restarts"])),
        ("gateway SIGABRTs (new gateways started by the server)", _of(e, "kill_gateway", s["gateway_restarts"])),
        ("routing-id attacks (48 predicted ids claimed, then a plain peer)", e.get("routing_id_attack", 0)),
        ("fuzzed messages sent / answered", f"{s['fuzz_sent']:,} / {s['fuzz_answered']:,}"),
        ("jobs run / finished / lost", f"{s['jobs']} / {s['finished']} / {s['lost']}"),
        ("renders", f"{s['renders']:,}"),
        ("final x identical to the undisturbed run", f"{s['identical']} of {s['jobs']}"),
    ]
    print("\n| thrown at the server | count |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    if s["different"]:
        print("jobs that differ or were lost:", ", ".join(s["different"]))


if __name__ == "__main__":
    sys.exit(main())

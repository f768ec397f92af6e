"""``serve --supervise``: run the server as a child process and restart it, with every job, when it dies.

The supervisor is a small process (no torch): it starts ``serve`` without ``--supervise``, echoes
its output, prints the ready line once, and remembers the jobs the server announces
(``ZEROGRADS_JOB <dir>`` when one is accepted or resumed, ``ZEROGRADS_JOB_END <state> <dir>`` when it
ends). When the server dies (a signal, a crash), it starts a new one on the same endpoint with
``--resume`` of each of those jobs: they continue from their last checkpoint, and clients and
workers reconnect on their own. A server that crashes ``MAX_CRASHES`` times within ``WINDOW_S``
is not restarted again: the supervisor prints the command that resumes its jobs and exits 1.
SIGTERM/SIGINT stop the server cleanly (it checkpoints) and then the supervisor.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time

from .cli_serve import END_LINE, JOB_LINE, READY_LINE

SERVER_PID_LINE = "ZEROGRADS_SERVER_PID"  # the supervisor's note of each server process it starts
MAX_CRASHES = 5
WINDOW_S = 60.0
_KEEP_ENDED = 32  # finished jobs resumed after a crash, so that clients re-attaching still get `done`
_SPAWN_FAILED = 127  # the shell's "command not found"
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def serve_command(child_args: list[str], bind: str, resume: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "optimizer_server.cli_serve", "serve", "--supervised-child", "--bind", bind]
    cmd += child_args
    for job_dir in resume:
        cmd += ["--resume", job_dir]
    return cmd


class Supervisor:
    def __init__(self, child_args: list[str], bind: str, resume: list[str]):
        self.child_args = list(child_args)  # every serve option except --bind, --resume, --supervise
        self.bind = bind
        self.jobs: collections.OrderedDict[str, str] = collections.OrderedDict((d, "running") for d in resume)
        self.endpoint: str | None = None
        self.restarts = 0
        self._child: subprocess.Popen | None = None
        self._stopping = False
        self._crashes: collections.deque[float] = collections.deque()

    def resume_list(self) -> list[str]:
        ended = [d for d, state in self.jobs.items() if state in ("finished", "cancelled")]
        drop = set(ended[:-_KEEP_ENDED]) if len(ended) > _KEEP_ENDED else set()
        # a failed job resumed would start running again: that is the user's call, not ours
        return [d for d, state in self.jobs.items() if state != "failed" and d not in drop]

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        while True:
            code = self._run_child()
            if self._stopping or code == 0:
                return 0
            now = time.monotonic()
            self._crashes.append(now)
            while self._crashes and now - self._crashes[0] > WINDOW_S:
                self._crashes.popleft()
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            if len(self._crashes) >= MAX_CRASHES or self.endpoint is None:
                print(
                    f"supervisor: the server stopped ({how}) {len(self._crashes)} times in {WINDOW_S:g} s; "
                    f"giving up. Resume its jobs with:\n  {self.resume_hint()}",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
            delay = min(5.0, 0.25 * 2 ** (len(self._crashes) - 1))
            print(
                f"supervisor: the server stopped ({how}); restarting it in {delay:g} s with "
                f"{len(self.resume_list())} job(s)",
                file=sys.stderr,
                flush=True,
            )
            time.sleep(delay)
            self.restarts += 1

    def resume_hint(self) -> str:
        words = ["python -m optimizer_server serve --bind", self.endpoint or self.bind, *self.child_args]
        return " ".join(words + [f"--resume {d}" for d in self.resume_list()])

    def _run_child(self) -> int:
        cmd = serve_command(self.child_args, self.endpoint or self.bind, self.resume_list())
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        try:
            self._child = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, errors="replace", bufsize=1, env=env
            )
        except OSError as exc:  # e.g. the interpreter being replaced right now: a crash like any other
            print(f"supervisor: cannot start the server: {exc}", file=sys.stderr, flush=True)
            return _SPAWN_FAILED
        print(f"{SERVER_PID_LINE} {self._child.pid}", flush=True)
        for line in self._child.stdout:
            self._on_line(line.rstrip("\n"))
        code = self._child.wait()
        self._child.stdin.close()
        return code

    def _on_line(self, line: str) -> None:
        word, _, rest = line.partition(" ")
        if word == READY_LINE:
            first = self.endpoint is None
            self.endpoint = rest.strip()
            if first:
                print(line, flush=True)  # once: whoever started us reads the endpoint from it
            else:
                print(f"supervisor: the server is back on {self.endpoint}", flush=True)
            return
        if word == JOB_LINE:
            self.jobs[rest.strip()] = "running"
            self.jobs.move_to_end(rest.strip())
        elif word == END_LINE:
            state, _, job_dir = rest.partition(" ")
            self.jobs[job_dir.strip()] = state
        print(line, flush=True)

    def _stop(self, *_) -> None:
        self._stopping = True
        child = self._child
        if child is not None and child.poll() is None:
            try:
                os.kill(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def child_args_from(args) -> list[str]:
    """The `serve` options of ``args`` (an argparse namespace) a restarted server needs again."""
    out = ["--jobs-dir", args.jobs_dir]
    for flag, value in (
        ("--keys", args.keys_dir),
        ("--heartbeat-timeout", args.heartbeat_timeout),
        ("--heartbeat-interval", args.heartbeat_interval),
        ("--render-timeout", args.render_timeout),
        ("--device", args.device),
        ("--torch-threads", args.torch_threads),
        ("--max-jobs-per-client", args.max_jobs_per_client),
        ("--max-batch-samples", args.max_batch_samples),
        ("--max-target-pixels", args.max_target_pixels),
        ("--max-parameters", args.max_parameters),
    ):
        if value is not None:
            out += [flag, str(value)]
    for flag, on in (
        ("--insecure-loopback", args.insecure_loopback),
        ("--socket-in-process", args.socket_in_process),
        ("--verbose", args.verbose),
    ):
        if on:
            out.append(flag)
    return out


def run_supervised(args) -> int:
    return Supervisor(child_args_from(args), args.bind, [os.path.abspath(d) for d in args.resume]).run()

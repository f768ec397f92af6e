"""A render worker for the analytic disc task (no Blender): tests, demos and benchmarks.

    python -m optimizer_server.problems.disc_worker --connect tcp://127.0.0.1:5555

Render settings it understands (all optional, from the job's ``settings``):
    size      image width = height in pixels (default 32)
    channels  3 (RGB) or 4 (RGBA) (default 3)
    radius    disc radius as a fraction of the width (default 0.15)
    problem   instead of the disc: a problem of the efficiency suite (``problems/suite.py``) that
              draws images (discs2, led336, texture1024 …); its values are the problem's parameters
The job's first two parameters are the disc centre (cx, cy) in [0, 1].

``--sleep-ms`` adds a fixed delay per image, to stand in for a slow renderer (the server
benchmark uses it to measure scheduling independent of this machine's CPU). ``--constant``
skips rasterising and returns a fixed image (for measuring pure transport overhead).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from typing import Any

import numpy as np

from ..wire.errors import ConfigError, ZeroGradsError
from ..wire.transport import CurveKeys
from ..wire.worker_loop import WorkerLoop
from .disc import DiscTask


class DiscRenderer:
    """``render_batch`` for :class:`WorkerLoop`, caching one DiscTask per image format."""

    def __init__(self, sleep_ms: float = 0.0, constant: bool = False):
        self.sleep_s = sleep_ms / 1000.0
        self.constant = constant
        self._tasks: dict[tuple[int, int, float], DiscTask] = {}
        self._problems: dict[str, Any] = {}  # suite problems by name, built on first use

    def __call__(self, values: np.ndarray, settings: dict[str, Any], seeds: np.ndarray) -> np.ndarray:
        if settings.get("problem") is not None:
            return self._suite_render(str(settings["problem"]), values, seeds)
        size = int(settings.get("size", 32))
        channels = int(settings.get("channels", 3))
        radius = float(settings.get("radius", 0.15))
        if not 1 <= size <= 4096 or channels not in (1, 3, 4) or not 0 < radius < 1:
            raise ConfigError(
                f"disc settings out of range: size {size} (1..4096), channels {channels} "
                f"(1, 3 or 4), radius {radius} (0..1)"
            )
        if values.shape[1] < 2:
            raise ConfigError(f"the disc task needs 2 parameters (cx, cy), the job has {values.shape[1]}")
        key = (size, channels, radius)
        if key not in self._tasks:
            self._tasks[key] = DiscTask(size=size, channels=channels, radius=radius)
        task = self._tasks[key]
        if self.sleep_s:
            time.sleep(self.sleep_s * len(values))
        if self.constant:
            return np.broadcast_to(task.target, (len(values),) + task.target.shape)
        return task.render(values[:, :2])

    def _suite_render(self, name: str, values: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        problem = self._problem(name)
        if values.shape[1] != problem.n:
            raise ConfigError(f"problem {name!r} has {problem.n} parameters, the job {values.shape[1]}")
        if self.sleep_s:
            time.sleep(self.sleep_s * len(values))
        images = problem.render(values, seeds) if problem.noisy else problem.render(values)
        return np.asarray(images, dtype=np.float32)

    def _problem(self, name: str):
        problem = self._problems.get(name)
        if problem is None:
            from .suite import suite

            makers = suite()
            if name not in makers:
                raise ConfigError(f"unknown problem {name!r}; the suite has: {', '.join(makers)}")
            problem = makers[name]()
            if problem.render is None:
                raise ConfigError(f"problem {name!r} draws no image (it has only a loss); pick another")
            self._problems[name] = problem
        return problem


def make_worker(
    address: str,
    *,
    sleep_ms: float = 0.0,
    constant: bool = False,
    name: str | None = None,
    heartbeat_interval_s: float = 0.5,
    keys: CurveKeys | None = None,
    max_batch: int = 64,
) -> WorkerLoop:
    return WorkerLoop(
        address,
        DiscRenderer(sleep_ms=sleep_ms, constant=constant),
        capabilities={"renderer": "disc", "max_batch": max_batch},
        name=name,
        heartbeat_interval_s=heartbeat_interval_s,
        keys=keys,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m optimizer_server.problems.disc_worker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--connect", default="tcp://127.0.0.1:5555", help="server address (default: %(default)s)")
    parser.add_argument("--name", help="worker name shown by the server (default: host:pid)")
    parser.add_argument("--sleep-ms", type=float, default=0.0, help="extra delay per image, in ms")
    parser.add_argument("--constant", action="store_true", help="return a fixed image (transport benchmarks)")
    parser.add_argument("--max-batch", type=int, default=64, help="most images per render message")
    parser.add_argument(
        "--preload", nargs="*", default=[], metavar="PROBLEM", help="build these suite problems before connecting"
    )
    parser.add_argument("--heartbeat", type=float, default=0.5, help="seconds between heartbeats")
    parser.add_argument("--server-key", help="server public key file (KEYS/server.key) when it authenticates")
    parser.add_argument("--key", help="this worker's key pair (NAME.key_secret) when the server authenticates")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        keys = _keys(args.server_key, args.key)
        worker = make_worker(
            args.connect,
            sleep_ms=args.sleep_ms,
            constant=args.constant,
            name=args.name,
            heartbeat_interval_s=args.heartbeat,
            keys=keys,
            max_batch=args.max_batch,
        )
        for name in args.preload:  # as a Blender worker loads its scene before it registers
            worker.render_batch._problem(name)
        signal.signal(signal.SIGTERM, lambda *_: worker.stop())
        print(f"analytic worker {worker.name} serving {args.connect}", flush=True)
        worker.run()
    except KeyboardInterrupt:
        return 0
    except ZeroGradsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _keys(server_key: str | None, key: str | None) -> CurveKeys | None:
    if server_key is None and key is None:
        return None
    if server_key is None or key is None:
        raise ConfigError("authentication needs both --server-key and --key")
    return CurveKeys.load(server_key, key)


if __name__ == "__main__":
    sys.exit(main())

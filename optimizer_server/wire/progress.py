"""A one-line-per-update progress reporter for terminals and logs (iterations, renders, loss, ETA)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    m, s = divmod(seconds, 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProgressPrinter:
    """Call with each history entry; prints at most every ``interval`` seconds (and the last one)."""

    def __init__(self, label: str, budget: int, interval: float = 1.0, stream: TextIO | None = None):
        self.label, self.budget, self.interval = label, budget, interval
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self._last_print = -float("inf")

    def __call__(self, entry: dict, force: bool = False) -> None:
        now = time.perf_counter()
        done = entry["evaluations"]
        if not force and now - self._last_print < self.interval and done < self.budget - 1:
            return
        self._last_print = now
        elapsed = now - self.start
        eta = elapsed / done * (self.budget - done) if done else float("nan")
        sigma = entry.get("sigma")
        sigma_txt = f" σ {sigma:.3g}" if isinstance(sigma, (int, float)) else ""
        print(
            f"[{self.label}] iter {entry['iteration'] + 1:5d}  renders {done:6d}/{self.budget}  "
            f"loss {entry['loss']:.4g}  best {entry['best_loss']:.4g}{sigma_txt}  "
            f"elapsed {format_seconds(elapsed)}  ETA {format_seconds(eta) if done else '?'}",
            file=self.stream,
            flush=True,
        )

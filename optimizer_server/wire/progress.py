"""Progress and ETA, formatted once for everyone: the batch runner, the Blender panel and the demo.

``EtaClock`` counts only the time spent working: it starts at the first progress report (so the
start-up of a server and its workers is not in the rate) and stops while a run is paused.
``format_progress`` turns one progress entry (the server's ``progress`` body, or ``minimize``'s
history entry) into one line.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    m, s = divmod(seconds, 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class EtaClock:
    """Remaining time from the render rate measured since the first progress report, pauses excluded."""

    def __init__(self, budget: int, clock: Callable[[], float] = time.monotonic):
        self.budget = max(1, int(budget))
        self.clock = clock
        self._first: int | None = None  # evaluations at the first report
        self._evaluations = 0
        self._active = 0.0  # working seconds before the current stretch
        self._since: float | None = None  # start of the current working stretch; None while paused

    def update(self, evaluations: int) -> None:
        """A progress report: ``evaluations`` renders done so far."""
        if self._first is None:
            self._since = self.clock()
            self._first = int(evaluations)
        self._evaluations = int(evaluations)

    def pause(self) -> None:
        if self._since is not None:
            self._active += self.clock() - self._since
            self._since = None

    def resume(self) -> None:
        if self._since is None and self._first is not None:
            self._since = self.clock()

    def active_s(self) -> float:
        """Working seconds since the first report (paused stretches not counted)."""
        running = self.clock() - self._since if self._since is not None else 0.0
        return self._active + running

    def eta_s(self) -> float | None:
        """Seconds left at the measured rate; None until a second report has shown progress."""
        if self._first is None:
            return None
        done = self._evaluations - self._first
        active = self.active_s()
        if done <= 0 or active <= 0:
            return None
        return active / done * max(0, self.budget - self._evaluations)


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) and math.isfinite(value) else "?"


def short_values(named: dict[str, Any], limit: int = 6) -> str:
    """``x=0.5, n=3, …``: a few parameter values for a progress line."""
    items = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in list(named.items())[:limit]]
    return ", ".join(items) + (", …" if len(named) > limit else "")


def format_progress(
    entry: dict[str, Any],
    budget: int,
    eta_s: float | None = None,
    *,
    label: str = "",
    paused: bool = False,
    elapsed_s: float | None = None,
    values: dict[str, Any] | None = None,
    compact: bool = False,
) -> str:
    """One line: [label] iteration, renders done/budget, loss, best, σ, elapsed, ETA, values.

    ``compact`` is the panel's short form (renders, time left) for a narrow sidebar.
    """
    done = int(entry.get("evaluations", 0))
    eta = format_seconds(eta_s) if eta_s is not None else "?"
    if compact:  # renders and time left, ETA in 5-second steps (a panel redraws when its text changes)
        eta = format_seconds(5 * round(eta_s / 5)) if eta_s is not None else "?"
        return f"{'paused · ' if paused else ''}{done}/{budget} renders · {eta} left"
    parts = [f"[{label}]"] if label else []
    if paused:
        parts.append("paused")
    parts += [
        f"iter {int(entry.get('iteration', 0)):5d}",
        f"renders {done:6d}/{budget}",
        f"loss {_number(entry.get('loss'))}",
        f"best {_number(entry.get('best_loss'))}",
    ]
    sigma = entry.get("sigma")
    if isinstance(sigma, (int, float)):
        parts.append(f"σ {sigma:.3g}")
    if elapsed_s is not None:
        parts.append(f"elapsed {format_seconds(elapsed_s)}")
    parts.append(f"ETA {eta}")
    if values:
        parts.append(short_values(values))
    return "  ".join(parts)


class ProgressPrinter:
    """Call with each history entry; prints at most every ``interval`` seconds (and the last one)."""

    def __init__(self, label: str, budget: int, interval: float = 1.0, stream: TextIO | None = None):
        self.label, self.budget, self.interval = label, budget, interval
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self.clock = EtaClock(budget, clock=time.perf_counter)
        self._last_print = -float("inf")

    def __call__(self, entry: dict, force: bool = False) -> None:
        now = time.perf_counter()
        done = entry["evaluations"]
        self.clock.update(done)
        if not force and now - self._last_print < self.interval and done < self.budget - 1:
            return
        self._last_print = now
        shown = {**entry, "iteration": entry["iteration"] + 1}  # minimize counts iterations from 0
        line = format_progress(shown, self.budget, self.clock.eta_s(), label=self.label, elapsed_s=now - self.start)
        print(line, file=self.stream, flush=True)

"""Batches in whole rounds over k workers: the sizes methods ask for when the caller says k renders can
run at once (``Capabilities.parallel``, ``Method.set_parallel``; docs/scaling.md)."""

from __future__ import annotations

import math


def whole_rounds(count: int, parallel: int) -> int:
    """``count`` rounded up to whole rounds over ``parallel`` workers."""
    return parallel * math.ceil(count / parallel)


def rounds_batch(
    own: int, parallel: int, multiple: int = 1, left: int | None = None, least: int = 1, nearest: bool = False
) -> int:
    """The batch that keeps ``parallel`` renders busy: the method's own batch ``own`` rounded up to
    whole rounds over them (of a multiple of ``multiple``, e.g. 2 for antithetic pairs). 20 renders on
    16 workers take two rounds either way, so the second round is filled: 32 samples. Fewer, bigger
    iterations also spread the optimiser's own time per iteration over more renders. Cut to ``left``
    (the budget left) when a full batch does not fit but ``least`` do. ``parallel`` ≤ 1 gives ``own``.
    ``nearest``: the whole number of rounds nearest ``own`` (at least one), for a method whose iterations
    hardly depend on its sample count (20 on 16 workers: 16, one round)."""
    if parallel <= 1:
        return own
    step = math.lcm(int(parallel), int(multiple))
    rounds = max(1, math.floor(own / step + 0.5)) if nearest else math.ceil(own / step)
    batch = step * rounds
    if left is not None and least <= left < batch:
        batch = left - left % multiple
    return batch

"""A 1-D loss with plateaus, in the spirit of the thesis's Fig. 5.3 / 5.5.

On [0, 10]: a high plateau left of 3 (where runs start), a lower false plateau on [3, 4.5), a
narrow V-shaped valley with the global minimum 0 at x = 6, and a plateau right of 7.5. The
gradient is zero almost everywhere outside the valley.
"""

from __future__ import annotations

import numpy as np

from ..wire.space import ParamSpec, Space

LO, HI = 0.0, 10.0
OPTIMUM = 6.0
START = 1.0


def space() -> Space:
    return Space([ParamSpec("x", LO, HI)])


def loss(values) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    out = np.full_like(x, 0.8)  # right plateau
    out[x < 7.5] = np.minimum(0.8, 0.6 * np.abs(x[x < 7.5] - OPTIMUM) / 1.5)  # valley
    out[x < 4.5] = 0.6  # false plateau
    out[x < 3.0] = 1.0  # starting plateau
    return out

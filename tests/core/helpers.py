"""Helpers shared by the core tests."""

import numpy as np
import torch


def assert_trees_equal(a, b, path="state"):
    """Exact equality of two nested states (dicts/lists/arrays/tensors/scalars)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys differ: {set(a) ^ set(b)}"
        for k in a:
            assert_trees_equal(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_trees_equal(x, y, f"{path}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a.cpu(), b.cpu()), path
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, np.asarray(b)), path
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), path
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def quadratic(x):
    """A smooth test loss in the unit cube (minimum at 0.3 in every coordinate)."""
    x = np.asarray(x)
    return ((x - 0.3) ** 2).sum(axis=-1)


def quadratic_residuals(x):
    """Residual vectors whose squares sum to ``quadratic(x)``."""
    return np.asarray(x) - 0.3


def tell_quadratic(method, batch):
    """Tell ``quadratic`` losses, with their residuals where the method uses them."""
    residuals = quadratic_residuals(batch.x) if method.wants_residuals else None
    method.tell(batch, quadratic(batch.x), residuals)

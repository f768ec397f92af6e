"""Optimisation methods behind one ask/tell interface, registered by name.

Importing this package registers: prdpt, zerograds, gauss_newton, fd, spsa, cmaes, nevergrad, auto.
"""

from . import auto, baselines, blackbox, gauss_newton, prdpt, zerograds  # noqa: F401,E402  (registration side effect)
from .base import Batch, CommonOptions, Method  # noqa: F401
from .registry import available_methods, create_method, describe_methods, get_method_class, register  # noqa: F401

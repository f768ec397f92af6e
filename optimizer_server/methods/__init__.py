"""Optimisation methods behind one ask/tell interface, registered by name.

Importing this package registers: prdpt, zerograds, gauss_newton, fd, spsa, cmaes, nevergrad, auto.
"""
from .base import Batch, CommonOptions, Method  # noqa: F401
from .registry import (available_methods, create_method, describe_methods,  # noqa: F401
                       get_method_class, register)
from . import prdpt, zerograds, gauss_newton, baselines, blackbox, auto  # noqa: F401,E402  (registration side effect)

"""Optimisation methods behind one ask/tell interface, registered by name, and their named
configurations (``"zerograds:efficient"``: a method and one of its presets).

Importing this package registers: prdpt, zerograds, gauss_newton, fd, spsa, cmaes, nevergrad, auto.
"""

from . import auto, baselines, blackbox, gauss_newton, prdpt, zerograds  # noqa: F401  (registration side effect)
from .base import Batch, Capabilities, CommonOptions, Method  # noqa: F401
from .registry import (  # noqa: F401
    FEATURED,
    Configuration,
    available_methods,
    configurations,
    create_method,
    describe_methods,
    get_method_class,
    register,
    split_configuration,
)

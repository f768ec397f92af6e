"""Optimisation methods behind one ask/tell interface, registered by name, and their named
configurations (``"zerograds:efficient"``: a method and one of its presets).

Importing this package registers: prdpt, zerograds, gauss_newton, fd, spsa, cmaes, nevergrad, optuna, blockwise, auto.
"""

from . import auto, baselines, blackbox, blockwise, gauss_newton, optuna_sampler, prdpt, zerograds  # noqa: F401  (registration)
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

"""ZeroGrads for Blender — the optimizer server package (never imports bpy).

``from optimizer_server import ParamSpec, Space, minimize``. The space and error modules are
light (numpy only); the methods (torch) load on first use so that the protocol and parameter
modules stay importable inside Blender without torch.
"""

from .wire.errors import ConfigError, ZeroGradsError  # noqa: F401
from .wire.space import ParamSpec, Space  # noqa: F401

__version__ = "0.1.0"
__all__ = ["ParamSpec", "Space", "minimize", "Result", "ZeroGradsError", "ConfigError"]


def __getattr__(name):
    if name in ("minimize", "Result"):
        from . import driver

        return getattr(driver, name)
    raise AttributeError(f"module 'optimizer_server' has no attribute {name!r}")

"""Where the add-on finds ``optimizer_server.wire`` (errors, parameter space, protocol, client, worker loop).

In a checkout (tests, ``python -m blender_addon.worker``) ``optimizer_server`` is importable
from the repository root. The installable zip made by ``make addon`` carries a copy of the
``wire`` package under ``_vendor/`` instead; that folder is appended to ``sys.path`` (appended,
so an installed ``optimizer_server`` always wins). The package's
``__init__`` imports this module first, so every add-on module may import ``optimizer_server.wire``
at its top.
"""

import os
import sys

_VENDOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_vendor")

try:
    from optimizer_server.wire import errors as _errors
except ImportError:
    if os.path.isdir(_VENDOR) and _VENDOR not in sys.path:
        sys.path.append(_VENDOR)
    from optimizer_server.wire import errors as _errors

ZeroGradsError = _errors.ZeroGradsError
ConfigError = _errors.ConfigError

"""The project's error taxonomy.

Every error raised on purpose derives from :class:`ZeroGradsError` *and* from the builtin
that best describes it, so callers can catch either ``ZeroGradsError`` (anything of ours)
or the builtin (``ValueError`` ...) as they would for any Python library.

This module imports nothing heavy: the Blender add-on and the wire protocol use it too.
"""


class ZeroGradsError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(ValueError, ZeroGradsError):
    """A parameter spec, method option or job setting is invalid."""


class UnknownMethodError(KeyError, ZeroGradsError):
    """A method name that is not in the registry."""

    def __str__(self):  # KeyError would repr() the message and add quotes
        return str(self.args[0]) if self.args else ""


class TellError(ValueError, ZeroGradsError):
    """``tell()`` was given losses that do not belong to the pending ``ask()``."""


class StateError(ValueError, ZeroGradsError):
    """A saved state does not fit the method or problem it is loaded into."""


# --- wire protocol and optimizer server (wire/protocol.py, server/, wire/client.py) ------


class ProtocolError(ValueError, ZeroGradsError):
    """A message on the wire is malformed, too large, of an unknown kind or protocol version.

    ``code`` is the machine-readable reason sent back in the ``error`` reply.
    """

    def __init__(self, message: str, code: str = "bad_message"):
        super().__init__(message)
        self.code = code


class AuthenticationError(PermissionError, ZeroGradsError):
    """The server refused the CurveZMQ handshake (missing or unauthorised key)."""


class ServerUnavailableError(TimeoutError, ZeroGradsError):
    """No reply from the optimizer server in time (not running, wrong address, or a network problem)."""


class RequestRejectedError(ValueError, ZeroGradsError):
    """The server answered a request with an ``error`` message; ``code`` says why."""

    def __init__(self, message: str, code: str = "bad_request"):
        super().__init__(message)
        self.code = code


class JobFailedError(RuntimeError, ZeroGradsError):
    """An optimisation job ended in the ``failed`` state (e.g. renders kept failing)."""


class MethodFailedError(RuntimeError, ZeroGradsError):
    """A wrapped optimisation library failed inside ask/tell (its own message is included)."""

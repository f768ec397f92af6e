"""ZeroMQ plumbing shared by the client, the render workers and the server.

Only pyzmq, numpy and the standard library are imported (no torch, no bpy): the Blender add-on
and the workers ship this module with ``protocol.py``. Keep it Python 3.10 compatible.

CurveZMQ keys are the text files ``zmq.auth.create_certificates`` writes: ``NAME.key`` holds the
public key, ``NAME.key_secret`` both keys. Loading them parses text; nothing is unpickled. A client
or worker that connects to a loopback address without keys uses this user's local keys
(``local_keys.py``), as a loopback server expects.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

import zmq
import zmq.auth
from zmq.utils.monitor import recv_monitor_message

from . import local_keys
from .errors import AuthenticationError, ConfigError
from .protocol import DEFAULT_LIMITS, Limits

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class CurveKeys:
    """What a client or worker needs to talk to an authenticating server."""

    server_public: bytes
    """The server's public key (from the server's ``server.key``)."""
    public: bytes
    secret: bytes
    """This peer's key pair (from its ``NAME.key_secret``); its public half must be in the
    server's ``authorized/`` directory."""

    @classmethod
    def load(cls, server_key: PathLike, key: PathLike) -> CurveKeys:
        server_public, _ = _load_certificate(server_key, "server key")
        public, secret = _load_certificate(key, "peer key")
        if secret is None:
            raise ConfigError(
                f"{key} holds only a public key; pass the NAME.key_secret file "
                "written by `python -m optimizer_server keys`"
            )
        return cls(server_public=server_public, public=public, secret=secret)

    def apply(self, socket: zmq.Socket) -> None:
        socket.curve_serverkey = self.server_public
        socket.curve_publickey = self.public
        socket.curve_secretkey = self.secret


def _load_certificate(path: PathLike, what: str):
    if not os.path.isfile(path):
        raise ConfigError(
            f"{what} file {path} does not exist; create keys with `python -m optimizer_server keys DIR --peer NAME`"
        )
    try:
        return zmq.auth.load_certificate(path)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"{what} file {path} is not a CurveZMQ certificate: {exc}") from exc


def is_loopback(address: str) -> bool:
    """True for addresses only this machine can reach (tcp on 127.x/::1/localhost, ipc, inproc).

    The one loopback check: the server decides by it whether to authenticate, the Blender add-on
    whether it needs Blender's online access to reach a server."""
    scheme, _, rest = address.partition("://")
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp" or not rest:
        raise ConfigError(f"address {address!r} must look like tcp://127.0.0.1:5555 (or ipc://PATH)")
    host = rest.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # '*', an interface or host name: reachable from outside
        return False


def keys_for(address: str, keys: CurveKeys | None, insecure: bool | None = None) -> CurveKeys | None:
    """The keys a client or worker uses: those given; else, for a loopback server, this user's
    local keys (made on first use), unless ``insecure`` (default: $ZEROGRADS_INSECURE_LOOPBACK)."""
    if keys is not None:
        return keys
    if insecure is None:
        insecure = local_keys.insecure_from_environment()
    if insecure or not is_loopback(address):
        return None
    return CurveKeys.load(*local_keys.client_paths(local_keys.ensure_local_keys()))


def connect_dealer(
    context: zmq.Context,
    address: str,
    *,
    keys: CurveKeys | None = None,
    insecure: bool | None = None,
    limits: Limits = DEFAULT_LIMITS,
    send_timeout_ms: int = 1000,
) -> tuple[zmq.Socket, HandshakeWatcher]:
    """A DEALER socket connected to the server's ROUTER with CurveZMQ (``keys``, or on loopback the
    local keys: see :func:`keys_for`), and the watcher that reports a refused handshake.

    No routing id is set on purpose: the server's ROUTER assigns one per connection, so no peer
    can claim another peer's identity. After a reconnect the server sees a new peer; workers then
    re-register and clients re-attach (both handled by their loops).
    """
    local = keys is None
    keys = keys_for(address, keys, insecure)
    local = local and keys is not None
    socket = context.socket(zmq.DEALER)
    socket.linger = 0
    socket.setsockopt(zmq.MAXMSGSIZE, limits.socket_max_msg_size())
    socket.setsockopt(zmq.RECONNECT_IVL, 100)
    socket.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
    # A DEALER with no usable connection (refused handshake) blocks on send forever; bound it.
    socket.setsockopt(zmq.SNDTIMEO, send_timeout_ms)
    if keys is not None:
        keys.apply(socket)
    # the watcher before connecting, so that it sees every event
    watcher = HandshakeWatcher(socket, address, using_keys=keys is not None, local_keys=local)
    try:
        socket.connect(address)
    except zmq.ZMQError as exc:
        watcher.close()
        socket.close()
        raise ConfigError(f"cannot connect to {address!r}: {exc} (expected e.g. tcp://127.0.0.1:5555)") from exc
    return socket, watcher


class HandshakeWatcher:
    """Turns a refused CurveZMQ handshake into an :class:`AuthenticationError`.

    Without it an unauthorised peer would just never hear back; libzmq reports the refusal only
    through a socket monitor.
    """

    _FAILURES = (
        zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    )

    def __init__(self, socket: zmq.Socket, address: str, using_keys: bool, local_keys: bool = False):
        self.address = address
        self.using_keys = using_keys
        self.local_keys = local_keys
        self.connected = False
        self._failures = 0
        self._socket = socket
        self._monitor = socket.get_monitor_socket(self._FAILURES | zmq.EVENT_HANDSHAKE_SUCCEEDED)

    # An authentication refusal or a mechanism mismatch is final (libzmq does not reconnect). A
    # failure without detail (e.g. a wrong server key) repeats on every reconnect, but a server or
    # its gateway dying mid-handshake causes one too: those count only when they come in a row.
    REFUSALS = 3

    def check(self) -> None:
        """Read pending monitor events (non-blocking); raise if the server refused us."""
        while self._monitor.poll(0):
            event = recv_monitor_message(self._monitor)
            if event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.connected = True
                self._failures = 0
            elif event["event"] & self._FAILURES:
                self._failures += 1
                if event["event"] != zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL or self._failures >= self.REFUSALS:
                    raise AuthenticationError(self._explain(event))

    def _explain(self, event) -> str:
        if self.local_keys:
            hint = (
                f"this client used this user's local keys ({local_keys.local_keys_dir()}); either the "
                "server runs for another user, or with --insecure-loopback (then set "
                f"{local_keys.ENV_INSECURE}=1 for this process too), or with --keys DIR (then pass "
                "--server-key and --key)"
            )
        elif self.using_keys:
            hint = (
                "this peer's public key is not in the server's authorized/ directory, or --server-key "
                "is not the server's key; copy NAME.key into KEYS/authorized/ on the server"
            )
        else:
            hint = (
                "the server requires CurveZMQ authentication; pass the server's public key "
                "(--server-key KEYS/server.key) and an authorised key pair (--key NAME.key_secret)"
            )
        return f"the server at {self.address} refused the connection handshake ({_event_name(event)}): {hint}"

    def close(self) -> None:
        # Stop the monitor on the watched socket first. libzmq's I/O thread writes events to it with
        # a blocking send; were our reading end closed while the socket is still alive (closing is
        # asynchronous, and a refused peer keeps reconnecting), the next handshake event would block
        # that I/O thread for good, and with it every socket sharing the context.
        if not self._socket.closed:
            try:
                self._socket.disable_monitor()
            except zmq.ZMQError:
                pass  # the context is already terminating: no more events will come
        self._monitor.close(linger=0)


def _event_name(event) -> str:
    names = {
        zmq.EVENT_HANDSHAKE_FAILED_AUTH: "authentication failed",
        zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "security mechanism mismatch or protocol error",
        zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "handshake failed",
    }
    return names.get(event["event"], f"event {event['event']}")


def send_frames(socket: zmq.Socket, frames: Sequence[Any], flags: int = 0) -> None:
    """Send a message; numpy frames go out without a copy. Raises zmq.Again when the socket has no
    peer to queue for within its send timeout (e.g. after the server refused our handshake)."""
    socket.send_multipart(list(frames), flags=flags, copy=False)


def recv_frames(socket: zmq.Socket, flags: int = 0) -> list[Any]:
    """Receive a message as zmq.Frame objects (zero-copy buffers for large frames)."""
    return socket.recv_multipart(flags, copy=False)

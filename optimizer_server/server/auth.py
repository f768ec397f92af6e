"""CurveZMQ for the server socket: who may connect when the server is reachable from elsewhere.

Key directory layout (created by ``python -m optimizer_server keys KEYS --peer NAME``)::

    KEYS/server.key            server public key: give it to clients and workers
    KEYS/server.key_secret     server key pair: stays on the server
    KEYS/authorized/NAME.key   public keys of the clients and workers allowed in
    KEYS/peers/NAME.key_secret a peer's key pair, made here for convenience: copy it to that peer

The ZAP handler (pyzmq's ThreadAuthenticator) accepts a peer only if its public key is in
``authorized/``; any other peer fails the handshake and never reaches the serve loop.
"""

from __future__ import annotations

import logging
import os
import shutil

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from ..wire.errors import ConfigError
from ..wire.transport import is_loopback  # noqa: F401 (part of this module's interface)

log = logging.getLogger("zerograds.server.auth")


def create_server_keys(keys_dir: str) -> str:
    """Make KEYS/server.key(_secret) and KEYS/authorized/ unless they exist; return the public key path."""
    os.makedirs(os.path.join(keys_dir, "authorized"), exist_ok=True)
    public = os.path.join(keys_dir, "server.key")
    if not os.path.isfile(public):
        _, secret = zmq.auth.create_certificates(keys_dir, "server")
        os.chmod(secret, 0o600)
    return public


def create_peer_keys(keys_dir: str, name: str) -> str:
    """Make a key pair for a client or worker, authorise it; return its NAME.key_secret path."""
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise ConfigError(f"peer name {name!r} must be letters, digits, '-', '_' or '.'")
    peers = os.path.join(keys_dir, "peers")
    os.makedirs(peers, exist_ok=True)
    public, secret = zmq.auth.create_certificates(peers, name)
    os.chmod(secret, 0o600)
    os.makedirs(os.path.join(keys_dir, "authorized"), exist_ok=True)
    shutil.copy(public, os.path.join(keys_dir, "authorized", f"{name}.key"))
    return secret


class ServerAuth:
    """Turns a ROUTER socket into a CurveZMQ server that admits only authorised public keys."""

    def __init__(self, context: zmq.Context, keys_dir: str):
        secret_path = os.path.join(keys_dir, "server.key_secret")
        authorized = os.path.join(keys_dir, "authorized")
        if not os.path.isfile(secret_path):
            raise ConfigError(
                f"no server key pair at {secret_path}; create one with `python -m optimizer_server keys {keys_dir}`"
            )
        if not os.path.isdir(authorized) or not any(f.endswith(".key") for f in os.listdir(authorized)):
            raise ConfigError(
                f"{authorized} holds no authorised public keys (*.key), so nobody could connect; "
                f"add one with `python -m optimizer_server keys {keys_dir} --peer NAME`"
            )
        self.public, self.secret = zmq.auth.load_certificate(secret_path)
        self.authorized_dir = authorized
        self._authenticator: ThreadAuthenticator | None = ThreadAuthenticator(context)
        self._authenticator.start()
        self._authenticator.configure_curve(domain="*", location=authorized)
        log.info("CurveZMQ on: %d authorised key(s) in %s", len(os.listdir(authorized)), authorized)

    def apply(self, socket: zmq.Socket) -> None:
        socket.curve_secretkey = self.secret
        socket.curve_publickey = self.public
        socket.curve_server = True

    def stop(self) -> None:
        if self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = None

"""The per-user CurveZMQ keys that authenticate a loopback server and its local clients and workers.

On loopback every process of every user on this machine can connect, so a loopback server
authenticates too (unless started with ``--insecure-loopback``). Nothing needs configuring: the
first server, client or worker that needs the keys makes them, in a directory only this user can
read (0700; every file 0600)::

    ~/.config/zerograds/local-keys/      ($ZEROGRADS_LOCAL_KEYS, else $XDG_CONFIG_HOME/zerograds/...)
        server.key, server.key_secret    the server's key pair
        authorized/local.key             the one authorised client key
        peers/local.key_secret           the client key pair every local client and worker uses

Whoever can read the directory is this user (or root), and the one who owns every job submitted
with it. Because the client also checks the server's key, a process of another user listening on
the port first (a squatter) cannot complete the handshake either: no job, no target image and no
secret goes to it. Only the standard library and pyzmq are imported (the add-on ships this file).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile

import zmq.auth

from .errors import ConfigError

ENV_KEYS_DIR = "ZEROGRADS_LOCAL_KEYS"
ENV_INSECURE = "ZEROGRADS_INSECURE_LOOPBACK"
PEER_NAME = "local"


def local_keys_dir() -> str:
    explicit = os.environ.get(ENV_KEYS_DIR)
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(config, "zerograds", "local-keys")


def insecure_from_environment() -> bool:
    """``ZEROGRADS_INSECURE_LOOPBACK=1``: this process talks to loopback servers without keys."""
    return os.environ.get(ENV_INSECURE, "").strip().lower() in ("1", "true", "yes", "on")


def server_secret_path(directory: str) -> str:
    return os.path.join(directory, "server.key_secret")


def client_paths(directory: str) -> tuple[str, str]:
    """(the server's public key file, the local client key pair file)."""
    return os.path.join(directory, "server.key"), os.path.join(directory, "peers", f"{PEER_NAME}.key_secret")


def ensure_local_keys(directory: str | None = None) -> str:
    """The local key directory, made on first use (atomically: concurrent first users agree on one
    set of keys) and checked to be private. Returns its path."""
    directory = directory or local_keys_dir()
    if not os.path.isdir(directory):
        _create(directory)
    _check_private(directory)
    return directory


def _create(directory: str) -> None:
    parent = os.path.dirname(directory)
    os.makedirs(parent, mode=0o700, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".local-keys-", dir=parent)  # 0700 from the start
    try:
        zmq.auth.create_certificates(staging, "server")
        for sub in ("authorized", "peers"):
            os.mkdir(os.path.join(staging, sub), 0o700)
        public, _ = zmq.auth.create_certificates(os.path.join(staging, "peers"), PEER_NAME)
        shutil.copy(public, os.path.join(staging, "authorized", f"{PEER_NAME}.key"))
        for root, _, files in os.walk(staging):
            for name in files:
                os.chmod(os.path.join(root, name), 0o600)
        try:
            os.rename(staging, directory)  # atomic; fails when another process got there first
        except OSError:
            if not os.path.isdir(directory):
                raise
    except OSError as exc:
        raise ConfigError(f"cannot create the local keys in {directory}: {exc}") from exc
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)


def _check_private(directory: str) -> None:
    """Like ssh: keys another user could read (or plant) are refused, with the fix."""
    if os.name != "posix":
        return
    paths = [directory, server_secret_path(directory), *client_paths(directory)]
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            raise ConfigError(
                f"the local keys in {directory} are incomplete ({path} is missing); delete the folder "
                "and a new set is made on the next start"
            ) from None
        if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
            raise ConfigError(
                f"{path} must belong to you and be private (chmod 700 for the folder, 600 for files); "
                f"it is mode {stat.S_IMODE(info.st_mode):o}, owner uid {info.st_uid}. Fix it or delete "
                f"{directory} to have new keys made"
            )

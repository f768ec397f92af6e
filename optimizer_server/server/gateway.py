"""The server's public socket, kept in a process of its own so that no peer can take the server down.

Why: libzmq (4.3.5 and its master branch) aborts the whole process when a ROUTER socket's
automatically assigned routing id equals one a peer chose for itself (``zmq_assert (ok)`` in
``routing_socket_base_t::add_out_pipe``). A peer that announces ``\\x00`` + the ROUTER's next counter
value as its routing id, then connects a second time without one, triggers it; no socket option
prevents it (docs/security.md has the upstream report). So the ROUTER lives here, in a small
process that imports only pyzmq, and relays every message to the server over a private ``ipc://``
link. If a peer aborts this process, the server keeps every job, learns that all peers are gone
(their renders are re-queued), and starts a new gateway on the same endpoint; clients and workers
reconnect and re-register on their own. Two more layers make the abort hard to reach at all: the
routing-id counter starts at a random value (libzmq never seeds ``rand()``, so it starts at the same
value in every process), and peers must authenticate before libzmq attaches them to the ROUTER.

    python -m optimizer_server.server.gateway --bind ADDR --link ipc://PATH [--keys DIR]

Link frames, gateway → server: ``[b"m", routing id, user id, *message]`` (user id: the peer's
CurveZMQ public key, empty without authentication) and ``[b"u", routing id]`` (undeliverable: the
peer is gone or not reading). Server → gateway: ``[routing id, *message]``. The gateway exits when
its standard input closes, i.e. when the server process is gone.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import errno
import logging
import os
import secrets
import sys
import time

import zmq

READY_LINE = "ZEROGRADS_GATEWAY_READY"
PEER_MESSAGE = b"m"
UNDELIVERABLE = b"u"
_DRAIN_BATCH = 500
_BIND_RETRY_S = 5.0  # a restarted gateway may find the port still held by its dying predecessor

log = logging.getLogger("zerograds.gateway")


def randomise_routing_ids() -> bool:
    """Seed libc's rand(), which libzmq draws a ROUTER's first routing id from (it never seeds it, so
    every process's first ROUTER hands out \\x00 6b 8b 45 67, then counts up). True when done."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        libc.srand(ctypes.c_uint(secrets.randbits(32)))
        return True
    except (OSError, AttributeError):  # no C library to reach (e.g. an unusual platform): ids stay guessable
        return False


def open_router(context: zmq.Context, bind: str, max_msg_size: int, auth=None) -> zmq.Socket:
    """The public ROUTER, bound (retrying while the address is still in use)."""
    sock = context.socket(zmq.ROUTER)
    sock.linger = 0
    sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # sending to a vanished peer raises instead of vanishing
    sock.setsockopt(zmq.MAXMSGSIZE, max_msg_size)
    if auth is not None:
        auth.apply(sock)
    deadline = time.monotonic() + _BIND_RETRY_S
    while True:
        try:
            sock.bind(bind)
            return sock
        except zmq.ZMQError as exc:
            if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                sock.close()
                raise
            time.sleep(0.1)


def user_id(frames) -> bytes:
    """The authenticated peer's public key (Z85), from the message's metadata; b"" without auth."""
    for frame in frames[1:2]:
        try:
            return frame.get("User-Id").encode()
        except (zmq.ZMQError, AttributeError, UnicodeError):
            break
    return b""


def relay(front: zmq.Socket, link: zmq.Socket, stdin_fd: int) -> None:
    """Forward until stdin closes (the server is gone)."""
    poller = zmq.Poller()
    poller.register(front, zmq.POLLIN)
    poller.register(link, zmq.POLLIN)
    poller.register(stdin_fd, zmq.POLLIN)
    while True:
        events = dict(poller.poll(1000))
        if stdin_fd in events and not os.read(stdin_fd, 4096):
            return
        if front in events:
            for _ in range(_DRAIN_BATCH):
                try:
                    frames = front.recv_multipart(zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    break
                _send_to_server(link, [PEER_MESSAGE, frames[0].bytes, user_id(frames), *frames[1:]], stdin_fd)
        if link in events:
            for _ in range(_DRAIN_BATCH):
                try:
                    frames = link.recv_multipart(zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    break
                try:
                    front.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)
                except zmq.Again:  # the peer is not reading
                    _send_to_server(link, [UNDELIVERABLE, frames[0].bytes], stdin_fd)
                except zmq.ZMQError as exc:
                    if exc.errno != zmq.EHOSTUNREACH:
                        raise
                    _send_to_server(link, [UNDELIVERABLE, frames[0].bytes], stdin_fd)


def _send_to_server(link: zmq.Socket, frames, stdin_fd: int) -> None:
    # Blocks while the server is busy (back-pressure on the peers), but not past the server's death.
    while not link.poll(200, zmq.POLLOUT):
        if _closed(stdin_fd):
            raise SystemExit(0)
    link.send_multipart(frames, copy=False)


def _closed(fd: int) -> bool:
    poller = zmq.Poller()
    poller.register(fd, zmq.POLLIN)
    return bool(poller.poll(0)) and not os.read(fd, 4096)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optimizer_server.server.gateway")
    parser.add_argument("--bind", required=True)
    parser.add_argument("--link", required=True, help="the server's ipc:// endpoint")
    parser.add_argument("--keys", help="CurveZMQ key directory (server.key_secret, authorized/)")
    parser.add_argument("--max-msg-size", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    randomise_routing_ids()
    context = zmq.Context()
    auth = None
    if args.keys:
        from .auth import ServerAuth

        auth = ServerAuth(context, args.keys)
    try:
        front = open_router(context, args.bind, args.max_msg_size, auth)
    except zmq.ZMQError as exc:
        print(f"error: cannot bind {args.bind}: {exc}", file=sys.stderr, flush=True)
        return 2
    link = context.socket(zmq.PAIR)
    link.linger = 0
    link.sndhwm = link.rcvhwm = 100_000
    link.connect(args.link)
    print(f"{READY_LINE} {front.getsockopt(zmq.LAST_ENDPOINT).decode()}", flush=True)
    try:
        relay(front, link, sys.stdin.fileno())
    finally:
        front.close(0)
        link.close(0)
        if auth is not None:
            auth.stop()
        context.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())

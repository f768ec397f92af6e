"""Parent-death watch: a child process exits when the process that started it dies.

The parent (Blender, the batch runner) starts the optimizer server and the render workers with a
pipe as their standard input and never writes to it. The operating system closes the parent's
end however the parent ends — a normal exit, a crash, ``kill -9`` — and the child then reads end
of file. ``exit_when_stdin_closes`` watches for that on a daemon thread: it asks the process to
stop (``on_close``, e.g. the server's orderly shutdown) and, should that hang, ends it after
``grace_s`` seconds. Works the same on Linux, macOS and Windows; needs nothing but the standard
library.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable

LIFELINE_FLAG = "--lifeline"  # command-line flag of the workers: watch stdin


def _default_stop() -> None:
    import signal

    os.kill(os.getpid(), signal.SIGTERM)  # the server's SIGTERM handler shuts it down in order


def exit_when_stdin_closes(on_close: Callable[[], None] | None = None, grace_s: float = 10.0) -> threading.Thread:
    """Start the watch; returns its (daemon) thread."""

    def watch() -> None:
        try:
            fd = sys.stdin.fileno()
            # os.read, not sys.stdin: a thread blocked inside the buffered reader holds its lock,
            # and Python aborts at exit when another thread owns that lock.
            while os.read(fd, 4096):
                pass  # the parent never writes; anything read is ignored
        except (OSError, ValueError, AttributeError):
            pass  # stdin closed or not a pipe: treat like end of file
        timer = threading.Timer(grace_s, lambda: os._exit(3))
        timer.daemon = True
        timer.start()
        (on_close or _default_stop)()

    thread = threading.Thread(target=watch, name="zerograds-lifeline", daemon=True)
    thread.start()
    return thread

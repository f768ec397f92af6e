"""The optimizer server: jobs, the render-worker pool and the ZeroMQ serve loop.

core.py     OptimizerServer: one ROUTER socket, one thread, a poll loop with timers
jobs.py     Job: one optimisation (method + target + the renders of the current iteration)
jobparts.py JobConfig (what a client submitted), RenderBatch (the renders one step waits for)
jobrecords.py  the job's history, progress messages, result and checkpoints
roster.py   WorkerRoster: registered workers, outstanding render tasks, chunking, timeouts
store.py    JobStore: atomic job files (config, target, checkpoint after every iteration)
auth.py     CurveZMQ keys and the ZAP authenticator
gateway.py  the public socket's own process (so that no peer can abort the server); peers.py: its handle
access.py   who owns which job, and the per-client quotas
config.py   ServerConfig
"""

from .config import ServerConfig

__all__ = ["OptimizerServer", "ServerConfig"]


def __getattr__(name):
    # lazy: the gateway process imports this package and must not pay for torch
    if name == "OptimizerServer":
        from .core import OptimizerServer

        return OptimizerServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

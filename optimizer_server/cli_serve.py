"""The `serve` and `keys` subcommands of ``python -m optimizer_server``.

    python -m optimizer_server serve [--bind tcp://127.0.0.1:5555] [--jobs-dir DIR] [--resume JOB_DIR]
                                     [--supervise] [--insecure-loopback] [--keys DIR]
    python -m optimizer_server keys KEYS [--peer NAME]

``__main__`` wires them with ``add_serve_parser(subparsers)`` / ``add_keys_parser(subparsers)``;
each sets ``func`` on its namespace (``run_serve`` / ``run_keys``) and returns an exit code.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .wire.errors import ConfigError, ZeroGradsError

READY_LINE = "ZEROGRADS_SERVER_READY"  # printed with the endpoint once the socket is bound
JOB_LINE = "ZEROGRADS_JOB"  # printed with a job's folder when it is accepted or resumed
END_LINE = "ZEROGRADS_JOB_END"  # printed with the final state and folder when a job ends


def add_serve_parser(subparsers) -> argparse.ArgumentParser:
    from .server.config import ServerConfig

    d = ServerConfig()
    p = subparsers.add_parser(
        "serve",
        help="run the optimizer server",
        description="Run the optimizer server: clients submit jobs, render workers connect.",
    )
    _add_access_options(p, d)
    _add_limit_options(p, d)
    _add_timing_options(p, d)
    p.add_argument("-v", "--verbose", action="store_true", help="log every iteration")
    p.set_defaults(func=run_serve)
    return p


def _add_access_options(p, d) -> None:
    """Where it listens, who may connect, which jobs it resumes, how it is supervised."""
    from .server.config import default_jobs_dir

    p.add_argument(
        "--bind",
        default=d.bind,
        help="address to listen on (default %(default)s, loopback only; a port of * picks a free one). "
        "Any non-loopback address requires --keys",
    )
    p.add_argument("--jobs-dir", default=default_jobs_dir(), help="where job directories go (default %(default)s)")
    p.add_argument(
        "--resume",
        action="append",
        default=[],
        metavar="JOB_DIR",
        help="continue a stopped job from its directory (repeatable)",
    )
    p.add_argument(
        "--keys",
        dest="keys_dir",
        metavar="DIR",
        help="CurveZMQ key directory (server.key_secret, authorized/*.key); turns authentication on",
    )
    p.add_argument("--require-auth", action="store_true", help=argparse.SUPPRESS)  # the default now
    p.add_argument(
        "--insecure-loopback",
        action="store_true",
        default=None,
        help="on loopback, let every local process in without keys, and make every job everyone's "
        "(the old behaviour). Default: local clients and workers authenticate with this user's "
        "local keys, made on first use (also: ZEROGRADS_INSECURE_LOOPBACK=1)",
    )
    p.add_argument(
        "--supervise",
        action="store_true",
        help="run the server in a child process and restart it, with --resume of every job, when it dies",
    )
    p.add_argument("--supervised-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--socket-in-process",
        action="store_true",
        help="keep the public socket in this process instead of a gateway process (then a hostile "
        "peer can abort the server: see docs/security.md)",
    )


def _add_limit_options(p, d) -> None:
    """Quotas: what one client or job may ask of a shared server."""
    p.add_argument(
        "--max-jobs-per-client",
        type=int,
        default=d.max_jobs_per_client,
        metavar="N",
        help="unfinished jobs one client may hold (default %(default)s)",
    )
    p.add_argument(
        "--max-batch-samples",
        type=int,
        default=d.max_batch_samples,
        metavar="N",
        help="renders one iteration of a job may ask for (default %(default)s)",
    )
    p.add_argument(
        "--max-scene-mb",
        type=int,
        default=d.max_scene_bytes >> 20,
        metavar="MB",
        help="largest scene (.blend with packed assets) a job may carry (default %(default)s)",
    )
    p.add_argument(
        "--max-parameters",
        type=int,
        default=d.max_parameters,
        metavar="N",
        help="parameter values one job may optimise (default %(default)s)",
    )
    p.add_argument(
        "--max-target-pixels",
        type=int,
        default=d.max_target_pixels,
        metavar="N",
        help="pixels of a target image (default %(default)s)",
    )


def _add_timing_options(p, d) -> None:
    """Heartbeats, render time-outs and the torch device."""
    p.add_argument(
        "--heartbeat-timeout",
        type=float,
        default=d.heartbeat_timeout_s,
        metavar="S",
        help="seconds of worker silence before its renders go elsewhere (default %(default)s)",
    )
    p.add_argument(
        "--heartbeat-interval",
        type=float,
        default=d.heartbeat_interval_s,
        metavar="S",
        help="heartbeat period asked of workers (default %(default)s)",
    )
    p.add_argument(
        "--render-timeout",
        type=float,
        default=d.render_timeout_s,
        metavar="S",
        help="seconds per image before a render is re-sent elsewhere (default %(default)s)",
    )
    p.add_argument("--device", default=d.device, help="torch device for losses and methods (default %(default)s)")
    p.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        metavar="N",
        help="torch intra-op threads on CPU (default %(default)s: the server's tensors are small, and "
        "extra threads cost milliseconds of hand-off when the renders keep the cores busy; 0: "
        "torch's default)",
    )


def run_serve(args) -> int:
    if args.insecure_loopback is None:
        from .wire.local_keys import insecure_from_environment

        args.insecure_loopback = insecure_from_environment()
    if args.supervise:
        from .supervise import run_supervised

        return run_supervised(args)
    from .server import OptimizerServer

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    if args.torch_threads > 0:
        import torch

        torch.set_num_threads(args.torch_threads)
    try:
        server = OptimizerServer(_config(args))
        endpoint = server.start()
    except ZeroGradsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server.announce = _announce
    skipped = _resume_all(server, args.resume)
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    if args.supervised_child:  # the supervisor's end of our stdin closes when it dies: stop with it
        threading.Thread(target=lambda: (sys.stdin.read(), server.stop()), daemon=True).start()
    print(f"{READY_LINE} {endpoint}", flush=True)
    if skipped:
        print(f"serving the other jobs; {skipped} job folder(s) skipped (see the errors above)", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
    return 0


def _config(args):
    from .server import ServerConfig

    if args.heartbeat_timeout <= args.heartbeat_interval:
        raise ConfigError("--heartbeat-timeout must be longer than --heartbeat-interval")
    for flag in ("max_jobs_per_client", "max_batch_samples", "max_target_pixels", "max_parameters", "max_scene_mb"):
        if getattr(args, flag) < 1:
            raise ConfigError(f"--{flag.replace('_', '-')} must be 1 or more")
    return ServerConfig(
        bind=args.bind,
        jobs_dir=args.jobs_dir,
        keys_dir=args.keys_dir,
        insecure_loopback=args.insecure_loopback,
        isolate_peers=not args.socket_in_process,
        heartbeat_timeout_s=args.heartbeat_timeout,
        heartbeat_interval_s=args.heartbeat_interval,
        render_timeout_s=args.render_timeout,
        device=args.device,
        max_jobs_per_client=args.max_jobs_per_client,
        max_batch_samples=args.max_batch_samples,
        max_target_pixels=args.max_target_pixels,
        max_parameters=args.max_parameters,
        max_scene_bytes=args.max_scene_mb << 20,
    )


def _resume_all(server, job_dirs: list[str]) -> int:
    """Resume each job folder; one that cannot be resumed is reported and skipped, the others run."""
    skipped = 0
    for job_dir in job_dirs:
        try:
            server.resume_job(job_dir)
        except ZeroGradsError as exc:
            skipped += 1
            print(f"error: --resume {job_dir}: {exc} (skipped)", file=sys.stderr, flush=True)
    return skipped


def _announce(kind: str, job) -> None:
    """For a supervisor (supervise.py): which job folders to resume should this process die."""
    if kind == "job":
        print(f"{JOB_LINE} {job.store.directory}", flush=True)
    else:
        print(f"{END_LINE} {job.state} {job.store.directory}", flush=True)


def add_keys_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "keys",
        help="create CurveZMQ keys for an authenticating server",
        description="Create KEYS/server.key(_secret) (once) and, with --peer, a key pair "
        "for a client or worker whose public key is authorised.",
    )
    p.add_argument("keys_dir", metavar="KEYS")
    p.add_argument("--peer", action="append", default=[], metavar="NAME", help="also create and authorise a peer")
    p.set_defaults(func=run_keys)
    return p


def run_keys(args) -> int:
    from .server.auth import create_peer_keys, create_server_keys

    try:
        print(f"server public key: {create_server_keys(args.keys_dir)}  (give this to clients and workers)")
        for name in args.peer:
            print(
                f"peer {name}: {create_peer_keys(args.keys_dir, name)}  (copy to that machine; "
                "use with --server-key and --key)"
            )
    except ZeroGradsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv=None) -> int:
    """Standalone entry point until ``__main__`` wires these subcommands."""
    parser = argparse.ArgumentParser(prog="python -m optimizer_server.cli_serve")
    sub = parser.add_subparsers(dest="command", required=True)
    add_serve_parser(sub)
    add_keys_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

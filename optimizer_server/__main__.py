"""Command line: ``python -m optimizer_server {demo,methods,serve,keys,workers,run}``."""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import entry_points

from .wire.errors import ZeroGradsError

COMMANDS_GROUP = "zerograds.commands"


def _cmd_methods(args) -> int:
    from .methods import describe_methods

    described = describe_methods()
    if args.json:
        print(json.dumps(described, indent=2, default=str))
        return 0
    for name, info in described.items():
        print(f"{name:10s} {info['description']}")
        if args.verbose:
            for opt, o in info["options"].items():
                print(f"    {opt} = {o['default']!r}: {o['doc']}")
            if info["presets"]:
                print(f"    presets: {', '.join(info['presets'])}")
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_disc_demo

    run_disc_demo(output=args.output, budget=args.budget, seed=args.seed)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m optimizer_server", description="ZeroGrads for Blender: the optimizer server and tools."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("methods", help="list the registered optimisation methods")
    p.add_argument("-v", "--verbose", action="store_true", help="also list every option and preset")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_methods)

    p = sub.add_parser("demo", help="the analytic disc demo (no Blender needed)")
    p.add_argument("--output", default="out/demo-disc", help="folder for the pictures")
    p.add_argument("--budget", type=int, default=1200, help="renders per method")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_demo)

    _add_optional_commands(sub)
    return parser


def _add_optional_commands(sub) -> None:
    """The server's own subcommands, then those other installed packages contribute through the
    ``zerograds.commands`` entry points (the Blender side adds ``run`` for batch jobs). Plugins keep
    the imports one way: this package never imports the add-on, the add-on registers itself here."""
    from .cli_serve import add_keys_parser, add_serve_parser
    from .farm import add_workers_parser

    add_serve_parser(sub)
    add_keys_parser(sub)
    add_workers_parser(sub)
    for entry in entry_points(group=COMMANDS_GROUP):
        try:
            add_parser = entry.load()
        except ImportError:  # a plugin whose own dependencies are missing: skip it, the rest works
            continue
        add_parser(sub)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ZeroGradsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The ``axon`` command line.

Each subcommand lives in its own module under ``bridge/commands/`` and defines
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``. Modules are
discovered by name, so adding a command is adding a file. Heavy imports (torch,
brian2, nest) happen inside ``run`` so ``axon --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import bridge.commands as _commands


def _command_modules():
    for info in sorted(pkgutil.iter_modules(_commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        yield info.name, importlib.import_module(f"bridge.commands.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="axon",
        description="Train spiking networks with learnable delays and run them as spikes in continuous time.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, mod in _command_modules():
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


class CommandError(Exception):
    """An error a command reports to the user as one line, exit status 2."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (CommandError, ValueError, FileNotFoundError, OSError) as exc:
        print(f"axon {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

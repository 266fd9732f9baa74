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
import re
import sys

import bridge.commands as _commands
from sim.errors import AxonError, InputError, is_interrupt


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


class CommandError(InputError):
    """An error a command reports to the user as one line, exit status 2."""


EXIT_ERROR = 2
_NUMPY_SCALAR = re.compile(r"\bnp\.(?:float|int|uint|complex|bool|str)_?\d*\(([^()]*)\)")
EXIT_INTERRUPTED = 130


def error_line(command: str, exc: BaseException) -> str:
    """The one line ``axon <command>: error: ...`` for a reported error (no traceback)."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    msg = _NUMPY_SCALAR.sub(r"\1", msg)  # np.float64(nan) -> nan
    if isinstance(exc, OSError) and not isinstance(exc, AxonError) and exc.filename:
        msg = (f"{exc.filename}: {exc.strerror[0].lower() + exc.strerror[1:]}" if exc.strerror
               else msg if str(exc.filename) in msg else f"{exc.filename}: {msg}")
    return f"axon {command}: error: {msg}"


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand. Errors axon reports (``AxonError``, ``ValueError``, ``OSError``)
    become one line on stderr and exit status 2; Ctrl-C prints ``interrupted`` and exits
    with 130 (commands save what they finished before re-raising it). Anything else is a
    bug and keeps its traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print(f"axon {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (AxonError, ValueError, OSError) as exc:
        print(error_line(args.command, exc), file=sys.stderr)
        return EXIT_ERROR
    except SystemError as exc:  # Ctrl-C inside compiled code arrives wrapped in a SystemError
        if is_interrupt(exc):
            print(f"axon {args.command}: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

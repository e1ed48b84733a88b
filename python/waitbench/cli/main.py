# SPDX-License-Identifier: Apache-2.0
"""Entry point of the ``waitbench`` command: builds the parser from the subcommand modules and maps
errors to one line and an exit code (2 for bad usage or input, 1 for a failed measurement)."""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import NoGpuError, NvmlError, ResultsError, WaitbenchError
from .common import EXIT_FAILURE, EXIT_USAGE, UsageError, fail

# Subcommand modules, in --help order. Each defines ``register(subparsers) -> None`` which adds its
# parser and sets ``handler`` (a function Namespace -> exit code) as a default.
SUBCOMMANDS = ["run", "sweep", "strategies", "report", "compare", "diagnose", "nccl"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too by default)
        sys.exit(fail(f"{self.prog}: {message}", EXIT_USAGE))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="waitbench", description="What a waiting GPU really costs: reported vs real "
                     "utilization, concurrent throughput, wake-up latency, power and host CPU per wait strategy.")
    parser.add_argument("--version", action="version", version=f"waitbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f".{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.{name}":
                continue  # subcommand not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.handler(args) or 0)
    except (ValueError, UsageError, ResultsError) as exc:
        return fail(str(exc), EXIT_USAGE)
    except (NoGpuError, NvmlError) as exc:
        return fail(str(exc), EXIT_FAILURE)
    except WaitbenchError as exc:
        return fail(str(exc), EXIT_FAILURE)
    except KeyboardInterrupt:
        return fail("interrupted; results written so far are kept", 130)


if __name__ == "__main__":
    sys.exit(main())

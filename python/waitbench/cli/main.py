# SPDX-License-Identifier: Apache-2.0
"""Entry point of the ``waitbench`` command: the parser of every subcommand, errors mapped to exit codes.

Errors become one line and an exit code (2 for bad usage or input, 1 for a failed measurement).

Output into a closed pipe (``waitbench strategies --json | head -1``) ends the command quietly
with exit status 141, as ``git`` and ``ls`` end there (killed by SIGPIPE: 128 + 13), so a shell
with ``pipefail`` still sees that the output was cut. Warnings (e.g. lines of a results file that
were skipped) are one line each on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from typing import Any

from .._native import build_summary
from .._version import __version__
from ..errors import NoGpuError, NvmlError, ResultsError, WaitbenchError
from ..inert import inert
from .common import EXIT_FAILURE, EXIT_USAGE, UsageError, err_console, fail

# Subcommand modules, in --help order. Each defines ``register(subparsers) -> None`` which adds its
# parser and sets ``handler`` (a function Namespace -> exit code) as a default.
SUBCOMMANDS = ["run", "sweep", "strategies", "report", "compare", "diagnose", "nccl", "dispatch", "profiler"]
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a command killed by SIGPIPE, as git and ls are


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too by default)
        sys.exit(fail(f"{self.prog}: {message}", EXIT_USAGE))

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:  # argparse swallows OSError here; a closed pipe must end as everywhere else (exit 141)
            (file or sys.stderr).write(message)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand, in --help order."""
    parser = _Parser(prog="waitbench", description="What a waiting GPU really costs: reported vs real "
                     "utilization, concurrent throughput, wake-up latency, power and host CPU per wait strategy.")
    parser.add_argument("--version", action="version", version=f"waitbench {__version__} ({build_summary()})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMANDS:
        importlib.import_module(f".{name}", __package__).register(sub)
    return parser


def _show_warning(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None,
                  line: str | None = None) -> None:
    err_console.print(inert(f"waitbench: warning: {message}"), markup=False, soft_wrap=True)


def _quiet_broken_pipe() -> int:
    """Stdout's reader has gone: point stdout at /dev/null so the interpreter's final flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


def _os_message(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: sys.argv); return the exit code."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.simplefilter("ignore", ResourceWarning)  # a file an interrupted import left open: not news
            warnings.showwarning = _show_warning
            try:
                return _main(argv)
            finally:
                sys.stdout.flush()  # buffered output (--help, print) meets a closed pipe here, not at exit
    except BrokenPipeError:
        return _quiet_broken_pipe()


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.handler(args) or 0)
    except BrokenPipeError:
        raise
    except (ValueError, UsageError, ResultsError) as exc:
        return fail(str(exc), EXIT_USAGE)
    except (NoGpuError, NvmlError) as exc:
        return fail(str(exc), EXIT_FAILURE)
    except WaitbenchError as exc:
        return fail(str(exc), EXIT_FAILURE)
    except OSError as exc:  # a file or device that failed mid-run: one line, never a traceback
        return fail(_os_message(exc), EXIT_FAILURE)
    except KeyboardInterrupt:
        return fail("interrupted; results written so far are kept", 130)


if __name__ == "__main__":
    sys.exit(main())

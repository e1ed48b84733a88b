# SPDX-License-Identifier: Apache-2.0
"""What every subcommand shares: flags defined once, the consoles, and the error-to-exit mapping.

Progress and messages go to stderr, so ``--json`` output on stdout stays machine-readable.
"""

from __future__ import annotations

import argparse
import errno
from collections.abc import Sequence
from typing import Any

from rich.console import Console

from ..inert import inert

# Exit codes: 0 ok, 1 a measurement or runtime failure, 2 bad usage or input (argparse's code).
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

class _Console(Console):
    """A rich Console whose closed pipe ends the command as ``git``'s does (exit 141 from main), not rich's exit 1."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "the reader of this output has gone")


def console(**kwargs: Any) -> Console:
    """A Console of the CLI (no highlighting of numbers, the CLI's broken-pipe rule)."""
    return _Console(highlight=False, **kwargs)


err_console = console(stderr=True)
out_console = console()


class UsageError(Exception):
    """Bad input found after argument parsing: printed as one line, exit 2."""


def add_format_flag(p: argparse.ArgumentParser, help: str = "output format (default: table)") -> None:
    """--format, shared by every subcommand that prints tables: each renders as each of report.render.FORMATS."""
    from ..report.render import FORMATS

    p.add_argument("--format", choices=FORMATS, default=None, help=help)


def output_format(args: argparse.Namespace) -> str:
    """--format, with --json as its shorthand; contradicting them is a usage error."""
    if args.json and args.format not in (None, "json"):
        raise UsageError(f"--json contradicts --format {args.format}")
    return "json" if args.json else (args.format or "table")


def add_output_flags(p: argparse.ArgumentParser) -> None:
    """--quiet / --json, shared by every subcommand that prints results."""
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars or notes on stderr")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout instead of a table")


GPU_INDEX_HELP = ("an nvidia-smi index (NVML order: as nvidia-smi -i, diagnose --gpus and dcgm-exporter's gpu label, "
                  "not CUDA's order, which CUDA_DEVICE_ORDER and CUDA_VISIBLE_DEVICES change), a UUID or a PCI bus id; "
                  "found in CUDA by its UUID")


def add_gpu_flag(p: argparse.ArgumentParser) -> None:
    """--gpu, a GPU named as nvidia-smi names it, shared by the measuring subcommands."""
    p.add_argument("--gpu", default=None, metavar="GPU",
                   help=f"the GPU to measure: {GPU_INDEX_HELP} (default: the first GPU CUDA sees)")


def given(value: str | None) -> bool:
    """Whether an optional string flag was given: an empty string was given (and is checked as a value)."""
    return value is not None


def fail(message: str, code: int = EXIT_USAGE) -> int:
    """Print one line on stderr and return the exit code (no traceback)."""
    err_console.print(inert(f"waitbench: {message}"), markup=False, soft_wrap=True)  # one line, controls escaped
    return code


def add_measure_flags(p: argparse.ArgumentParser, default_workloads: Sequence[str], options_help: str) -> None:
    """Flags of the measuring subcommands (run, sweep): GPU, workloads, strategy options, output."""
    from ..workloads import BUILTIN

    add_gpu_flag(p)
    p.add_argument("--workloads", default=",".join(default_workloads), metavar="LIST",
                   help=f"concurrent workloads, comma-separated from {', '.join(BUILTIN)} (default: %(default)s)")
    p.add_argument("-o", "--option", action="append", default=[], dest="options", metavar="KEY=VALUE",
                   help=f"set a strategy option (names, defaults and ranges: `waitbench strategies`); repeatable. "
                        f"{options_help}")
    p.add_argument("--out", metavar="FILE", help="JSON Lines file to append to (default: results/<timestamp>.jsonl)")
    add_output_flags(p)


def parse_options(items: Sequence[str], names: Sequence[str], argument: str = "-o") -> dict[str, str]:
    """``-o KEY=VALUE`` items as {KEY: VALUE}.

    Each KEY must be one of ``names`` and given once (ValueError naming the item otherwise); the values
    are checked by the option they set.
    """
    from ..errors import invalid

    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in names:
            raise invalid(argument, item, f"KEY=VALUE with KEY one of {', '.join(names)}")
        if key in out:
            raise invalid(argument, item, f"each option once ({key} is given twice)")
        out[key] = value.strip()
    return out


def split_list(text: str, argument: str, valid: tuple[str, ...] | None = None) -> list[str]:
    """A comma-separated CLI list, each item checked against ``valid`` (ValueError naming the argument)."""
    from ..errors import invalid

    items = list(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))  # in order, once each
    if not items:
        raise invalid(argument, text, "a non-empty comma-separated list")
    for item in items:
        if valid is not None and item not in valid:
            raise invalid(argument, item, "one of " + ", ".join(valid))
    return items


def default_results_path() -> str:
    """Where results go without --out: results/<local timestamp>.jsonl."""
    import time

    return time.strftime("results/%Y%m%d-%H%M%S.jsonl")

# SPDX-License-Identifier: Apache-2.0
"""The ``waitbench`` command and ``python -m waitbench``: Ctrl-C at any moment ends in one line, never a traceback.

Why a module of its own that imports nothing of waitbench at its top: the CLI's modules (rich,
argparse, the strategy table, numpy) take a few hundred milliseconds to load, and a Ctrl-C that
lands while they load would print a KeyboardInterrupt traceback from deep inside an import. So the
SIGINT handler is set first: while modules load, and again once the command has returned and the
interpreter shuts down, Ctrl-C prints ``waitbench: interrupted`` and exits 130 at once (nothing is
written then that could be lost). While the command runs, Python's own handler is back, so Ctrl-C
raises KeyboardInterrupt where the command is and it ends as the CLI says (results written so far
kept, waiters released, exit 130). What runs before this module can act is the interpreter's own
start (``site``) and ``waitbench/__init__`` (kept to the version and the exception types).
"""

import os
import signal
import sys

EXIT_INTERRUPTED = 128 + signal.SIGINT  # what a shell reports for a command ended by Ctrl-C


def _interrupted(signum: int, frame: object) -> None:
    """Ctrl-C while modules load or the interpreter ends: one line and exit, no Python code left to unwind."""
    try:
        os.write(2, b"waitbench: interrupted\n")
    finally:
        os._exit(EXIT_INTERRUPTED)


def _quiet(previous: object) -> None:
    """Ctrl-C ends at once from now on, unless the caller ignores it (a background job)."""
    if previous is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _interrupted)


def main() -> int:
    """Run the CLI on ``sys.argv``; return its exit code (130 for Ctrl-C at any moment)."""
    previous = signal.getsignal(signal.SIGINT)
    _quiet(previous)
    try:
        from .cli.main import main as cli_main
    finally:
        if previous is not None:  # None: set outside Python, left as it is
            signal.signal(signal.SIGINT, previous)  # Python's handler, so Ctrl-C reaches the command
    try:
        code = cli_main()
    except KeyboardInterrupt:  # outside a subcommand's handler (e.g. its modules loading in build_parser)
        _quiet(previous)
        os.write(2, b"waitbench: interrupted\n")
        return EXIT_INTERRUPTED
    _quiet(previous)  # for the interpreter's shutdown after we return
    return code


if __name__ == "__main__":
    sys.exit(main())

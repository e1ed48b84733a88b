# SPDX-License-Identifier: Apache-2.0
"""The ``waitbench`` command and ``python -m waitbench``: Ctrl-C at any moment ends in one line, never a traceback.

Why a module of its own that sets SIGINT handling as it is imported, before anything else of
waitbench loads: the CLI's modules (rich, argparse, the strategy table, numpy) take a few hundred
milliseconds to load, and a Ctrl-C that lands while they load would print a KeyboardInterrupt
traceback from deep inside an import. This module is only ever the program's entry (pip's wrapper
script imports it, ``-m`` runs it), never a library import. While modules load, and again once the
command has returned and the interpreter shuts down, Ctrl-C prints ``waitbench: interrupted`` and
exits 130 at once (nothing is being written then that could be lost). While the command runs,
Python's own handler is back, so Ctrl-C raises KeyboardInterrupt where the command is and it ends
as the CLI says (results written so far kept, waiters released, exit 130).

What runs before the first line below can act: the interpreter's own start (``site``, the
environment's ``.pth`` files, pip's wrapper), ``waitbench/__init__`` (the version and a table of
lazy names) and the import of ``signal``.
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


_PREVIOUS = signal.getsignal(signal.SIGINT)  # Python's handler, SIG_IGN, or None (set outside Python)
if _PREVIOUS is not signal.SIG_IGN:  # here, not in a function: no frame of ours but this one before it is set
    signal.signal(signal.SIGINT, _interrupted)


def main() -> int:
    """Run the CLI on ``sys.argv``; return its exit code (130 for Ctrl-C at any moment)."""
    try:  # everything in one try: a KeyboardInterrupt between two of these lines is caught too
        from .cli.main import main as cli_main
        if _PREVIOUS is not None:
            signal.signal(signal.SIGINT, _PREVIOUS)  # Python's handler, so Ctrl-C reaches the command
        code = cli_main()
        _quiet(_PREVIOUS)  # for the interpreter's shutdown after we return
        return code
    except KeyboardInterrupt:  # outside a subcommand's handler (e.g. its modules loading in build_parser)
        _quiet(_PREVIOUS)
        os.write(2, b"waitbench: interrupted\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

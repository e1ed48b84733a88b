# SPDX-License-Identifier: Apache-2.0
"""The CLI run in the test's process (fakes patched into it apply): exit code, stdout and stderr."""

from __future__ import annotations

import contextlib
import io

from waitbench.cli.main import main


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``waitbench ARGV`` in this process; argparse's own exits become their code."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own --help / errors
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()

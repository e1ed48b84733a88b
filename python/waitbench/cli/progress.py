# SPDX-License-Identifier: Apache-2.0
"""A rich progress bar on stderr that counts measurement steps (or nothing, with --quiet)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .common import err_console


@contextmanager
def steps(total: int, quiet: bool) -> Iterator[Callable[[str], None]]:
    """Yields ``advance(message)``: each call completes one step and shows what runs next."""
    if quiet:
        yield lambda _msg: None
        return
    with Progress(TextColumn("{task.description:<48}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=False) as bar:
        task = bar.add_task("starting", total=total)
        first = [True]

        def advance(message: str) -> None:
            if not first[0]:
                bar.advance(task)
            first[0] = False
            bar.update(task, description=escape(message))  # a workload's own name may hold "[...]"

        yield advance
        bar.update(task, completed=total, description="done")

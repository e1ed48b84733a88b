# SPDX-License-Identifier: Apache-2.0
"""``Monitor``: reported vs real utilization of any code, and a verdict such as "busy-waiting".

Example::

    with waitbench.Monitor(gpus=[0], idle_s=1.0) as m:
        run_my_code()
    print(m)                      # a table: reported, SM activity, pipes, DRAM, power over idle, verdict
    m.summary()[0].verdict        # 'busy', 'busy-waiting', 'idle', 'shared' or 'unknown'

Why a thin layer over :class:`~waitbench.telemetry.sampler.Sampler`: the monitored code runs in this
process, so the verdict is taken "from inside" (any other compute process on the GPU makes it
``shared``), and the idle baseline that turns power into "power over idle" is measured or given here.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .diagnose.render import render_notes, render_table
from .diagnose.rows import VerdictRow, verdict_rows
from .errors import WaitbenchError, invalid
from .telemetry.sampler import DEFAULT_PERIOD_S, Sampler
from .telemetry.summary import WindowSummary


class Monitor:
    """Watches GPUs while your code runs; ``summary()`` gives a verdict row per GPU.

    Args:
        gpus: CUDA indices (default ``[0]``), UUIDs, PCI bus ids or ``'nvml:N'``; None for every GPU.
        idle_s: measure an idle baseline of this many seconds at :meth:`begin` (>= 1 s is
            meaningful; nothing of yours should run on the GPUs then). Without a baseline, power
            is judged against the power limit only.
        idle: an idle baseline measured earlier: a WindowSummary (one GPU) or a mapping UUID ->
            WindowSummary, e.g. ``other_monitor.idle``.
        period_s: sampler tick; thread: a host thread name or id whose CPU use to report.
    """

    def __init__(self, gpus: Sequence[int | str] | None = (0,), *, idle_s: float | None = None,
                 idle: WindowSummary | Mapping[str, WindowSummary] | None = None,
                 period_s: float = DEFAULT_PERIOD_S, thread: str | int | None = None) -> None:
        if idle_s is not None and (isinstance(idle_s, bool) or not isinstance(idle_s, (int, float))
                                   or not 0.0 < idle_s <= 60.0):
            raise invalid("idle_s", idle_s, "seconds in (0, 60], or None")
        if idle_s is not None and idle is not None:
            raise invalid("idle", idle, "None when idle_s is given (measure a baseline or pass one, not both)")
        self.gpus = list(gpus) if gpus is not None else None
        self.idle_s = idle_s
        self.idle: dict[str, WindowSummary] = self._idle_map(idle)
        self._sampler = Sampler(self.gpus, period_s, thread=thread)
        self._summaries: dict[str, WindowSummary] | None = None
        self._open = False

    @staticmethod
    def _idle_map(idle: WindowSummary | Mapping[str, WindowSummary] | None) -> dict[str, WindowSummary]:
        if idle is None:
            return {}
        if isinstance(idle, WindowSummary):
            return {idle.uuid: idle}
        if isinstance(idle, Mapping) and all(isinstance(v, WindowSummary) for v in idle.values()):
            return {v.uuid: v for v in idle.values()}
        raise invalid("idle", type(idle).__name__, "a WindowSummary or a mapping of them, or None")

    def begin(self) -> None:
        """Start watching (after the idle baseline, if ``idle_s`` was given)."""
        if self._open:
            raise WaitbenchError("Monitor is already watching: call end() first")
        self._sampler.start()
        try:
            if self.idle_s:
                self._sampler.begin()
                time.sleep(self.idle_s)
                self.idle = self._sampler.end()
            self._sampler.begin()
        except BaseException:
            self._sampler.stop()
            raise
        self._open = True

    def end(self) -> dict[Any, VerdictRow]:
        """Stop watching and return :meth:`summary`."""
        if not self._open:
            raise WaitbenchError("Monitor is not watching: call begin() first")
        self._open = False
        try:
            self._summaries = self._sampler.end()
        finally:
            self._sampler.stop()
        return self.summary()

    def __enter__(self) -> Monitor:
        self.begin()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self._open:
            return
        if exc_type is None:
            self.end()
        else:  # keep the caller's exception; just free NVML and the thread
            self._open = False
            self._sampler.stop()

    def summary(self) -> dict[Any, VerdictRow]:
        """Per GPU (keyed as given in ``gpus``, or by UUID for ``gpus=None``): a :class:`VerdictRow`."""
        if self._summaries is None:
            raise WaitbenchError("no finished window: use Monitor as a context manager, or begin() then end()")
        rows = verdict_rows(self._summaries.values(), self.idle, observer="inside")
        if self.gpus is None:
            return {r.uuid: r for r in rows}
        return dict(zip(self.gpus, rows, strict=False))

    @property
    def windows(self) -> dict[str, WindowSummary]:
        """The raw window summaries by UUID (series included), e.g. to record them."""
        return dict(self._summaries or {})

    def table(self) -> Any:
        """A rich Table of :meth:`summary`."""
        return render_table(list(self.summary().values()), title="waitbench Monitor")

    def __str__(self) -> str:
        if self._summaries is None:
            return "<waitbench.Monitor: no finished window>"
        from rich.console import Console

        buf = io.StringIO()
        console = Console(file=buf, width=120, highlight=False, no_color=True)
        console.print(self.table())
        for line in render_notes(list(self.summary().values())):
            console.print(line, markup=False, soft_wrap=True)
        return buf.getvalue().rstrip()

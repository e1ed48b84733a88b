# SPDX-License-Identifier: Apache-2.0
"""Watch GPUs and say, per GPU, whether "busy" is work or waiting, who holds it, and which rank is late.

Steps kept apart so each can be reused and tested alone, each module below the ones that read it:

- ``rows``: :class:`VerdictRow`, what one GPU did in one window, and the hint beside its verdict;
  ``processes``: who holds a GPU's resident kernel;
- ``late_rank``: across the GPUs of a host, the one that does not wait while others do;
- ``probe/``: the optional active probe (a child process per GPU) and its cached idle baseline;
- ``refresh``: :func:`judge` turns one window per GPU into a :class:`Refresh` (pure: it runs on
  recorded windows, on any machine);
- ``live``: :func:`windows` samples (the only step that needs NVML), :func:`watch`, :func:`diagnose`,
  :func:`live_refreshes`; ``replay``: a recording judged again, streamed;
- ``render``: the table, notes and JSON; ``exporter``: the Prometheus metrics of ``--serve``,
  ``endpoint``: the HTTP server that serves them.
"""

from __future__ import annotations

from .live import DEFAULT_SECONDS, diagnose, live_refreshes, parse_gpus, watch, windows
from .refresh import Refresh, judge, warm_idle_windows
from .render import render_notes, render_refresh, render_table, rows_to_json
from .replay import recorded_baselines, replay_refreshes
from .rows import GPM_IGNORED, HINTS, VerdictRow, verdict_rows, without_gpm

__all__ = ["DEFAULT_SECONDS", "GPM_IGNORED", "HINTS", "Refresh", "VerdictRow", "diagnose", "judge", "live_refreshes",
           "parse_gpus", "recorded_baselines", "render_notes", "render_refresh", "render_table", "replay_refreshes",
           "rows_to_json", "verdict_rows", "warm_idle_windows", "watch", "windows", "without_gpm"]

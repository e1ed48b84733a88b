# SPDX-License-Identifier: Apache-2.0
"""The launch-shape sweep: how much concurrent throughput each resident `spin` shape takes.

Named axes (as nvbench): blocks x threads x flag location x poll load x flag lines x workload, the cartesian product, each
point measured as interleaved solo/concurrent pairs. Shapes the GPU cannot hold resident all at
once are skipped with the reason instead of being measured.
"""

from __future__ import annotations

import itertools
from typing import Any, Sequence

from ._native import require_gpu
from .runner import Session
from .strategies import resolve

DEFAULT_THREADS = (32, 128, 512, 1024)


def default_blocks(sm_count: int) -> list[int]:
    """1, 2, 4, ... up to the SM count, plus the SM count itself."""
    blocks, b = [], 1
    while b < sm_count:
        blocks.append(b)
        b *= 2
    return blocks + [sm_count]


def points(blocks: Sequence[int], threads: Sequence[int], flags: Sequence[str],
           polls: Sequence[str] = ("volatile",), lines: Sequence[str] = ("shared",)) -> list[dict[str, Any]]:
    """The sweep's option sets (validated against the strategy table)."""
    out = []
    for ln, p, f, t, b in itertools.product(lines, polls, flags, threads, blocks):
        _, opts = resolve("spin", blocks=b, threads=t, flag=f, poll=p, flag_lines=ln)
        out.append(opts)
    return out


def run_sweep(session: Session, blocks: Sequence[int] | None = None, threads: Sequence[int] = DEFAULT_THREADS,
              flags: Sequence[str] = ("host",), polls: Sequence[str] = ("volatile",),
              lines: Sequence[str] = ("shared",)) -> list[dict[str, Any]]:
    """Measure every point against every workload of the session; returns the 'sweep' records."""
    sm_count = require_gpu(session.gpu).device_info(session.gpu)["sm_count"]
    out = []
    for opts in points(blocks or default_blocks(sm_count), threads, flags, polls, lines):
        subject = {"strategy": "spin", "preset": None, "options": opts, "repetition": 0,
                   "strategy_source": "builtin", "host_wait_in_python": False}
        for tw in session.workloads:
            session.progress(f"spin {opts['blocks']}x{opts['threads']} ({opts['flag']}, {opts['poll']}): "
                             f"{tw.workload.name}")
            out.append(session.workload_record(tw, subject, opts, record_kind="sweep"))
    return out

# SPDX-License-Identifier: Apache-2.0
"""The launch-shape sweep: how much concurrent throughput each resident `spin` shape takes.

Named axes (as nvbench): blocks x threads x flag location x poll load x flag lines x workload, the
cartesian product, each point measured as interleaved solo/concurrent pairs. Every point is checked
against the strategy table before the GPU is touched; a shape the GPU cannot hold resident all at
once raises when its waiter is created (ValueError naming the limit), it is not skipped.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from ._native import require_gpu
from .errors import invalid
from .runner import Session
from .strategies import get, resolve

STRATEGY = "spin"
DEFAULT_THREADS = (32, 128, 512, 1024)
# The options the sweep varies, each with a flag of its own; every other option of spin is fixed per sweep.
AXES = ("blocks", "threads", "flag", "poll", "flag_lines")


def default_blocks(sm_count: int) -> list[int]:
    """1, 2, 4, ... up to the SM count, plus the SM count itself."""
    blocks, b = [], 1
    while b < sm_count:
        blocks.append(b)
        b *= 2
    return [*blocks, sm_count]


def choices(axis: str) -> tuple[str, ...]:
    """The values a named axis of the sweep can take (flag, poll, flag_lines), from the strategy table."""
    return tuple(get(STRATEGY).option(axis).choices or ())


def default(axis: str) -> Any:
    """The table's default of an axis: what the sweep measures when the axis is not given."""
    return get(STRATEGY).option(axis).default


def check_not_axes(names: Sequence[str], argument: str = "fixed") -> None:
    """ValueError naming ``argument`` if one of ``names`` is an axis (axes are swept, not fixed)."""
    for name in names:
        if name in AXES:
            raise invalid(argument, name, f"an option of {STRATEGY} that is not a sweep axis ({', '.join(AXES)} "
                                          "have arguments of their own)")


def points(blocks: Sequence[int], threads: Sequence[int], flags: Sequence[str] | None = None,
           polls: Sequence[str] | None = None, lines: Sequence[str] | None = None,
           fixed: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The sweep's option sets, validated against the strategy table.

    ``flags``, ``polls``, ``lines`` default to the table's default of each; ``fixed``: other options
    of spin, the same at every point (an axis cannot be one: ValueError).
    """
    fixed = dict(fixed or {})
    check_not_axes(list(fixed))
    out = []
    for ln, p, f, t, b in itertools.product(lines or (default("flag_lines"),), polls or (default("poll"),),
                                            flags or (default("flag"),), threads, blocks):
        _, opts = resolve(STRATEGY, **fixed, blocks=b, threads=t, flag=f, poll=p, flag_lines=ln)
        out.append(opts)
    return out


def run_sweep(session: Session, blocks: Sequence[int] | None = None, threads: Sequence[int] = DEFAULT_THREADS,
              flags: Sequence[str] | None = None, polls: Sequence[str] | None = None,
              lines: Sequence[str] | None = None, fixed: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Measure every point against every workload of the session; returns the 'sweep' records."""
    if not blocks:
        blocks = default_blocks(require_gpu(session.gpu).device_info(session.gpu)["sm_count"])
    spec = get(STRATEGY)
    out = []
    for opts in points(blocks, threads, flags, polls, lines, fixed):
        subject = {"strategy": spec.name, "preset": None, "options": opts, "repetition": 0, **spec.record_fields()}
        for tw in session.workloads:
            session.progress(f"{spec.name} {opts['blocks']}x{opts['threads']} ({opts['flag']}, {opts['poll']}): "
                             f"{tw.workload.name}")
            out.append(session.workload_record(tw, subject, opts, record_kind="sweep"))
    return out

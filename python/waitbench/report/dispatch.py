# SPDX-License-Identifier: Apache-2.0
"""The dispatch table: one row per mode, from 'dispatch' records only (renders rich, markdown, CSV, JSON).

Why kernel and host receive side by side: without a GPU only the host receive is measured; with
ranks sharing one GPU the gap between the two is the launch plus the GPU's switch between the rank
processes' contexts, not the dispatch itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .render import NA, Column, TableData

_COLUMNS = [  # (header, long header, record key, justify, drop order on a narrow terminal: 1 goes first)
    ("mode", "mode", "strategy", "left", 0),
    ("ranks", "ranks", "world_size", "right", 0),
    ("recv p50", "host receive p50 (us)", "dispatch_recv_p50_us", "right", 0),
    ("recv p99", "host receive p99 (us)", "dispatch_recv_p99_us", "right", 0),
    ("recv p99.9", "host receive p99.9 (us)", "dispatch_recv_p999_us", "right", 3),
    ("last p99", "last rank's host receive p99 (us)", "dispatch_last_recv_p99_us", "right", 5),
    ("kernel p50", "forward kernel start p50 (us)", "dispatch_kernel_p50_us", "right", 4),
    ("kernel p99", "forward kernel start p99 (us)", "dispatch_kernel_p99_us", "right", 0),
    ("last k p99", "last rank's kernel start p99 (us)", "dispatch_last_kernel_p99_us", "right", 6),
    ("idle CPU", "idle host CPU per rank (%)", "host_cpu_pct", "right", 0),
    ("off-CPU", "waits that left the core (ratio)", "dispatch_off_cpu_ratio", "right", 1),
    ("max rate", "max sustained rate (req/s)", "dispatch_max_rate_hz", "right", 7),
    ("util", "idle NVML utilization (%)", "nvml_util_pct", "right", 2),
    ("idle W", "idle power over warm idle (W)", "power_delta_w", "right", 0),
    ("status", "status", "status", "left", 8),
]


def _cell(v: Any) -> str:
    if v is None:
        return NA
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def dispatch_table(records: Sequence[dict[str, Any]]) -> TableData:
    """The table of the 'dispatch' records in ``records`` (in their order); notes say what a n/a means."""
    rows = [r for r in records if r.get("record_kind") == "dispatch"]
    # a metric no row measured (the kernel columns without a GPU) is left out; its reason is a note
    columns = [c for c in _COLUMNS if c[2] in ("strategy", "status") or any(r.get(c[2]) is not None for r in rows)]
    cells, raw, notes = [], [], []
    for r in rows:
        cells.append([_cell(r.get(key)) for _, _, key, _, _ in columns])
        raw.append({key: r.get(key) for _, _, key, _, _ in _COLUMNS})
        if r.get("status") != "ok" and r.get("status_detail"):
            notes.append(f"{r['strategy']}: {r['status']}: {r['status_detail']}")
    if rows and all(r.get("dispatch_kernel_p50_us") is None for r in rows):
        notes.append("kernel start not measured in these records (a run without a GPU: host receive only; "
                     "each record's null_reasons says why)")
    cpu = next((r.get("cpu_model") for r in rows if r.get("cpu_model")), None)
    subtitle = "latency from a request's arrival on rank 0" + (f"; CPU: {cpu}" if cpu else "")
    return TableData(kind="dispatch", title="Dispatch: request arrival on rank 0 -> every rank",
                     subtitle=subtitle,
                     columns=[Column(h, lh, justify=j, drop_order=d) for h, lh, _, j, d in columns], cells=cells,
                     raw=raw, notes=notes)

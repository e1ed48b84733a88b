# SPDX-License-Identifier: Apache-2.0
"""How diagnose (and Monitor) show verdict rows: a rich table, note lines, JSON.

Why apart from the judging: rendering only reads rows, so the same code shows a live window, a
``--watch`` refresh and a replayed recording, and Monitor reuses it for its own rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..inert import inert
from ..report.render import Column, Fitted, TableData
from .processes import describe
from .refresh import Refresh
from .rows import VerdictRow

STYLE = {"busy-waiting": "bold red", "busy": "green", "idle": "dim", "shared": "yellow", "unknown": "magenta"}
LATE_MARK = " (late?)"
UUID_SHOWN = 12  # characters of a UUID shown in the GPU column (the notes below name it in full)
NOTES = ("util: NVML utilization.gpu (share of time a kernel is resident). SM active / occ: GPM SM activity and "
         "occupancy. pipe: the busiest GPM pipe. power: energy-counter W (its change over the idle baseline, where "
         "there is one).")


def _fmt(v: float | None, unit: str = "%", digits: int = 0) -> str:
    return "—" if v is None else f"{v:.{digits}f}{unit}"


def _gpu(label: str) -> str:
    return label if len(label) <= UUID_SHOWN + 1 else label[:UUID_SHOWN] + "…"


def table_data(rows: Sequence[VerdictRow], title: str | None = None) -> Any:
    """The rows as a TableData: the GPU name goes into the subtitle when every GPU has the same one."""
    probed = any(r.probe for r in rows)
    labelled = any(r.label for r in rows)
    names = list(dict.fromkeys(r.name for r in rows))
    one_name = len(names) == 1
    columns = ([Column("GPU", "GPU")] + ([] if one_name else [Column("name", "name", "left", False, drop_order=3)])
               + ([Column("window", "window", "left", stack_order=1)] if labelled else [])
               + [Column("util\n%", "reported util %"), Column("SM\nactive", "SM active %"),
                  Column("SM\nocc", "SM occupancy %", drop_order=1),
                  Column("busiest\npipe", "busiest pipe", no_wrap=False),
                  Column("DRAM", "DRAM %"), Column("power W\n(Δ idle)", "power W (over idle)", no_wrap=False),
                  Column("procs", "processes", drop_order=2)]
               + ([Column("probe", "probe")] if probed else []) + [Column("verdict", "verdict", "left", False)])
    cells = []
    for r in rows:
        pipe, pct = r.busiest_pipe
        pipe_text = "—" if pipe is None else f"{pipe.removeprefix('gpm_').removesuffix('_util_pct')} {pct:.1f}%"
        if r.power_delta_w is not None and r.power_w is not None:
            power = f"{r.power_w:.0f} ({r.power_delta_w:+.0f})"
        else:
            power = _fmt(r.power_w, "")
        probe = []
        if probed:
            ratio = (r.probe or {}).get("ratio")
            probe = [f"{100 * ratio:.0f}%" if ratio is not None else str((r.probe or {}).get("state", "—"))]
        cells.append([_gpu(r.gpu)] + ([] if one_name else [r.name]) + ([r.label or ""] if labelled else [])
                     + [_fmt(r.nvml_util_pct), _fmt(r.gpm_sm_util_pct, digits=1),
                        _fmt(r.gpm_sm_occupancy_pct, digits=1), pipe_text, _fmt(r.gpm_dram_bw_util_pct, digits=1),
                        power, str(len(r.processes)), *probe, r.verdict + (LATE_MARK if r.likely_late else "")])
    styles = {**STYLE, **{v + LATE_MARK: style for v, style in STYLE.items()}}
    subtitle = names[0] if one_name and names else ""
    return TableData("diagnose", title or "waitbench diagnose", subtitle, columns, cells, [], [NOTES], {}, styles)


def render_table(rows: Sequence[VerdictRow], title: str | None = None) -> Any:
    """A rich renderable of the rows that fits the width it is drawn at (columns stacked or dropped, named)."""
    return Fitted(table_data(rows, title))


def _names_processes(r: VerdictRow) -> bool:
    """Rows whose processes matter: a GPU that busy-waits, or one shared by processes that hide a waiter."""
    return r.holder is not None and (r.verdict == "busy-waiting" or
                                      r.inputs.get("activity_verdict") == "busy-waiting")


def render_notes(rows: Sequence[VerdictRow]) -> list[str]:
    """Lines per GPU: the reason, the hint, its processes and holder (waiting GPUs), probe, disagreement, warnings.

    Each line is inert (:func:`waitbench.inert.inert`): process names and command lines come from
    other processes, GPU names and labels from NVML or a recording.
    """
    lines = []
    for r in rows:
        lines.append(f"GPU {r.gpu}{f' ({r.label})' if r.label else ''}: {r.verdict}: {r.reason}")
        lines.append(f"  confidence: {r.confidence}, from {', '.join(r.signals) or 'no counter'}")
        if r.hint:
            lines.append(f"  hint: {r.hint}")
        if _names_processes(r):
            lines.extend(f"  process: {describe(p)}" for p in r.processes)
            holder = r.holder or {}
            who = f"pid {holder['pid']}" if holder.get("pid") is not None else "cannot tell"
            lines.append(f"  holder: {who}: {holder.get('how', '')}")
        probe_text = str((r.probe or {}).get("text") or "")
        if probe_text and probe_text not in r.reason:
            lines.append(f"  probe: {probe_text}")
        if r.disagreement:
            lines.append(f"  disagreement: {r.disagreement}")
        lines.extend(f"  note: {w}" for w in r.warnings)
    return [inert(line) for line in lines]


def refresh_lines(refresh: Refresh) -> list[str]:
    """The notes of one refresh, the host's late-rank line where there is one, then its jobs' NCCL waits."""
    lines = render_notes(refresh.rows)
    if refresh.late is not None:
        lines.append(inert(f"late rank: {refresh.late.message}"))
    return lines + [line for w in refresh.waits for line in w.lines()]


def render_refresh(refresh: Refresh, title: str | None = None) -> Any:
    """A rich renderable of one refresh: the table and its lines (what ``--watch`` redraws)."""
    from rich.console import Group
    from rich.text import Text

    return Group(render_table(refresh.rows, title=title), *(Text(line) for line in refresh_lines(refresh)))


def rows_to_json(rows: Sequence[VerdictRow]) -> list[dict[str, Any]]:
    """The rows as JSON-ready dicts (``diagnose --json``)."""
    return [r.to_dict() for r in rows]


def refresh_to_json(refresh: Refresh) -> list[dict[str, Any]]:
    """One refresh's rows as JSON-ready dicts, each with the host's ``nccl_waits`` where jobs ran profiled.

    The same on every row, as ``late_rank``; absent without a profiler ring.
    """
    rows = rows_to_json(refresh.rows)
    if refresh.waits:
        waits = [w.to_dict() for w in refresh.waits]
        for row in rows:
            row["nccl_waits"] = waits
    return rows

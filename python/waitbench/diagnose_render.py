# SPDX-License-Identifier: Apache-2.0
"""How diagnose (and Monitor) show verdict rows: a rich table, note lines, JSON.

Why apart from diagnose.py: rendering only reads rows, so the same code shows a live window, a
``--watch`` refresh and a replayed recording, and Monitor reuses it for its own rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from .processes import describe

if TYPE_CHECKING:
    from .diagnose import Refresh, VerdictRow

STYLE = {"busy-waiting": "bold red", "busy": "green", "idle": "dim", "shared": "yellow", "unknown": "magenta"}


def _fmt(v: float | None, unit: str = "%", digits: int = 0) -> str:
    return "—" if v is None else f"{v:.{digits}f}{unit}"


def render_table(rows: Sequence[VerdictRow], title: str | None = None) -> Any:
    """A rich Table of the rows: reported vs real activity, power, processes, probe, verdict."""
    from rich.table import Table

    probed = any(r.probe for r in rows)
    labelled = any(r.label for r in rows)
    table = Table(title=title, title_justify="left")
    columns = ([("GPU", "right"), ("name", "left")] + ([("window", "left")] if labelled else [])
               + [("reported", "right"), ("SM active", "right"), ("occupancy", "right"), ("busiest pipe", "right"),
                  ("DRAM", "right"), ("power", "right"), ("procs", "right")]
               + ([("probe", "right")] if probed else []) + [("verdict", "left")])
    for col, just in columns:
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in rows:
        pipe, pct = r.busiest_pipe
        pipe_text = "—" if pipe is None else f"{pipe.removeprefix('gpm_').removesuffix('_util_pct')} {pct:.1f}%"
        if r.power_delta_w is not None and r.power_w is not None:
            power = f"{r.power_w:.0f} W ({r.power_delta_w:+.0f})"
        else:
            power = _fmt(r.power_w, " W")
        probe = []
        if probed:
            ratio = (r.probe or {}).get("ratio")
            probe = [f"{100 * ratio:.0f}%" if ratio is not None else (r.probe or {}).get("state", "—")]
        late = " (late?)" if r.likely_late else ""
        label = [r.label or ""] if labelled else []
        table.add_row(r.gpu, r.name, *label, _fmt(r.nvml_util_pct), _fmt(r.gpm_sm_util_pct, digits=1),
                      _fmt(r.gpm_sm_occupancy_pct, digits=1), pipe_text, _fmt(r.gpm_dram_bw_util_pct, digits=1), power,
                      str(len(r.processes)), *probe, f"[{STYLE.get(r.verdict, '')}]{r.verdict}[/]{late}")
    return table


def _names_processes(r: VerdictRow) -> bool:
    """Rows whose processes matter: a GPU that busy-waits, or one shared by processes that hide a waiter."""
    return r.holder is not None and (r.verdict == "busy-waiting" or
                                      r.inputs.get("activity_verdict") == "busy-waiting")


def render_notes(rows: Sequence[VerdictRow]) -> list[str]:
    """Lines per GPU: the reason, the hint, its processes and holder (waiting GPUs), probe, disagreement, warnings."""
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
    return lines


def refresh_lines(refresh: Refresh) -> list[str]:
    """The notes of one refresh, then the host's late-rank line where there is one."""
    lines = render_notes(refresh.rows)
    if refresh.late is not None:
        lines.append(f"late rank: {refresh.late.message}")
    return lines


def render_refresh(refresh: Refresh, title: str | None = None) -> Any:
    """A rich renderable of one refresh: the table and its lines (what ``--watch`` redraws)."""
    from rich.console import Group
    from rich.text import Text

    return Group(render_table(refresh.rows, title=title), *(Text(line) for line in refresh_lines(refresh)))


def rows_to_json(rows: Sequence[VerdictRow]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in rows]

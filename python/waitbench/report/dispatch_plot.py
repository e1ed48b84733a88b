# SPDX-License-Identifier: Apache-2.0
"""The dispatch Pareto chart: dispatch p99 against what a mode costs while idle (watts, host CPU).

Why a Pareto front: no mode wins on both axes (a spin wakes fastest and burns a core); the front is
the modes that no other beats on both (among runs with the same number of ranks; dashed, one per
rank count), so a reader sees which trade-offs are worth having. The
latency axis is the forward kernel's start where a GPU measured it, else the host receive.
Needs matplotlib (the ``report`` extra); drawn with the Agg backend.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any


def _latency(r: dict[str, Any]) -> tuple[float | None, str]:
    if r.get("dispatch_last_kernel_p99_us") is not None:
        return r["dispatch_last_kernel_p99_us"], "last rank's forward kernel start p99 (us)"
    return r.get("dispatch_last_recv_p99_us"), "last rank's host receive p99 (us)"


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indexes of the points no other point beats on both coordinates (lower is better), by x."""
    order = sorted(range(len(points)), key=lambda i: points[i])
    front, best_y = [], float("inf")
    for i in order:
        if points[i][1] < best_y:
            front.append(i)
            best_y = points[i][1]
    return front


def pareto_figure(records: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> list[str]:
    """Write the chart of the 'dispatch' records to ``path``; return the panels drawn (one per idle cost measured)."""
    from matplotlib.figure import Figure

    rows = [r for r in records if r.get("record_kind") == "dispatch" and _latency(r)[0] is not None]
    panels = [(key, label) for key, label in (("power_delta_w", "idle power over warm idle (W)"),
                                              ("host_cpu_pct", "idle host CPU per rank (% of a core)"))
              if any(r.get(key) is not None for r in rows)]
    fig = Figure(figsize=(6 * max(len(panels), 1), 4.5))
    for n, (key, label) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, len(panels), n)
        for size in sorted({r["world_size"] for r in rows if r.get(key) is not None}):
            # one group per rank count: the front is drawn among modes with the same number of ranks
            pts = [(r[key], _latency(r)[0], r["strategy"]) for r in rows
                   if r.get(key) is not None and r["world_size"] == size]
            dots = ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=30, label=f"{size} rank(s)")
            for x, y, name in pts:
                ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
            front = [pts[i] for i in pareto_front([(x, y) for x, y, _ in pts])]
            ax.plot([p[0] for p in front], [p[1] for p in front], linestyle="--", linewidth=1,
                    color=dots.get_facecolor()[0])
        ax.set_xlabel(label)
        ax.set_ylabel(_latency(rows[0])[1] if rows else "dispatch p99 (us)")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    if not panels:
        fig.text(0.5, 0.5, "no dispatch record with an idle cost", ha="center")
    fig.suptitle("Dispatch p99 against idle cost")
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=120)
    return [key for key, _ in panels]

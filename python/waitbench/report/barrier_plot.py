# SPDX-License-Identifier: Apache-2.0
"""The barrier chart: what each host-side fix costs in wake-up, against the waits it replaces.

Why a chart of its own: the trade-off chart places a strategy by the throughput it takes from
concurrent work, and a host barrier takes none by construction (nothing is resident while it
waits). What distinguishes the barriers is how fast each wakes the rank processes, and how that
grows with the rank count; the same-run ``host-block`` (a thread of one process) and
``nccl-shaped`` (NCCL's spin on the GPU) are drawn as lines to compare with, each labelled with the
GPU utilization NVML read while it waited.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .figstyle import FONT_PT, figure

_KIND_COLORS = {"shm-futex": "#1f77b4", "mp-barrier": "#d62728", "gloo-barrier": "#2ca02c", "store-barrier": "#9467bd"}
_REF_STYLES = {"host-block": ("#555555", "--"), "nccl-shaped": ("#ff7f0e", ":")}


def _util(rec: dict[str, Any]) -> str:
    u = rec.get("nvml_util_pct")
    return "" if u is None else f", GPU util {u:.0f}%"


def barrier_figure(records: Sequence[dict[str, Any]], machine: str) -> Any:
    """p50 (marker) to p99 (whisker) per barrier kind against the rank count, log scale.

    The GPU leg plots the last arrival -> each rank's kernel ack; the CPU leg the release itself.
    """
    bars = [r for r in records if r["strategy"] == "host-barrier"]
    gpu = any(r["wake_rtt_p50_us"] is not None for r in bars)
    metric = "wake_rtt" if gpu else "wake_observe"
    series: dict[str, list[dict[str, Any]]] = {}
    for r in bars:
        o = r["options"]
        label = o["kind"] + (f" spin {o['spin_us']} µs" if "spin_us" in o else "") + \
            (" (Python)" if r["host_wait_in_python"] else "")
        series.setdefault(label, []).append(r)
    ranks = sorted({r["options"]["ranks"] for r in bars})
    fig = figure(6.0)
    ax = fig.add_subplot()
    n = len(series)
    styles = ("-", "--", "-.", ":")
    for i, (label, recs) in enumerate(series.items()):
        recs = sorted(recs, key=lambda r: r["options"]["ranks"])
        kind = recs[0]["options"]["kind"]
        same = [s for s in series if s.startswith(kind)]
        xs = [ranks.index(r["options"]["ranks"]) + (i - (n - 1) / 2) * 0.06 for r in recs]
        p50 = [r[f"{metric}_p50_us"] for r in recs]
        p99 = [r[f"{metric}_p99_us"] for r in recs]
        ax.errorbar(xs, p50, yerr=[[0.0] * len(p50), [max(b - a, 0.0) for a, b in zip(p50, p99, strict=True)]], fmt="o",
                    ls=styles[same.index(label) % len(styles)], color=_KIND_COLORS.get(kind, "#7f7f7f"), ms=5,
                    capsize=3, lw=1.2, label=label + _util(recs[0]))
    for r in records:
        if r["strategy"] in _REF_STYLES and r[f"{metric}_p50_us"] is not None:
            color, ls = _REF_STYLES[r["strategy"]]
            ax.axhline(r[f"{metric}_p50_us"], color=color, ls=ls, lw=1.2,
                       label=f"{r['strategy']} p50: one process{_util(r)}")
    ax.set_xticks(range(len(ranks)), [str(k) for k in ranks], fontsize=FONT_PT)
    ax.set_xlabel("ranks (processes; the late one included)", fontsize=FONT_PT)
    what = "last arrival -> each rank's kernel ack" if gpu else "last arrival -> each rank released"
    ax.set_ylabel(f"{what}, µs (log scale)\np50 marker, whisker to p99", fontsize=FONT_PT)
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=FONT_PT - 2, frameon=False)
    first = bars[0] if bars else {}
    where = f"{first.get('gpu_name')}" if first.get("gpu_name") else "no GPU"
    cpus = (first.get("extra") or {}).get("cpu_count")
    fig.suptitle(f"What the host-side fix costs between processes: wake-up per barrier and rank count\n"
                 f"{machine}: {cpus} CPUs, {where}", fontsize=FONT_PT + 2, x=0.01, ha="left", linespacing=1.4)
    return fig

# SPDX-License-Identifier: Apache-2.0
"""The trade-off chart: each strategy's wake-up latency against what it takes from concurrent work.

Why labels in columns: strategies bunch up (host waits all near 0% cost, spin shapes near 9% on an
H100) and labels placed next to their points overlapped or went missing. Here every plotted point
gets a label: points whose labels would run into the next points form a bunch, and a bunch's labels
stand in a column just right of it (the last bunch's right of the axes), each at the height of its
point where there is room and pushed apart by a label's height where there is not, with a thin
leader line to its point. The x axis spans the measured costs (at least 0..10%), so bunches spread
over the width instead of a corner of a fixed 0..100 axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from . import pivot
from .figstyle import FONT_PT, LABEL_PT, MECHANISM_COLORS, figure, titles
from .tables import StrategyRow

HEIGHT_IN = 6.0
LABEL_HEIGHT_IN = LABEL_PT * 1.5 / 72  # one label line with some air
CHAR_IN = LABEL_PT * 0.62 / 72  # a label character's width, generously (DejaVu Sans averages ~0.55 em)
AXES_SHARE = 0.62  # share of the figure height the axes get (titles, axis label and legend take the rest)
AXES_WIDTH_SHARE = 0.75  # share of the figure width the axes get (the y label and the last label column take the rest)
GAP_IN = 0.08  # between a bunch's rightmost point and its label column


def spread(desired: Sequence[float], gap: float, lo: float = 0.0, hi: float = 1.0) -> list[float]:
    """Positions as close to ``desired`` as they can be with ``gap`` between neighbours, within [lo, hi].

    Neighbours that would overlap merge into a block centred on their wishes (the classic 1-D label
    layout); a block that would leave [lo, hi] is moved back in. Returns positions in the order given.
    """
    order = sorted(range(len(desired)), key=lambda i: desired[i])
    gap = min(gap, (hi - lo) / max(len(desired) - 1, 1))
    blocks: list[list[Any]] = []  # [start, members]
    for i in order:
        blocks.append([desired[i], [i]])
        while True:
            members = blocks[-1][1]
            start = sum(desired[m] - gap * k for k, m in enumerate(members)) / len(members)
            start = min(max(start, lo), hi - gap * (len(members) - 1))
            blocks[-1][0] = start
            if len(blocks) > 1 and blocks[-2][0] + gap * len(blocks[-2][1]) > start:
                prev = blocks.pop(-2)
                blocks[-1][1] = prev[1] + blocks[-1][1]
                continue
            break
    out = [0.0] * len(desired)
    for start, members in blocks:
        for k, m in enumerate(members):
            out[m] = start + k * gap
    return out


def _points(rows: Sequence[StrategyRow]) -> tuple[list[tuple[StrategyRow, float, float]], list[str], list[float]]:
    points, skipped, floors = [], [], []
    for r in rows:
        ratio = r.min_cost_ratio()
        p50 = r.metrics["wake_rtt_p50_us"]
        if r.metrics["wake_floor_rtt_p50_us"] is not None:
            floors.append(r.metrics["wake_floor_rtt_p50_us"])
        if ratio is None or p50 is None or p50 <= 0:
            skipped.append(r.label)
        else:
            points.append((r, 100.0 * (1.0 - ratio), p50))
    return points, skipped, floors


def tradeoff_figure(rows: Sequence[StrategyRow], info: pivot.RunInfo) -> Any:
    """Wake latency (rtt p50, whisker to p99; open circle: the waiter's own p50; log scale) against SM cost."""
    points, skipped, floors = _points(rows)
    fig = figure(max(HEIGHT_IN, 2.3 + LABEL_HEIGHT_IN * len(points) / AXES_SHARE))
    ax = fig.add_subplot()
    ys = []
    for r, x, p50 in points:
        color = MECHANISM_COLORS.get(r.mechanism, MECHANISM_COLORS["other"])
        p99 = r.metrics["wake_rtt_p99_us"]
        ax.errorbar([x], [p50], yerr=[[0.0], [max((p99 or p50) - p50, 0.0)]], fmt="o", ms=7, color=color,
                    capsize=3, lw=1.2, zorder=3)
        ys += [p50, max(p99 or p50, p50)]
        obs = r.metrics["wake_observe_p50_us"]
        if obs is not None and obs > 0:  # the waiter's own view of the same wake-up, tied to its point
            ax.plot([x, x], [obs, p50], ":", color=color, lw=0.8, zorder=2)
            ax.plot([x], [obs], "o", ms=6, mfc="white", color=color, zorder=3)
            ys.append(obs)
    low, high = (min(ys) / 1.8, max(ys) * 1.8) if ys else (1.0, 100.0)
    ax.set_yscale("log")
    ax.set_ylim(low, high)
    xmax = max([x for _, x, _ in points] + [10.0])
    ax.set_xlim(-0.04 * xmax, xmax * 1.08)
    _label(ax, fig, points, math.log10(low), math.log10(high))
    if floors:  # named in the legend, not on the plot, where it would cross labels
        ax.axhline(sorted(floors)[len(floors) // 2], color="#999999", ls="--", lw=1, zorder=1,
                   label="launch floor: a 1-warp kernel that writes the ack (rtt p50)")
    for mech, color in MECHANISM_COLORS.items():
        if any(r.mechanism == mech for r, _, _ in points):
            ax.plot([], [], "o", color=color, label=f"{mech} wait")
    ax.plot([], [], "o", color="#555555", label="release -> host sees the ack (rtt): p50, whisker to p99")
    ax.plot([], [], "o", mfc="white", color="#555555", label="release -> the waiter sees it: p50")
    ax.set_xlabel("SM cost: throughput the worst-hit concurrent workload loses, % of solo (a stall is 100)",
                  fontsize=FONT_PT)
    ax.set_ylabel("wake-up latency, µs (log scale)", fontsize=FONT_PT)
    ax.grid(alpha=0.3, which="both")
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: labels[i].startswith("launch floor"))  # the floor last
    fig.legend([handles[i] for i in order], [labels[i] for i in order], loc="outside lower center", ncol=3,
               fontsize=FONT_PT - 1, frameon=False)
    if skipped:
        fig.text(0.01, 0.005, "not shown (no wake latency or throughput): " + ", ".join(skipped),
                 fontsize=FONT_PT - 3, color="#666666")
    titles(fig, "The trade-off: how fast a wait wakes vs what it takes from concurrent work", info)
    return fig


def bunches(xs: Sequence[float], widths: Sequence[float], gap: float) -> list[list[int]]:
    """Indices grouped left to right, so that no two labels of the chart overlap.

    A point joins the bunch before it when that bunch's labels (their widest, in x units, after ``gap``)
    would reach it.
    """
    groups: list[list[int]] = []
    for i in sorted(range(len(xs)), key=lambda k: xs[k]):
        if groups:
            last = groups[-1]
            right = max(xs[k] for k in last) + gap + max(widths[k] for k in last)
            if xs[i] <= right:
                last.append(i)
                continue
        groups.append([i])
    return groups


def _label(ax: Any, fig: Any, points: Sequence[tuple[StrategyRow, float, float]], lo: float, hi: float) -> None:
    """One label per point, in a column right of its bunch, spread apart, each with a leader line to its point."""
    if not points:
        return
    width_in, height_in = fig.get_size_inches()
    x0, x1 = ax.get_xlim()
    unit_in = width_in * AXES_WIDTH_SHARE / (x1 - x0)  # inches per x unit, roughly
    xs = [x for _, x, _ in points]
    widths = [len(r.label) * CHAR_IN / unit_in for r, _, _ in points]
    gap = GAP_IN / unit_in
    step = LABEL_HEIGHT_IN / (height_in * AXES_SHARE)
    near = 0.04 * (x1 - x0)  # points this close in x read as one bunch: their labels stay together
    heights = [_frac(p50, lo, hi) for _, _, p50 in points]
    tops = [_frac(max(r.metrics["wake_rtt_p99_us"] or p50, p50), lo, hi) for r, _, p50 in points]
    for group in bunches(xs, widths, gap):
        column = max(xs[k] for k in group) + gap
        # Each tight bunch's labels stay together, bunches stacked by height; a bunch left of a lower
        # one starts its labels above that one's points, so its leader lines pass over them, not through.
        tight = [[group[k] for k in sub] for sub in bunches([xs[k] for k in group], [0.0] * len(group), near)]
        tight.sort(key=lambda sub: sum(heights[k] for k in sub) / len(sub))
        floor, below = 0.0, []
        for sub in tight:
            left = min(xs[k] for k in sub)
            floor = max([floor] + [tops[k] + step / 2 for k in below if xs[k] > left])
            sub = sorted(sub, key=lambda k: heights[k])
            for k, y in zip(sub, spread([heights[k] for k in sub], step, lo=min(floor, 1.0)), strict=True):
                r, x, p50 = points[k]
                ax.annotate(r.label, xy=(x, p50), xycoords="data", xytext=(column, y),
                            textcoords=("data", "axes fraction"), fontsize=LABEL_PT, va="center", ha="left",
                            annotation_clip=False,
                            arrowprops=dict(arrowstyle="-", color="#aaaaaa", lw=0.6, shrinkA=1, shrinkB=4))
                floor = max(floor, y + step)
            below += sub


def _frac(value: float, lo: float, hi: float) -> float:
    """Height of ``value`` on the log axis between 10**lo and 10**hi, as a fraction of the axes."""
    return (math.log10(value) - lo) / (hi - lo)

# SPDX-License-Identifier: Apache-2.0
"""The three charts of a report, drawn with matplotlib's object API on the Agg backend.

Why these three: (1) the headline puts NVML's "busy" next to what the SMs do and what concurrent
work still gets, the gap that motivates waitbench; (2) the sweep shows how much a resident waiter's
launch shape takes from other work; (3) the trade-off puts each strategy's wake-up latency against
its SM cost, the choice a user actually makes. Every figure is 1000 px wide (a README column) and
names GPU, driver and run in its subtitle. No pyplot: no global state, no display needed.
"""

from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path
from typing import Any, Mapping, Sequence

from . import images, pivot
from .tables import StrategyRow, SweepRow, strategy_rows, sweep_rows

DPI = 100
WIDTH_IN = 10.0  # 1000 px at DPI: readable in a README without scaling
FONT_PT = 10
LABEL_PT = FONT_PT - 2
SUBTITLE_CHARS = 100  # a line of the title at FONT_PT + 2 fits 1000 px
_REPORTED, _SM = "#d62728", "#ff7f0e"
_WORKLOAD_COLORS = ("#1f4e9a", "#3b7dd8", "#8cb6ee", "#5aa469", "#9467bd")
_MECHANISM_COLORS = {"device": "#d62728", "front-end": "#2ca02c", "host": "#1f77b4", "other": "#7f7f7f"}


def _figure(height_in: float) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'waitbench[report]'") from None
    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    return fig


def _titles(fig: Any, title: str, info: pivot.RunInfo) -> None:
    subtitle = textwrap.fill(info.subtitle(), SUBTITLE_CHARS)
    fig.suptitle(f"{title}\n{subtitle}", fontsize=FONT_PT + 2, x=0.01, ha="left", linespacing=1.4)


def headline_height_in(n_rows: int) -> float:
    """Figure height for ``n_rows`` strategies: about 0.55 in a strategy, within [4, 20] in."""
    return min(max(1.8 + 0.55 * n_rows, 4.0), 20.0)


def headline_figure(rows: Sequence[StrategyRow], info: pivot.RunInfo) -> Any:
    """Horizontal grouped bars per strategy: reported utilization, SM activity, each workload's throughput."""
    workloads = pivot.ordered_workloads(w for r in rows for w in r.tput)
    series: list[tuple[str, str, list[tuple[float | None, str]]]] = [
        ("reported utilization (NVML) %", _REPORTED, [(r.metrics["nvml_util_pct"], "") for r in rows]),
        ("SM activity (GPM) %", _SM, [(r.metrics["gpm_sm_util_pct"], "") for r in rows]),
    ]
    for i, w in enumerate(workloads):
        vals: list[tuple[float | None, str]] = []
        for r in rows:
            c = r.tput.get(w)
            if c is None or (c.ratio is None and not c.stalled):
                vals.append((None, ""))
            else:
                vals.append((100.0 * (c.cost_ratio() or 0.0), "stalled" if c.stalled else ("noisy" if c.noisy else "")))
        series.append((f"{w} throughput beside the waiter, % of solo", _WORKLOAD_COLORS[i % len(_WORKLOAD_COLORS)],
                       vals))
    fig = _figure(headline_height_in(len(rows)))
    ax = fig.add_subplot()
    n = len(series)
    bar_h = 0.8 / n
    for j, (name, color, vals) in enumerate(series):
        ys = [i + (j - (n - 1) / 2) * bar_h for i in range(len(rows))]
        bars = ax.barh(ys, [v or 0.0 for v, _ in vals], height=bar_h, color=color, label=name, edgecolor="white",
                       linewidth=0.3)
        for bar, (_, note) in zip(bars, vals, strict=True):
            if note == "noisy":
                bar.set_hatch("//")
        for y, (v, note) in zip(ys, vals, strict=True):
            text = "n/a" if v is None else note if note == "stalled" else f"{v:.0f}" if v >= 1 or v == 0 else f"{v:.1f}"
            ax.text((v or 0.0) + 1, y, text, va="center", fontsize=FONT_PT - 3,
                    color="#b00000" if note == "stalled" else "#333333")
    ax.set_yticks(range(len(rows)), [r.label for r in rows], fontsize=FONT_PT)
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xlabel("percent: of time a kernel is resident (NVML), of SMs holding a warp (GPM), of solo throughput",
                  fontsize=FONT_PT)
    ax.grid(axis="x", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if any(note == "noisy" for _, _, vals in series for _, note in vals):
        from matplotlib.patches import Patch  # a legend-only entry: not drawn on the axes
        handles.append(Patch(facecolor="#cccccc", hatch="//", edgecolor="white"))
        labels.append("hatched: noisy (spread target not reached)")
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.1 - 0.25 / headline_height_in(len(rows))),
              ncol=2, fontsize=FONT_PT - 1, frameon=False)
    _titles(fig, "Reported utilization vs real SM activity vs what concurrent work still gets", info)
    return fig


def sweep_figure(rows: Sequence[SweepRow], info: pivot.RunInfo) -> Any:
    """Throughput ratio vs waiter blocks, one line per threads value (and other varied option), per workload."""
    workloads = pivot.ordered_workloads(w for r in rows for w in r.tput)
    fig = _figure(4.8)
    axes = fig.subplots(1, max(len(workloads), 1), sharey=True, squeeze=False)[0]
    threads = sorted({r.threads for r in rows if r.threads is not None})
    others = list(dict.fromkeys(r.others for r in rows))
    styles = ("-", "--", ":", "-.")
    from matplotlib import colormaps
    cmap = colormaps["viridis"]
    blocks = sorted({r.blocks for r in rows if r.blocks})
    for ax, w in zip(axes, workloads, strict=False):
        for k, other in enumerate(others):
            for i, t in enumerate(threads):
                pts = sorted(((r.blocks, r.tput[w]) for r in rows
                              if r.threads == t and r.others == other and w in r.tput and r.blocks), key=lambda p: p[0])
                if not pts:
                    continue
                color = cmap(i / max(len(threads) - 1, 1) * 0.8)  # viridis above 0.8 is too pale on white
                label = f"{t} threads" + "".join(f", {key}={val}" for key, val in other)
                measured = [(b, v) for b, v in ((b, c.cost_ratio()) for b, c in pts) if v is not None]
                xs, ys = [b for b, _ in measured], [100.0 * v for _, v in measured]
                ax.plot(xs, ys, styles[k % len(styles)], marker="o", ms=3.5, color=color, label=label)
                stalls = [b for b, c in pts if c.stalled]
                ax.plot(stalls, [0.0] * len(stalls), "x", ms=8, mew=2, color=color, linestyle="none")
        if info.gpu_sm_count:
            ax.axvline(info.gpu_sm_count, color="#999999", lw=1, ls=":")
            ax.text(info.gpu_sm_count, 2, f" {info.gpu_sm_count} SMs", rotation=90, fontsize=FONT_PT - 2,
                    color="#666666", ha="right", va="bottom")
        ax.set_xscale("log", base=2)
        if blocks:
            ax.set_xticks(blocks, _spaced_labels(blocks), fontsize=FONT_PT - 2)
            ax.minorticks_off()
        ax.set_title(f"{w}", fontsize=FONT_PT + 1)
        ax.set_xlabel("waiter blocks (log scale)", fontsize=FONT_PT)
        ax.set_ylim(-4, 108)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("throughput beside the waiter, % of solo\n(x marks a stall)", fontsize=FONT_PT)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4), fontsize=FONT_PT - 1,
               frameon=False)
    _titles(fig, "Launch-shape sweep of a resident spin waiter: what concurrent work keeps", info)
    return fig


def tradeoff_figure(rows: Sequence[StrategyRow], info: pivot.RunInfo) -> Any:
    """Wake latency (p50, whisker to p99, log scale) against SM cost (1 - worst throughput ratio)."""
    fig = _figure(6.0)
    ax = fig.add_subplot()
    skipped, floors, points = [], [], []
    for r in rows:
        ratio = r.min_cost_ratio()
        p50, p99 = r.metrics["wake_rtt_p50_us"], r.metrics["wake_rtt_p99_us"]
        if r.metrics["wake_floor_rtt_p50_us"] is not None:
            floors.append(r.metrics["wake_floor_rtt_p50_us"])
        if ratio is None or p50 is None or p50 <= 0:
            skipped.append(r.label)
            continue
        x = 100.0 * (1.0 - ratio)
        color = _MECHANISM_COLORS.get(r.mechanism, _MECHANISM_COLORS["other"])
        ax.errorbar([x], [p50], yerr=[[0.0], [max((p99 or p50) - p50, 0.0)]], fmt="o", ms=7, color=color,
                    capsize=3, lw=1.2)
        obs = r.metrics["wake_observe_p50_us"]
        if obs is not None and obs > 0:
            ax.plot([x], [obs], "o", ms=6, mfc="none", color=color)
        points.append((r.label, x, p50))
    _label_points(ax, points)
    if floors:
        floor = sorted(floors)[len(floors) // 2]
        ax.axhline(floor, color="#999999", ls="--", lw=1)
        ax.text(50, floor, "launch floor: a 1-warp kernel that writes the ack (rtt p50)", fontsize=FONT_PT - 2,
                color="#666666", va="bottom", ha="center")
    for mech, color in _MECHANISM_COLORS.items():
        if any(r.mechanism == mech for r in rows):
            ax.plot([], [], "o", color=color, label=f"{mech} wait")
    ax.plot([], [], "o", color="#555555", label="release -> host sees ack (rtt), p50 and p99")
    ax.plot([], [], "o", mfc="none", color="#555555", label="release -> waiter sees it, p50")
    ax.set_yscale("log")
    ax.set_xlim(-5, 105)
    ax.set_xlabel("SM cost: throughput the worst-hit concurrent workload loses, % of solo (stall = 100)",
                  fontsize=FONT_PT)
    ax.set_ylabel("wake-up latency, µs (log scale)", fontsize=FONT_PT)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=FONT_PT - 1, loc="upper right", frameon=False)
    if skipped:
        fig.text(0.01, 0.005, "not shown (no wake latency or throughput): " + ", ".join(skipped),
                 fontsize=FONT_PT - 3, color="#666666")
    _titles(fig, "The trade-off: how fast a wait wakes vs what it takes from concurrent work", info)
    return fig


def _label_points(ax: Any, points: Sequence[tuple[str, float, float]]) -> None:
    """Label scatter points on a log-y axis, moving a label down past any it would overlap."""
    if not points:
        return
    ys = [math.log10(y) for _, _, y in points]
    step = LABEL_PT / 330.0 * max(max(ys) - min(ys) + 1.0, 1.0)  # one label height in decades (~330 pt of axis)
    placed: list[tuple[float, float]] = []
    for label, x, y in sorted(points, key=lambda p: -p[2]):
        right = x > 70  # labels of points near the right edge go to their left
        ty = math.log10(y) + step / 3
        while any(abs(px - x) < 12 and abs(py - ty) < step for px, py in placed):
            ty -= step / 2
        placed.append((x, ty))
        moved = abs(ty - math.log10(y)) > step  # a label pushed away from its point gets a leader line
        ax.annotate(label, (x, y), xytext=(x + (-1.5 if right else 1.5), 10 ** ty), textcoords="data",
                    fontsize=LABEL_PT, ha="right" if right else "left", va="center",
                    arrowprops=dict(arrowstyle="-", color="#bbbbbb", lw=0.6) if moved else None)


def _spaced_labels(ticks: Sequence[int]) -> list[str]:
    """Tick labels on a log axis, blank where a tick sits too close to the last labelled one."""
    labels, last = [], None
    for t in reversed(ticks):  # from the largest, so the last tick (often the SM count) keeps its label
        show = last is None or last / t >= 1.3
        labels.append(str(t) if show else "")
        last = t if show else last
    return labels[::-1]


def save(fig: Any, path: str | Path) -> Path:
    """Write ``fig`` in the format its suffix names, at the module's DPI (no tight bbox: width stays 1000 px)."""
    return images.save(fig, Path(path), DPI)


def _charts(records: Sequence[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    """(run_id, chart name, figure) for every chart the records can draw."""
    out = []
    for run_id, recs in pivot.group_runs(records).items():
        info = pivot.run_info(run_id, recs)
        rows = strategy_rows(recs)
        if rows:
            out.append((run_id, "headline", headline_figure(rows, info)))
            out.append((run_id, "tradeoff", tradeoff_figure(rows, info)))
        sweep = sweep_rows(recs)
        if sweep:
            out.append((run_id, "sweep", sweep_figure(sweep, info)))
    return out


Planned = list[tuple[Path, Any]]  # (checked target, figure): drawn and checked, not written yet


def plan_headline(records: Sequence[Mapping[str, Any]], path: str | Path, *, inputs: Sequence[Path] = (),
                  force: bool = False, argument: str = "--plot") -> Planned:
    """The headline chart of the one run in ``records`` that has strategy results; ValueError otherwise.

    ``path`` is checked first (:func:`waitbench.report.images.check_target`): never one of ``inputs``,
    an existing file only if it is an image of its suffix's format or ``force``.
    """
    target = images.check_target(path, argument, inputs, force)
    runs = [(run_id, recs) for run_id, recs in pivot.group_runs(records).items() if strategy_rows(recs)]
    if len(runs) != 1:
        from ..errors import invalid
        raise invalid(argument, str(path), "results holding exactly one run with waiter/workload records "
                      f"(these hold {len(runs)}; use --plots-dir for several)")
    run_id, recs = runs[0]
    return [(target, headline_figure(strategy_rows(recs), pivot.run_info(run_id, recs)))]


def plan_all(records: Sequence[Mapping[str, Any]], out_dir: str | Path, *, inputs: Sequence[Path] = (),
             force: bool = False, argument: str = "--plots-dir") -> Planned:
    """Every chart for ``out_dir`` as <chart>.png, prefixed with the run id where runs share a chart kind."""
    folder = images.check_folder(out_dir, argument)
    charts = _charts(records)
    counts = {name: sum(1 for _, n, _ in charts if n == name) for _, name, _ in charts}
    planned = []
    for run_id, name, fig in charts:
        stem = name if counts[name] == 1 else f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', run_id)}-{name}"
        planned.append((images.check_target(folder / f"{stem}.png", argument, inputs, force), fig))
    return planned


def write(planned: Planned) -> list[Path]:
    """Write planned charts (every target was checked before the first is written)."""
    return [save(fig, target) for target, fig in planned]


def write_headline(records: Sequence[Mapping[str, Any]], path: str | Path, **kwargs: Any) -> Path:
    """Draw and write the headline chart (see :func:`plan_headline`)."""
    return write(plan_headline(records, path, **kwargs))[0]


def write_all(records: Sequence[Mapping[str, Any]], out_dir: str | Path, **kwargs: Any) -> list[Path]:
    """Draw and write every chart (see :func:`plan_all`)."""
    return write(plan_all(records, out_dir, **kwargs))

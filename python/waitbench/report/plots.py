# SPDX-License-Identifier: Apache-2.0
"""The three charts of a report, drawn with matplotlib's object API on the Agg backend.

Why these three: (1) the headline puts NVML's "busy" next to what the SMs do and what concurrent
work still gets, the gap that motivates waitbench; (2) the sweep shows how much a resident waiter's
launch shape takes from other work; (3) the trade-off puts each strategy's wake-up latency against
its SM cost, the choice a user actually makes. Every figure is 1000 px wide (a README column) and
names GPU, driver and run in its subtitle. No pyplot: no global state, no display needed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import images, pivot
from .figstyle import DPI, FONT_PT, REPORTED, SM, WIDTH_IN, WORKLOAD_COLORS, figure, titles
from .tables import StrategyRow, SweepRow, strategy_rows, sweep_rows
from .tradeoff import tradeoff_figure

__all__ = ["DPI", "WIDTH_IN", "headline_figure", "headline_height_in", "plan_all", "plan_headline", "save",
           "sweep_figure", "tradeoff_figure", "write", "write_all", "write_headline"]

BAR_SLOT_IN = 0.125  # height of one bar: its 7-pt value label (about 0.12 in tall) fits without touching the next
GROUP_FILL = 0.8  # share of a strategy's row its bars fill (the rest separates strategies)
NOISY_MARK = "~"  # after a value: the spread target was not reached (as in the tables)


def headline_height_in(n_rows: int, n_series: int = 5) -> float:
    """Figure height for ``n_rows`` strategies of ``n_series`` bars each: one BAR_SLOT_IN per bar, within [4, 30] in."""
    return round(min(max(1.8 + n_rows * n_series * BAR_SLOT_IN / GROUP_FILL, 4.0), 30.0) * DPI) / DPI


def headline_figure(rows: Sequence[StrategyRow], info: pivot.RunInfo) -> Any:
    """Horizontal grouped bars per strategy: reported utilization, SM activity, each workload's throughput.

    Each bar has its value beside it (``~`` after it: noisy; "stalled" in red); the five series
    have colours of a qualitative palette and no hatching.
    """
    workloads = pivot.ordered_workloads(w for r in rows for w in r.tput)
    series: list[tuple[str, str, list[tuple[float | None, str]]]] = [
        ("reported utilization (NVML) %", REPORTED, [(r.metrics["nvml_util_pct"], "") for r in rows]),
        ("SM activity (GPM) %", SM, [(r.metrics["gpm_sm_util_pct"], "") for r in rows]),
    ]
    for i, w in enumerate(workloads):
        vals: list[tuple[float | None, str]] = []
        for r in rows:
            c = r.tput.get(w)
            if c is None or (c.ratio is None and not c.stalled):
                vals.append((None, ""))
            else:
                vals.append((100.0 * (c.cost_ratio() or 0.0), "stalled" if c.stalled else ("noisy" if c.noisy else "")))
        series.append((f"{w} throughput beside the waiter, % of solo", WORKLOAD_COLORS[i % len(WORKLOAD_COLORS)],
                       vals))
    fig = figure(headline_height_in(len(rows), len(series)))
    ax = fig.add_subplot()
    n = len(series)
    bar_h = GROUP_FILL / n
    noisy = False
    for j, (name, color, vals) in enumerate(series):
        ys = [i + (j - (n - 1) / 2) * bar_h for i in range(len(rows))]
        ax.barh(ys, [v or 0.0 for v, _ in vals], height=bar_h, color=color, label=name, edgecolor="white",
                linewidth=0.3)
        for y, (v, note) in zip(ys, vals, strict=True):
            text = "n/a" if v is None else note if note == "stalled" else f"{v:.0f}" if v >= 1 or v == 0 else f"{v:.1f}"
            if note == "noisy":
                text += NOISY_MARK
                noisy = True
            ax.text((v or 0.0) + 1, y, text, va="center", fontsize=FONT_PT - 3,
                    color="#b00000" if note == "stalled" else "#333333")
    ax.set_yticks(range(len(rows)), [r.label for r in rows], fontsize=FONT_PT)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # first strategy on top, no empty band
    ax.set_xlim(0, 112)
    ax.set_xlabel("percent: of time a kernel is resident (NVML), of SMs holding a warp (GPM), of solo throughput",
                  fontsize=FONT_PT)
    ax.grid(axis="x", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if noisy:
        from matplotlib.lines import Line2D  # a legend-only entry: text, no swatch

        handles.append(Line2D([], [], linestyle="none"))
        labels.append(f"{NOISY_MARK} after a value: noisy (spread target not reached)")
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=FONT_PT - 1, frameon=False)
    titles(fig, "Reported utilization vs real SM activity vs what concurrent work still gets", info)
    return fig


def sweep_figure(rows: Sequence[SweepRow], info: pivot.RunInfo) -> Any:
    """Throughput ratio vs waiter blocks, one line per threads value (and other varied option), per workload."""
    workloads = pivot.ordered_workloads(w for r in rows for w in r.tput)
    fig = figure(4.8)
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
    titles(fig, "Launch-shape sweep of a resident spin waiter: what concurrent work keeps", info)
    return fig


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

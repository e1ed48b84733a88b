# SPDX-License-Identifier: Apache-2.0
"""Plots are written with Agg, 1000 px wide, at the size the figure declares, and are not blank.

Inputs are SYNTHETIC records (tests/helpers/synthetic_records.py) and, when present, the real reference files.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="plots need the report extra (matplotlib)")
import matplotlib.image

from helpers import synthetic_records as syn
from helpers.reference_params import REFERENCE_DIR, reference_params
from waitbench.report import pivot, plots, tables
from waitbench.results import load_records

MIN_PNG_BYTES = 20_000  # a chart with bars, text and a legend; an empty canvas compresses to a few KB


def _check_png(path: Path, fig) -> None:
    assert path.is_file() and path.stat().st_size > MIN_PNG_BYTES
    img = matplotlib.image.imread(path)
    _, height_in = fig.get_size_inches()
    assert img.shape[1] == plots.DPI * plots.WIDTH_IN == 1000
    assert img.shape[0] == round(height_in * plots.DPI)
    assert img[..., :3].std() > 0.05, "the image is (nearly) one colour"


@pytest.fixture(scope="module")
def run_records() -> list[dict]:
    return syn.synthetic_run(repetitions=2)


def test_headline_chart(tmp_path, run_records):
    rows = tables.strategy_rows(run_records)
    fig = plots.headline_figure(rows, pivot.run_info("synthetic-run", run_records))
    _check_png(plots.save(fig, tmp_path / "headline.png"), fig)
    assert fig.get_size_inches()[1] == plots.headline_height_in(len(rows))
    title = fig.get_suptitle()
    assert syn.SYNTHETIC_GPU.split(" (")[0] in title and syn.SYNTHETIC_DRIVER in title
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [r.label for r in rows]
    assert "stalled" in [t.get_text() for t in ax.texts]


def test_tradeoff_chart_places_a_stall_at_full_cost(tmp_path, run_records):
    rows = tables.strategy_rows(run_records)
    fig = plots.tradeoff_figure(rows, pivot.run_info("synthetic-run", run_records))
    _check_png(plots.save(fig, tmp_path / "tradeoff.png"), fig)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    labels = {a.get_text(): a.xy for a in ax.texts if hasattr(a, "xy")}
    assert labels["spin blocks=132 threads=1024"][0] == pytest.approx(100.0)
    assert labels["host-block"][1] == pytest.approx(50.0)  # rtt p50 of the synthetic host-block


def test_sweep_chart_one_panel_per_workload_one_line_per_threads(tmp_path):
    sweep = syn.synthetic_sweep()
    fig = plots.sweep_figure(tables.sweep_rows(sweep), pivot.run_info("synthetic-sweep", sweep))
    _check_png(plots.save(fig, tmp_path / "sweep.png"), fig)
    assert [ax.get_title() for ax in fig.axes] == ["fma", "stream"]
    labelled = [line.get_label() for line in fig.axes[0].get_lines() if not line.get_label().startswith("_")]
    assert labelled == [f"{t} threads" for t in syn.SWEEP_THREADS]


def test_write_all_names_charts_and_prefixes_runs_that_share_a_kind(tmp_path):
    one = plots.write_all(syn.synthetic_run("r1") + syn.synthetic_sweep(), tmp_path / "one")
    assert sorted(p.name for p in one) == ["headline.png", "sweep.png", "tradeoff.png"]
    two = plots.write_all(syn.synthetic_run("r1") + syn.synthetic_run("r/2"), tmp_path / "two")
    assert sorted(p.name for p in two) == ["r1-headline.png", "r1-tradeoff.png", "r_2-headline.png", "r_2-tradeoff.png"]


def test_write_headline_needs_exactly_one_run(tmp_path):
    with pytest.raises(ValueError, match="exactly one run"):
        plots.write_headline(syn.synthetic_run("r1") + syn.synthetic_run("r2"), tmp_path / "h.png")
    with pytest.raises(ValueError, match="these hold 0"):
        plots.write_headline(syn.synthetic_sweep(), tmp_path / "h.png")


@pytest.mark.parametrize("path", reference_params())
def test_charts_from_the_reference_results(tmp_path, path):
    written = plots.write_all(load_records(path), tmp_path)
    assert written, f"{path.name}: no chart"
    for p in written:
        assert p.stat().st_size > MIN_PNG_BYTES and matplotlib.image.imread(p).shape[1] == 1000


@pytest.fixture
def records(request) -> list[dict]:
    """The REAL reference run (every strategy of the H200 run) or the SYNTHETIC one (a stall, a noisy point)."""
    if request.param == "synthetic":
        return syn.synthetic_run(repetitions=2)
    path = REFERENCE_DIR / "run.jsonl"
    if not path.exists():
        pytest.skip(f"no reference run at {path}")
    return load_records(path)


def _overlaps(fig, artists) -> list[tuple[str, str]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [(a.get_text(), Text.get_window_extent(a, renderer)) for a in artists if a.get_text()]  # no arrows
    return [(ta, tb) for i, (ta, a) in enumerate(boxes) for tb, b in boxes[i + 1:]
            if a.x0 < b.x1 - 0.5 and b.x0 < a.x1 - 0.5 and a.y0 < b.y1 - 0.5 and b.y0 < a.y1 - 0.5]


@pytest.mark.parametrize("records", ["reference", "synthetic"], indirect=True)
def test_headline_series_are_distinct_unhatched_and_their_labels_apart(records):
    rows = tables.strategy_rows(records)
    fig = plots.headline_figure(rows, pivot.run_info(records[0]["run_id"], records))
    ax = fig.axes[0]
    assert not any(p.get_hatch() for p in ax.patches)  # hatching is nobody's mark now: '~' marks noisy values
    colours = {c.get_label(): c.patches[0].get_facecolor() for c in ax.containers}
    assert len(set(colours.values())) == len(colours) == 5
    assert _overlaps(fig, ax.texts) == []


@pytest.mark.parametrize("records", ["reference", "synthetic"], indirect=True)
def test_tradeoff_labels_every_point_and_no_label_overlaps_another(records):
    rows = tables.strategy_rows(records)
    fig = plots.tradeoff_figure(rows, pivot.run_info(records[0]["run_id"], records))
    labels = [a for a in fig.axes[0].texts if hasattr(a, "xy")]
    plotted = [r for r in rows if r.min_cost_ratio() is not None and r.metrics["wake_rtt_p50_us"]]
    assert sorted(a.get_text() for a in labels) == sorted(r.label for r in plotted)
    assert _overlaps(fig, labels) == []


def test_label_spreading_keeps_order_gap_and_bounds():
    from waitbench.report.tradeoff import spread

    placed = spread([0.5, 0.5, 0.5, 0.1, 0.98], 0.1)
    assert placed[3] == pytest.approx(0.1) and placed[4] <= 1.0
    ordered = sorted(placed)
    assert all(b - a >= 0.1 - 1e-9 for a, b in itertools.pairwise(ordered))
    assert sorted(range(5), key=lambda i: placed[i])[:1] == [3]

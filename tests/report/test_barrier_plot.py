# SPDX-License-Identifier: Apache-2.0
"""The barrier chart: one series per kind (and spin), same-run references as lines, GPU util in the
labels, the ack latency on the GPU leg. Inputs are SYNTHETIC records (tests/helpers/synthetic_records.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="plots need the report extra (matplotlib)")

from helpers import synthetic_records as syn
from waitbench.report.barrier_plot import barrier_figure
from waitbench.report.plots import save


def _labels(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_gpu_leg_chart_plots_acks_with_references_and_gpu_utilization(tmp_path: Path) -> None:
    fig = barrier_figure(syn.synthetic_barrier_run(gpu=True), "gpu-y")
    assert sorted(_labels(fig)) == ["host-block p50: one process, GPU util 0%", "mp-barrier (Python), GPU util 0%",
                                    "shm-futex spin 50 µs, GPU util 0%"]
    ax = fig.axes[0]
    assert "kernel ack" in ax.get_ylabel() and ax.get_yscale() == "log"
    line = ax.lines[0]  # shm-futex: release p50 10 and 20 us at 2 and 4 ranks, its ack 10 us later
    assert list(line.get_ydata()) == [20.0, 30.0]
    assert save(fig, tmp_path / "b.png").stat().st_size > 20_000


def test_cpu_leg_chart_plots_the_release() -> None:
    fig = barrier_figure(syn.synthetic_barrier_run(gpu=False), "cpu-x")
    assert "each rank released" in fig.axes[0].get_ylabel()
    assert list(fig.axes[0].lines[0].get_ydata()) == [10.0, 20.0]

# SPDX-License-Identifier: Apache-2.0
"""benchmarks/exporter_load.py run tiny: it serves a replayed recording, scrapes it and prints its figures.

Not a timing test (the target is the benchmark's, on a quiet machine): it checks the benchmark works and
that every scrape of a small burst is answered.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import waitbench

pytest.importorskip("prometheus_client")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "exporter_load.py"
ENV = {**os.environ, "PYTHONPATH": str(Path(waitbench.__file__).resolve().parents[1])}


@pytest.mark.parametrize("server", ["waitbench", "prometheus-client"])
def test_a_tiny_run_prints_every_figure_and_no_errors(server):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--clients", "4", "--scrapes", "3", "--rounds", "2",
                           "--interval", "0.01", "--server", server], capture_output=True, text=True, timeout=120,
                          env=ENV)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for name in ("p50", "p99", "max"):
        assert re.search(rf"^{name}: median [0-9.]+ ms \(spread [0-9.]+\.\.[0-9.]+ ms\)$", out, re.M), out
    assert "errors: 0 of 24 scrapes" in out


def test_bad_arguments_are_refused():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--clients", "0"], capture_output=True, text=True,
                          timeout=60, env=ENV)
    assert proc.returncode == 2 and "--clients" in proc.stderr

# SPDX-License-Identifier: Apache-2.0
"""Running probes for diagnose: each in a child process, idle GPUs first (they give the baselines).

Why a child process: a probe that cannot start (a resident kernel holds every SM) leaves launches
queued that no call can cancel; killing its process discards them. diagnose itself then never holds
a CUDA context, so it never shows up in the process list it reports.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ... import jsonl
from ..rows import VerdictRow
from . import baseline as bl
from .judge import ProbeReading, interpret
from .measure import BASELINE_RUNS, PROBE_RUNS, ProbeRun

# Python start-up, imports and CUDA context creation of the child, on top of the probe's own budget.
CHILD_TIMEOUT_S = 60.0
CHILD_MODULE = "waitbench.diagnose.probe"  # the child's entry: this package's __main__.py
# The folder that holds the waitbench package (python/ in a checkout, site-packages when installed).
PACKAGE_PARENT = Path(__file__).resolve().parents[3]

Runner = Callable[[str, int], ProbeRun]


def run_child(uuid: str, runs: int) -> ProbeRun:
    """One probe in a child process (``python -m waitbench.diagnose.probe``); an error run if it fails or hangs.

    A baseline run (``runs == BASELINE_RUNS``) also measures the GPU's warm-idle power.
    """
    cmd = [sys.executable, "-m", CHILD_MODULE, "--uuid", uuid, "--runs", str(runs)]
    if runs == BASELINE_RUNS:
        cmd.append("--warm-idle")
    # The child imports the same waitbench as this process (and its native core), whatever PYTHONPATH says.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(PACKAGE_PARENT), os.environ.get("PYTHONPATH"))
                                                      if p))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        return ProbeRun(uuid, "error",
                        reason=f"the probe process did not finish within {CHILD_TIMEOUT_S:.0f} s (killed)")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        return ProbeRun.from_dict(jsonl.loads(lines[-1]))
    except (IndexError, ValueError, TypeError):
        err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return ProbeRun(uuid, "error", reason=f"the probe process exited with code {proc.returncode}: {err}")


def _run_all(runner: Runner, jobs: Sequence[tuple[str, int]]) -> list[ProbeRun]:
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:  # different GPUs: the probes do not meet
        return list(pool.map(lambda job: runner(*job), jobs))


def _needs_baseline(uuid: str, driver: str) -> bool:
    """No cached baseline, or one from before the warm-idle power was part of it."""
    base = bl.load(uuid, driver)
    return base is None or base.power_warm_idle_w is None


def probe_rows(rows: Sequence[VerdictRow], driver: str, *, refresh: bool = False,
               runner: Runner = run_child) -> dict[str, ProbeReading]:
    """A probe reading per row's GPU (keyed by UUID), measuring and caching baselines on idle GPUs.

    An idle GPU without a cached baseline (or every idle GPU with ``refresh``) gets its baseline
    measured now; a busy GPU without one borrows the baseline of a GPU of the same model and driver,
    if there is one. ``runner`` runs one probe (``run_child``; tests pass a fake one).
    """
    measure_now = [r for r in rows if r.verdict == "idle" and (refresh or _needs_baseline(r.uuid, driver))]
    readings: dict[str, ProbeReading] = {}
    for r, run in zip(measure_now, _run_all(runner, [(r.uuid, BASELINE_RUNS) for r in measure_now]), strict=True):
        if run.status == "ok" and run.tflops:
            readings[r.uuid] = interpret(run, bl.save(run, r.name, driver))
        else:
            readings[r.uuid] = interpret(run, bl.load(r.uuid, driver), "no baseline could be measured")
    rest = [r for r in rows if r.uuid not in readings]
    for r, run in zip(rest, _run_all(runner, [(r.uuid, PROBE_RUNS) for r in rest]), strict=True):
        base = bl.load(r.uuid, driver)
        note = f"baseline not re-measured: this GPU is not idle ({r.verdict})" if refresh else None
        if base is None:
            base = bl.borrow(r.name, driver, r.uuid)
        readings[r.uuid] = interpret(run, base, note)
    return readings

# SPDX-License-Identifier: Apache-2.0
"""What reading profiler rings costs each diagnose window: no ring, a ring with nothing new, a full ring that grew.

Run where waitbench is built (no GPU needed)::

    python3 benchmarks/diagnose_rings.py [--polls 21] [--new 100]

A SYNTHETIC two-rank job is written by the real plugin through the fake NCCL host (tests/helpers) into a ring of
the default size (32768 entries), filled once; then ``diagnose.profiled.ProfiledJobs.window`` (what diagnose
calls at each window's end) is timed ``--polls`` times in each case: a folder without rings (one listing), the
ring with nothing new (one header read), and the ring after ``--new`` more collectives (the reader reads and
checks the whole ring, then builds records of the new entries only). Prints per case the median and the spread
(min .. max) in milliseconds, and the load average, since a shared machine moves them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the fake NCCL host

DEFAULT_ENTRIES = 1 << 15


def timed(fn: Callable[[], object], polls: int, before: Callable[[], None] = lambda: None) -> list[float]:
    """Milliseconds of each of ``polls`` calls of ``fn``, ``before`` run (untimed) ahead of each."""
    out = []
    for _ in range(polls):
        before()
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return out


def main() -> None:
    """Time the three cases and print them."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--polls", type=int, default=21, help="timed polls per case (default: %(default)s)")
    ap.add_argument("--new", type=int, default=100, help="ring entries added before each timed poll, 2 per "
                                                         "collective (default: %(default)s)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as rings, tempfile.TemporaryDirectory() as empty:
        os.environ.update(WAITBENCH_PROFILER_DIR=rings, WAITBENCH_PROFILER_JOB="bench",
                          WAITBENCH_PROFILER_ENTRIES=str(DEFAULT_ENTRIES))
        from helpers.fake_nccl_host import FakeNcclHost
        from helpers.profiled_job import late_collectives
        from waitbench.diagnose.profiled import ProfiledJobs
        from waitbench.profiler.library import plugin_path

        host = FakeNcclHost(str(plugin_path()))
        ranks = [host.init(0x77, rank=r, n_ranks=2) for r in range(2)]
        late_collectives(ranks, "AllReduce", DEFAULT_ENTRIES // 2, late_rank=1, late_ns=1000, period_ns=10_000)
        round_ = [0]

        def grow() -> None:
            round_[0] += 1
            late_collectives(ranks, "Broadcast", args.new // 2, late_rank=0, late_ns=1000, period_ns=10_000,
                             start_ns=10**18 + round_[0] * 10**12)

        cases = []
        none = ProfiledJobs(empty)
        none.start()
        cases.append(("no ring in the folder", timed(none.window, args.polls)))
        jobs = ProfiledJobs(rings)
        jobs.start()
        cases.append(("a full ring, nothing new", timed(jobs.window, args.polls)))
        cases.append((f"a full ring, {args.new} new entries", timed(jobs.window, args.polls, grow)))
        for comm in ranks:
            comm.finalize()
    for name, ms in cases:
        print(f"{name}: median {statistics.median(ms):.3f} ms (min {min(ms):.3f}, max {max(ms):.3f}; "
              f"{len(ms)} polls)")
    print("load average: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()

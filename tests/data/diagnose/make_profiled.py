# SPDX-License-Identifier: Apache-2.0
"""Build ``profiled-composed-2gpu.jsonl``: a diagnose recording of a SYNTHETIC profiled job on COMPOSED GPUs.

What is real and what is not. The two GPUs are real windows of one H100 (tests/helpers/composed_windows.py:
``nccl-simple-16ch``, a kernel shaped like NCCL's waiting, as GPU 0; ``host-block``, a process blocked on the
host, as GPU 1), laid out as two GPUs of one host. The job is synthetic: two ranks played through the fake NCCL
host (tests/helpers/profiled_job.py), their collectives written by the real profiler plugin into a ring; rank 1
is late. Everything between is diagnose's own live code (``live_refreshes`` with ``--record``), fed these
windows instead of NVML's. Regenerate with ``python3 tests/data/diagnose/make_profiled.py`` (needs the plugin,
built with the package; no GPU).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/, for helpers
OUT = HERE / "profiled-composed-2gpu.jsonl"
JOB = "synthetic-job"
MS = 1_000_000


def main() -> None:
    from helpers.composed_windows import composed_host
    from helpers.fake_nccl_host import FakeNcclHost
    from helpers.profiled_job import JOB_COMM, late_collectives
    from waitbench.diagnose import live
    from waitbench.profiler.library import plugin_path

    with tempfile.TemporaryDirectory() as rings:
        os.environ.update(WAITBENCH_PROFILER_DIR=rings, WAITBENCH_PROFILER_JOB=JOB)
        host = FakeNcclHost(str(plugin_path()))
        ranks = [host.init(JOB_COMM, rank=r, n_ranks=2, name="synthetic") for r in range(2)]
        plays = [lambda: late_collectives(ranks, "Broadcast", 3, late_rank=1, late_ns=770 * MS),
                 lambda: late_collectives(ranks, "AllReduce", 40, late_rank=1, late_ns=2 * MS, period_ns=50 * MS,
                                          start_ns=2 * 10**18)]

        def windows(gpus, seconds, *, on_start=None, stop=None):
            on_start([])
            for play in plays:  # the job's collectives end inside the window they are read at
                play()
                yield composed_host("nccl-simple-16ch", "host-block")

        live.windows, live._driver = windows, lambda: "580.159.04"
        OUT.unlink(missing_ok=True)
        for _ in live.live_refreshes(record=OUT, profiler_dir=rings):
            pass
        for comm in ranks:
            comm.finalize()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

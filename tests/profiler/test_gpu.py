# SPDX-License-Identifier: Apache-2.0
"""The plugin inside a real NCCL, through torch.distributed: loaded with no code change, and right about a wait.

GPU only. One GPU: a 1-rank job loads the plugin through NCCL_PROFILER_PLUGIN, and the ring names the
communicator with the table NCCL chose (v5 on 2.28, v6 on 2.29 to 2.31.0, v7 from 2.31.2); NCCL runs a
1-rank collective as a local copy without planning it, so no collective record is expected there. Two GPUs:
rank 1 reaches a broadcast LATE_S after rank 0, and the accounting must say rank 0 waited about that long on
rank 1, from NCCL's own kernel timestamps.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from waitbench.profiler.accounting import account
from waitbench.profiler.library import env_vars
from waitbench.profiler.recording import load_sources

LATE_S = 0.3

JOB = textwrap.dedent("""
    import ctypes, signal, sys, tempfile, time
    import torch, torch.distributed as dist
    import torch.multiprocessing as mp

    def rank_main(rank, world, store, late_s):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: a rank dies with the job
        torch.cuda.set_device(rank)
        dist.init_process_group("nccl", init_method=f"file://{store}", rank=rank, world_size=world,
                                device_id=torch.device("cuda", rank))
        x = torch.ones(1 << 20, device="cuda")
        for _ in range(5):
            dist.all_reduce(x)
        torch.cuda.synchronize()
        dist.barrier()
        if rank == world - 1:
            time.sleep(late_s)
        dist.broadcast(x, src=0)
        torch.cuda.synchronize()
        dist.destroy_process_group()

    if __name__ == "__main__":
        world = int(sys.argv[1])
        with tempfile.TemporaryDirectory() as tmp:
            mp.spawn(rank_main, args=(world, tmp + "/store", float(sys.argv[2])), nprocs=world, join=True)
""")


def run_job(tmp_path: Path, world: int) -> list:
    torch = pytest.importorskip("torch")
    if torch.cuda.device_count() < world:
        pytest.skip(f"needs {world} CUDA GPUs visible to torch")
    script = tmp_path / "job.py"
    script.write_text(JOB)
    env = {**os.environ, **env_vars("gpu", str(tmp_path))}
    subprocess.run([sys.executable, str(script), str(world), str(LATE_S)], env=env, check=True, timeout=300)
    return load_sources([tmp_path], job="gpu")


def expected_abi(version: tuple[int, int, int]) -> int:
    if version >= (2, 31, 2):
        return 7
    return 6 if version >= (2, 29, 0) else 5


@pytest.mark.gpu
def test_a_one_rank_job_loads_the_plugin_with_no_code_change(tmp_path):
    (ring,) = run_job(tmp_path, 1)
    import torch

    abi = expected_abi(tuple(torch.cuda.nccl.version()))
    assert [(c["n_ranks"], c["abi_version"]) for c in ring.comms][:1] == [(1, abi)]
    assert ring.comms_live == 0 and not ring.died  # every communicator finalized


@pytest.mark.multigpu
def test_a_late_rank_is_named_and_the_wait_measured(tmp_path):
    rings = run_job(tmp_path, 2)
    recs = [r for ring in rings for r in ring.records]
    assert recs and all(r["complete"] and r["channels_seen"] == r["channels"] >= 1 for r in recs)
    assert all(r["gpu_start_ns"] < r["gpu_stop_ns"] and r["enqueue_ns"] <= r["coll_start_ns"] for r in recs)
    acc = account(recs)
    (bcast,) = [i for i in acc.instances if i.func == "Broadcast"]
    assert bcast.late_rank == 1 and bcast.ranks == [0, 1]
    assert LATE_S * 0.8 <= bcast.wait_ns[0] / 1e9 <= LATE_S + 0.3
    assert acc.clock_suspect == 0

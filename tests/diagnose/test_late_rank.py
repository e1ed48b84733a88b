# SPDX-License-Identifier: Apache-2.0
"""Which rank is late, on COMPOSED hosts: real single-GPU H100 windows laid side by side as GPUs of one host
(tests/helpers/composed_windows.py says how; no multi-GPU recording exists yet).
"""

from __future__ import annotations

import pytest

from helpers.composed_windows import RECORDER_PID, composed_host, real_window
from waitbench.diagnose import verdict_rows
from waitbench.diagnose.late_rank import late_rank


def rows_of(*scenarios: str):
    return verdict_rows(composed_host(*scenarios))


def test_composed_host_block_rank_is_late():
    # COMPOSED: three GPUs in waiting kernels, one whose process blocks on the host (the LMDeploy situation).
    found = late_rank(rows_of("nccl-simple-16ch", "host-block", "spin-1warp", "spin-every-sm"))
    assert found is not None
    assert found.waiting == ["0", "2", "3"] and found.late == ["1"] and found.unjudged == []
    assert found.message == (f"GPUs 0,2,3 wait; GPU 1 does not (idle with compute process pid {RECORDER_PID}: "
                             "nothing enqueued, its host side is behind): GPU 1 is likely the late rank")


def test_composed_straggler_still_computing_is_late():
    # COMPOSED: one GPU still runs a GEMM while the others wait for it.
    found = late_rank(rows_of("spin-1warp", "spin-1warp", "gemm"))
    assert found is not None and found.late == ["2"] and found.waiting == ["0", "1"]
    assert "GPU 2 does not (busy: tensor pipe" in found.message
    assert found.message.endswith("GPU 2 is likely the late rank")


def test_composed_gpu_without_process_is_not_preferred():
    # COMPOSED: GPU 1 has no compute process at all (real idle window), GPU 2 has one that enqueued nothing.
    found = late_rank(rows_of("nccl-simple-16ch", "idle", "host-block"))
    assert found is not None and found.late == ["2"]
    assert "1: idle, no compute process: probably not in this job" in found.message
    assert "GPUs 1,2 do not" in found.message


def test_composed_only_a_gpu_without_process_is_left():
    found = late_rank(rows_of("spin-1warp", "idle"))
    assert found is not None and found.late == ["1"]
    assert "probably not in this job" in found.message


def test_composed_two_candidates_are_both_named():
    found = late_rank(rows_of("spin-1warp", "gemm", "host-block"))
    assert found is not None and found.late == ["1", "2"]
    assert "one of GPUs 1,2 is likely the late rank" in found.message


def test_composed_every_gpu_waits_means_elsewhere():
    found = late_rank(rows_of("spin-1warp", "nccl-simple-16ch", "spin-every-sm"))
    assert found is not None and found.late == [] and found.waiting == ["0", "1", "2"]
    assert "the late rank is elsewhere" in found.message


def test_composed_unknown_gpu_is_reported_unjudged():
    # COMPOSED: GPU 2's real window judged without GPM and without power reads "unknown".
    first, second, third = composed_host("spin-1warp", "host-block", "spin-every-sm")
    third.null("power_w", "SYNTHETIC: no energy counter")
    rows = verdict_rows([first, second]) + verdict_rows([third], ignore_gpm=True)
    assert rows[2].verdict == "unknown"
    found = late_rank(rows)
    assert found is not None and found.unjudged == ["2"] and found.late == ["1"]
    assert found.message.endswith("; GPU 2 cannot be judged (unknown)")


@pytest.mark.parametrize("scenarios", [("gemm", "idle"), ("copy", "gemm", "host-block")])
def test_composed_nobody_waits_gives_nothing(scenarios):
    assert late_rank(rows_of(*scenarios)) is None


def test_one_gpu_or_one_gpu_at_several_times_gives_nothing():
    assert late_rank(rows_of("spin-1warp")) is None
    # The raw recording: the SAME GPU in different scenarios is not a host of several GPUs.
    same_gpu = verdict_rows([real_window("spin-1warp"), real_window("host-block")])
    assert same_gpu[0].uuid == same_gpu[1].uuid
    assert late_rank(same_gpu) is None


def test_to_dict():
    found = late_rank(rows_of("spin-1warp", "gemm"))
    assert found is not None
    assert found.to_dict() == {"waiting": ["0"], "late": ["1"], "unjudged": [], "message": found.message}

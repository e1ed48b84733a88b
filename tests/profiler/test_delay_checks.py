# SPDX-License-Identifier: Apache-2.0
"""benchmarks/delay_checks.py's verdicts on SYNTHETIC rings written by the real plugin (fake NCCL host).

Known host delays become GPU arrivals the plugin records; the checks must PASS them, and MISS a wrong
late rank, a wait off by more than max(5%, 50 µs), and instances the plugin never recorded.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers.benchmark_scripts import BENCH, load_benchmark
from helpers.fake_nccl_host import Collective
from waitbench.profiler.accounting import account
from waitbench.profiler.ring import read_ring, ring_paths

MS = 1_000_000
LAUNCH = 7_000  # host call -> kernel start, every rank alike
TRANSFER = 40_000


checks = load_benchmark("delay_checks")


def play(make_host, ring_dir, delays_ms, late=1, n=3, reps=4, recorded_late=None, scale=1.0, skip=()):
    """Instances with ``late`` sleeping each delay before the call; the plugin sees GPU arrivals at call + LAUNCH
    (the late rank's scaled by ``scale``, or ``recorded_late`` arriving last instead). Returns (calls, accounting).
    """
    host = make_host()
    comms = [host.init(0x5E, rank=r, n_ranks=n) for r in range(n)]
    calls, k = [], 0
    for d in delays_ms:
        for _ in range(reps):
            base = 10**10 * (k + 1)
            call = {r: base + (int(d * MS) if r == late else 0) + 1_000 * r for r in range(n)}
            shown = late if recorded_late is None else recorded_late
            arrive = {r: base + 1_000 * r + LAUNCH for r in range(n)}
            arrive[shown] = base + int(d * MS * scale) + LAUNCH
            stop = max(arrive.values()) + TRANSFER
            if k not in skip:
                for r, c in enumerate(comms):
                    c.collective(Collective("AllReduce", [arrive[r], arrive[r] + 50], [stop - 10, stop]))
            calls.append({"collective": "all_reduce", "delay_ms": d, "func": "AllReduce", "seq": k - sum(
                s < k for s in skip), "late_rank": late, "call_ns": {str(r): v for r, v in call.items()},
                "event_ns": {str(r): stop - call[r] for r in range(n)}})
            k += 1
    recs = [r for p in ring_paths(ring_dir, "test") for r in read_ring(p).records]
    return calls, account(recs)


def test_known_delays_pass(make_host, ring_dir):
    calls, acc = play(make_host, ring_dir, [1, 10, 100, 1000])
    rows = checks.check_job(calls, acc, ("collective", "delay_ms"))
    assert [r["delay_ms"] for r in rows] == [1, 10, 100, 1000]
    for r in rows:
        assert (r["instances"], r["missing"], r["late_share"], r["wait_within_share"]) == (4, 0, 1.0, 1.0)
        assert (r["late_verdict"], r["wait_verdict"], r["wait_share_verdict"]) == ("PASS", "PASS", "PASS")
        assert r["wait_abs_error_max_s"] <= 2e-6  # the ranks' 1 us call skew, nothing else
        lo, hi = r["wait_share_range"]
        assert lo <= r["wait_share"] <= hi
    assert rows[-1]["wait_share"] == pytest.approx(0.99996, abs=1e-4)
    assert checks.overall(rows)["verdict"] == "PASS"


def test_a_wrong_late_rank_misses(make_host, ring_dir):
    calls, acc = play(make_host, ring_dir, [10], recorded_late=2)
    (row,) = checks.check_job(calls, acc, ("delay_ms",))
    assert row["late_share"] == 0 and row["late_verdict"] == "MISS"
    assert checks.overall([row])["verdict"] == "MISS" and checks.overall([row])["late_verdict"] == "MISS"


def test_a_wait_off_by_more_than_the_tolerance_misses(make_host, ring_dir):
    calls, acc = play(make_host, ring_dir, [10, 100], scale=1.2)  # 20% longer than injected
    rows = checks.check_job(calls, acc, ("delay_ms",))
    assert all(r["late_verdict"] == "PASS" and r["wait_verdict"] == "MISS" for r in rows)
    assert all(r["wait_share_verdict"] == "MISS" for r in rows)


def test_a_wait_within_the_absolute_floor_passes(make_host, ring_dir):
    calls, acc = play(make_host, ring_dir, [1], scale=1.04)  # 40 us off a 1 ms delay: inside 50 us
    (row,) = checks.check_job(calls, acc, ("delay_ms",))
    assert row["wait_verdict"] == "PASS" and 39e-6 <= row["wait_abs_error_p50_s"] <= 42e-6


def test_instances_the_plugin_missed_count_against_the_targets(make_host, ring_dir):
    calls, acc = play(make_host, ring_dir, [10], reps=100, skip=(5,))
    calls[5]["seq"] = 10**6  # the call whose instance is not in the rings
    (row,) = checks.check_job(calls, acc, ("delay_ms",))
    assert row["missing"] == 1 and row["late_share"] == 0.99 and row["late_verdict"] == "PASS"
    assert row["wait_within_share"] == pytest.approx(0.99) and row["wait_verdict"] == "PASS"


def test_a_protocol_nccl_did_not_use_misses(make_host, ring_dir):
    play(make_host, ring_dir, [1])  # the fake host's collectives say SIMPLE
    recs = [r for p in ring_paths(ring_dir, "test") for r in read_ring(p).records]
    assert checks.protocols_seen(recs, "Simple") == {"seen": {"SIMPLE": 12}, "verdict": "PASS"}
    assert checks.protocols_seen(recs, "LL")["verdict"] == "MISS"
    assert checks.protocols_seen([], "LL")["verdict"] == "MISS"


def test_nccl_numbering_from_elsewhere_is_aligned_on_the_first_instance(make_host, ring_dir):
    calls, acc = play(make_host, ring_dir, [10])
    for i in acc.instances:
        i.seq_number += 7  # as if NCCL had counted 7 AllReduce before the job's first call
    (row,) = checks.check_job(calls, acc, ("delay_ms",))
    assert row["missing"] == 0 and row["late_verdict"] == row["wait_verdict"] == "PASS"


def test_tolerance_is_the_larger_of_5_percent_and_50_us():
    assert checks.tolerance_ns(1 * MS) == 50_000 and checks.tolerance_ns(1000 * MS) == 50 * MS


@pytest.mark.parametrize("args", [["--protos", "LL,XX"], ["--sizes", "7"], ["--delays-ms", "0"],
                                  ["--ranks", "1"], ["--late-rank", "-1"], ["--min-reps", "9", "--max-reps", "3"],
                                  ["--max-s", "10", "--backend", "gloo"]])
def test_bad_arguments_and_too_long_grids_exit_2_in_one_line(args, tmp_path):
    got = subprocess.run([sys.executable, str(BENCH / "profiler_delays.py"), str(tmp_path), *args],
                         capture_output=True, text=True, timeout=60)
    assert got.returncode == 2 and got.stderr.count("\n") == 1 and got.stderr.startswith("profiler_delays: ")
    assert not any(tmp_path.iterdir())


def test_without_two_gpus_it_refuses_in_one_line(tmp_path):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.device_count() >= 2:
        pytest.skip("this machine has 2 GPUs")
    got = subprocess.run([sys.executable, str(BENCH / "profiler_delays.py"), str(tmp_path)], capture_output=True,
                         text=True, timeout=120)
    assert got.returncode == 2 and got.stderr.count("\n") == 1 and "needs 2 or more GPUs" in got.stderr


def test_the_cpu_dry_run_goes_through_the_job_and_misses_every_target(tmp_path):
    """On gloo ranks: spawn, barriers, sleeps, merge, scrape, checks; nothing loads the plugin, so all MISS."""
    pytest.importorskip("torch")
    out = tmp_path / "out"
    got = subprocess.run([sys.executable, str(BENCH / "profiler_delays.py"), str(out), "--backend", "gloo",
                          "--protos", "Simple", "--collectives", "all_reduce,broadcast", "--sizes", "8",
                          "--delays-ms", "20", "--min-reps", "3", "--max-reps", "3"],
                         capture_output=True, text=True, timeout=240)
    assert got.returncode == 1, got.stderr[-2000:]
    data = json.loads((out / "profiler_delays.json").read_text())
    assert [(r["collective"], r["instances"], r["missing"]) for r in data["cells"]] == [
        ("all_reduce", 3, 3), ("broadcast", 3, 3)]
    for r in data["cells"]:  # the host saw the sleep: at least the delay, less than a loaded machine's slack
        assert 0.020 <= r["injected_mean_s"] < 0.120
        assert r["late_verdict"] == r["wait_verdict"] == "MISS"
    assert data["overall"]["verdict"] == "MISS" and data["exporter"]["Simple"]["verdict"] == "MISS"
    # The job was scraped while it ran; no ring (gloo loads no NCCL plugin), so the collector had no series yet.
    assert (out / "exporter-Simple.txt").exists()
    assert "waitbench_nccl_wait_seconds" not in (out / "exporter-Simple.txt").read_text()


@pytest.mark.gpu
@pytest.mark.multigpu
def test_known_delays_are_found_on_two_gpus(tmp_path):
    """The real job, one small cell: the plugin must name the late rank and its peers' waits."""
    torch = pytest.importorskip("torch")
    if torch.cuda.device_count() < 2:
        pytest.skip("needs 2 GPUs")
    got = subprocess.run([sys.executable, str(BENCH / "profiler_delays.py"), str(tmp_path), "--protos", "Simple",
                          "--collectives", "all_reduce", "--sizes", "8", "--delays-ms", "10", "--min-reps", "20",
                          "--max-reps", "20"], capture_output=True, text=True, timeout=300)
    data = json.loads((tmp_path / "profiler_delays.json").read_text())
    assert got.returncode == 0 and data["overall"]["verdict"] == "PASS", data["cells"]

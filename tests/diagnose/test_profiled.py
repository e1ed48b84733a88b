# SPDX-License-Identifier: Apache-2.0
"""diagnose with jobs run under the NCCL profiler plugin: lines, --json, --record/--replay, the exporter's counters.

The GPUs are a FAKE NVML (tests/helpers/fake_nvml.py); the job is SYNTHETIC (tests/helpers/profiled_job.py):
two ranks played through the fake NCCL host, their collectives written by the REAL plugin into a ring of a
temporary folder, rank 0 late by a known time. No GPU, no NCCL: the figures are the synthetic ones, exactly.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.cli_run import run_cli
from helpers.fake_nvml import FakeNvml
from helpers.profiled_job import JOB_COMM, MS, late_collectives
from waitbench.diagnose.live import live_refreshes
from waitbench.diagnose.profiled import JobWaits, ProfiledJobs
from waitbench.diagnose.render import refresh_lines, refresh_to_json
from waitbench.diagnose.replay import replay_refreshes
from waitbench.inert import inert

COMM = f"0x{JOB_COMM:016x}"
SENTENCE = "rank 1 waited 200 ms on rank 0 in Broadcast, 95% of its kernel time (10 collectives)"


@pytest.fixture
def fake_gpus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeNvml:
    from waitbench.telemetry import instrument, nvml

    fake = FakeNvml(gpus=2)
    monkeypatch.setattr(nvml, "pynvml", lambda: fake)
    monkeypatch.setattr(instrument, "_cache", {})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return fake


@pytest.fixture
def job(make_host):
    """The two ranks of the synthetic job (communicators of one fake host), initialised: the ring exists."""
    host = make_host()
    return [host.init(JOB_COMM, rank=r, n_ranks=2) for r in range(2)]


@pytest.fixture
def played(job, monkeypatch: pytest.MonkeyPatch) -> list:
    """History before diagnose starts (3 AllReduces), then, at the first window's start, 10 Broadcasts with
    rank 0 late by 20 ms (rank 1 waits 20 ms of each 21 ms kernel).
    """
    late_collectives(job, "AllReduce", 3, late_rank=1, late_ns=50 * MS)
    start = ProfiledJobs.start

    def start_then_play(self: ProfiledJobs) -> None:
        start(self)
        late_collectives(job, "Broadcast", 10, late_rank=0, late_ns=20 * MS)

    monkeypatch.setattr(ProfiledJobs, "start", start_then_play)
    return job


def first(ring_dir: Path, **kwargs) -> Iterator:
    return live_refreshes(["nvml:0", "nvml:1"], 1.0, profiler_dir=ring_dir, **kwargs)


def test_a_live_window_says_who_waited_on_whom_and_leaves_history_out(fake_gpus, played, ring_dir):
    source = first(ring_dir)
    ref = next(source)
    source.close()
    (w,) = ref.waits
    assert w.job == "test" and w.sentences() == [SENTENCE]
    acc = w.accounting
    assert sum(t.collectives for t in acc.ranks.values()) == 20  # the 3 AllReduces before the start are left out
    assert acc.pairs == {(COMM, 1, 0, "Broadcast"): [200 * MS, 10]}
    lines = refresh_lines(ref)
    assert lines[-2:] == ["NCCL waits of job test in this window (profiler rings: 20 records of 2 ranks):",
                          f"  {SENTENCE}"]
    data = refresh_to_json(ref)
    assert all(row["nccl_waits"] == data[0]["nccl_waits"] for row in data)
    pair = data[0]["nccl_waits"][0]["pairs"][0]
    assert pair == {"comm_id": COMM, "rank": 1, "on_rank": 0, "func": "Broadcast", "wait_s": 0.2, "collectives": 10}


def test_without_rings_diagnose_shows_and_reads_nothing_more(fake_gpus, tmp_path, monkeypatch):
    from waitbench.profiler import follow

    def no_read(*args, **kwargs):
        raise AssertionError("no ring, nothing to read")

    monkeypatch.setattr(follow, "read_ring", no_read)
    (tmp_path / "not-a-ring.txt").write_text("x")
    source = first(tmp_path)
    ref = next(source)
    source.close()
    assert ref.waits == [] and not any("NCCL" in line for line in refresh_lines(ref))
    assert all("nccl_waits" not in row for row in refresh_to_json(ref))


def test_the_cli_shows_the_waits_in_text_and_json(fake_gpus, played, ring_dir):
    code, out, err = run_cli(["diagnose", "--seconds", "1", "--profiler-dir", str(ring_dir), "--json"])
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 2 and rows[0]["nccl_waits"][0]["sentences"] == [SENTENCE]


def test_record_then_replay_renders_the_same_lines_json_and_counters(fake_gpus, played, job, ring_dir, tmp_path):
    prometheus = pytest.importorskip("prometheus_client")
    from prometheus_client.parser import text_string_to_metric_families

    from waitbench.diagnose.exporter import MetricsStore, serve

    path = tmp_path / "session.jsonl"
    live_store = MetricsStore()
    live = []
    source = first(ring_dir, record=path)
    for ref in source:
        live.append(ref)
        live_store.update(ref)
        if len(live) == 2:
            break
        late_collectives(job, "AllReduce", 4, late_rank=1, late_ns=5 * MS, start_ns=2 * 10**18)  # window 1
    source.close()
    replayed = replay_refreshes(path)
    assert [refresh_lines(r) for r in replayed] == [refresh_lines(r) for r in live]
    assert [refresh_to_json(r)[0]["nccl_waits"] for r in replayed] == [refresh_to_json(r)[0]["nccl_waits"]
                                                                        for r in live]
    assert replayed[1].waits[0].sentences() == [
        "rank 0 waited 20 ms on rank 1 in AllReduce, 83% of its kernel time (4 collectives)"]
    code, out, err = run_cli(["diagnose", "--replay", str(path)])
    assert code == 0 and SENTENCE in out, err

    def scrape(store: MetricsStore) -> dict:
        endpoint = serve("127.0.0.1:0", store, hostname="node-1")
        try:
            with urllib.request.urlopen(endpoint.url, timeout=10) as resp:
                text = resp.read().decode()
        finally:
            endpoint.close()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value for fam in text_string_to_metric_families(text)
                for s in fam.samples if s.name.startswith(("waitbench_nccl", "waitbench_profiler"))}

    replay_store = MetricsStore()
    for ref in replayed:
        replay_store.update(ref)
    got = scrape(live_store)
    assert got == scrape(replay_store)
    common = (("Hostname", "node-1"), ("collective", "Broadcast"), ("comm", COMM))
    assert got[("waitbench_nccl_wait_seconds_total", (*common, ("on_rank", "0"), ("profiler_job", "test"),
                                                      ("rank", "1")))] == pytest.approx(0.2)
    assert got[("waitbench_nccl_kernel_seconds_total", (*common, ("profiler_job", "test"), ("rank", "1")))] == \
        pytest.approx(0.21)
    assert got[("waitbench_nccl_late_total", (*common, ("profiler_job", "test"), ("rank", "0")))] == 10
    reduce = (("Hostname", "node-1"), ("collective", "AllReduce"), ("comm", COMM))
    assert got[("waitbench_nccl_wait_seconds_total", (*reduce, ("on_rank", "1"), ("profiler_job", "test"),
                                                      ("rank", "0")))] == pytest.approx(0.02)
    assert prometheus is not None


def test_a_recorded_profile_line_is_checked_and_shown_inert():
    hostile = "job\x1b[2J\u202e"
    line = {"job": hostile, "rings": [{"host": "h\x07", "pid": 7, "lost": 3}],
            "totals": {"records": 2, "without_kernel": 0, "duplicates": 0, "clock_suspect": 0, "n_ranks": {"0x1": 2},
                       "by_func": [["0x1", 0, "AllReduce", 1, 5, 4, 5, 0, 0, 4], ["0x1", 1, "AllReduce", 1, 1, 0, 1,
                                                                                   1, 1, 0]],
                       "pairs": [["0x1", 0, 1, "AllReduce", 4, 1]]}}
    w = JobWaits.from_line(line)
    assert all(inert(text) == text for text in w.lines())
    assert w.lines()[0].startswith(f"NCCL waits of job {inert(hostile)} ")
    assert "  note: h\\x07 pid 7: 3 entries overwritten before they were read" in w.lines()[2]
    for bad, why in (({**line, "totals": {}}, "malformed wait totals"), ({**line, "rings": [{"pid": "x"}]}, "pids"),
                     ({**line, "job": 3}, "job id"), ({**line, "rings": [{"pid": 1, "lost": -1}]}, "not a count")):
        with pytest.raises(ValueError, match=why):
            JobWaits.from_line(bad)


def test_replay_refuses_the_profiler_folder_and_a_missing_folder_is_one_line(tmp_path):
    code, _, err = run_cli(["diagnose", "--replay", "x.jsonl", "--profiler-dir", str(tmp_path)])
    assert code == 2 and "--profiler-dir" in err
    code, _, err = run_cli(["diagnose", "--profiler-dir", str(tmp_path / "missing")])
    assert code == 2 and "--profiler-dir" in err and len(err.strip().splitlines()) == 1


def test_the_docs_show_what_the_replay_of_the_profiled_recording_prints():
    root = Path(__file__).resolve().parents[2]
    code, out, err = run_cli(["diagnose", "--replay", str(root / "tests/data/diagnose/profiled-composed-2gpu.jsonl")])
    assert code == 0, err
    for doc in ("DIAGNOSE.md", "PROFILER.md"):
        text = (root / "docs" / doc).read_text()
        block = text[text.index("\nlate rank: GPU 0 waits"):]
        block = block[:block.index("```")].strip()
        assert block.count("\n") == 2 and block in out, doc
    code, out, _ = run_cli(["diagnose", "--replay", str(root / "tests/data/diagnose/profiled-composed-2gpu.jsonl"),
                            "--json"])
    pairs = json.loads(out)[0]["nccl_waits"][0]["pairs"]
    assert f'"pairs": {json.dumps(pairs)}' in (root / "docs" / "DIAGNOSE.md").read_text()

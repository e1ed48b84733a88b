# SPDX-License-Identifier: Apache-2.0
"""``waitbench profiler``: env prints what loads the plugin, collect keeps rings, report replays them anywhere."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from helpers.fake_nccl_host import Collective, FakeNcclHost
from waitbench.cli.main import main
from waitbench.errors import WaitbenchError
from waitbench.profiler.library import plugin_path


@pytest.fixture
def plugin() -> str:
    try:
        return str(plugin_path())
    except WaitbenchError as exc:
        pytest.skip(str(exc))


def test_env_prints_the_variables_that_load_the_plugin(capsys, plugin):
    assert main(["profiler", "env", "--job", "j1", "--dir", "/tmp/rings", "--entries", "64"]) == 0
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert lines == {"NCCL_PROFILER_PLUGIN": plugin, "WAITBENCH_PROFILER_JOB": "j1",
                     "WAITBENCH_PROFILER_DIR": "/tmp/rings", "WAITBENCH_PROFILER_ENTRIES": "64",
                     "WAITBENCH_PROFILER_MASK": "0x242"}
    assert Path(lines["NCCL_PROFILER_PLUGIN"]).is_file()


def test_env_export_lines_are_shell_quoted_and_host_only_drops_kernel_times(capsys, plugin):
    assert main(["profiler", "env", "--export", "--host-only"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert all(line.startswith("export ") for line in out)
    assert shlex.split(out[-1]) == ["export", "WAITBENCH_PROFILER_MASK=0x202"]


@pytest.mark.parametrize("args, word", [(["--job", "a b"], "job"), (["--job", ""], "job"), (["--dir", "rel"], "dir"),
                                        (["--entries", "8"], "entries"), (["--entries", "99999999"], "entries")])
def test_env_refuses_bad_values_in_one_line(capsys, plugin, args, word):
    assert main(["profiler", "env", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and word in err


def _job(tmp_path: Path, monkeypatch, plugin: str) -> Path:
    monkeypatch.setenv("WAITBENCH_PROFILER_DIR", str(tmp_path))
    monkeypatch.setenv("WAITBENCH_PROFILER_JOB", "cli")
    host = FakeNcclHost(plugin)
    comms = [host.init(0x99, rank=r, n_ranks=2) for r in range(2)]
    for k in range(1, 4):  # GPU time 0 means "not seen" in a ring: start the synthetic clock at 1 s
        for r, c in enumerate(comms):
            c.collective(Collective("AllReduce", [10**9 * k + (2_000_000 if r == 0 else 0)], [10**9 * k + 2_100_000]))
    for c in comms:
        c.finalize()
    return tmp_path


def test_collect_then_report_on_the_recording(tmp_path, monkeypatch, capsys, plugin):
    (tmp_path / "rings").mkdir()
    rings = _job(tmp_path / "rings", monkeypatch, plugin)
    rec = tmp_path / "rec.jsonl"
    assert main(["profiler", "collect", "--dir", str(rings), "--job", "cli", "--out", str(rec)]) == 0
    assert "1 ring(s), 6 collectives" in capsys.readouterr().err
    assert main(["profiler", "report", str(rec)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("rank 1 waited 6 ms on rank 0 in AllReduce, 95% of its kernel time (3 collectives)")
    assert "Wait per rank" in out and "Wait matrix" in out
    assert main(["profiler", "report", "--json", str(rec)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["sentences"][0].startswith("rank 1 waited 6 ms") and [t["kind"] for t in doc["tables"]] == [
        "profiler-ranks", "profiler-slowest", "profiler-matrix"]


def test_report_reads_ring_files_and_folders(tmp_path, monkeypatch, capsys, plugin):
    rings = _job(tmp_path, monkeypatch, plugin)
    (ring,) = rings.glob("*.ring")
    for source in (str(ring), str(rings)):
        assert main(["profiler", "report", "--format", "csv", source]) == 0
        assert capsys.readouterr().out.startswith("table,run_id,comm_id,rank")


@pytest.mark.parametrize("args", [["report", "/nonexistent/x"], ["report", "--top", "0", "/tmp"],
                                  ["collect", "--out", "/dev/null/x.jsonl", "/nonexistent"]])
def test_report_and_collect_refuse_bad_input_in_one_line(capsys, args):
    assert main(["profiler", *args]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_profiler_without_an_action_says_which_exist(capsys):
    assert main(["profiler"]) == 2
    assert "env, report or collect" in capsys.readouterr().err

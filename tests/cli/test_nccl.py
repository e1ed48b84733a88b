# SPDX-License-Identifier: Apache-2.0
"""``waitbench nccl``: a gloo dry run end to end, and one line + exit 2 for every bad value."""

from __future__ import annotations

import json

import pytest

from waitbench.cli.main import main
from waitbench.nccl.modes import mode_names
from waitbench.results import load_records

torch = pytest.importorskip("torch", reason="waitbench nccl needs torch (pip install 'waitbench[torch]')")


def _gpus() -> int:
    try:
        return torch.cuda.device_count()
    except Exception:  # noqa: BLE001
        return 0


def test_gloo_dry_run_writes_and_prints_the_records(tmp_path, capsys):
    out = tmp_path / "nccl.jsonl"
    rc = main(["nccl", "--backend", "gloo", "--late-s", "0.3", "--modes", "nccl+host-barrier",
               "--collective", "broadcast", "--out", str(out), "--json", "--quiet"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    printed = json.loads(captured.out)
    assert [(r["strategy"], r["rank"], r["status"]) for r in printed] == [
        ("nccl+host-barrier", 0, "ok"), ("nccl+host-barrier", 1, "ok")]
    assert printed == load_records(out)
    assert all(r["collective"] == "broadcast" for r in printed)
    assert [(r["role"], r["backend"]) for r in printed] == [("late", "gloo"), ("waiting", "gloo")]
    # the same records through `waitbench report`
    assert main(["report", "--format", "markdown", "--quiet", str(out)]) == 0
    report = capsys.readouterr().out
    assert "Real collectives" in report and report.count("| nccl+host-barrier |") == 2


def test_table_output_lists_skips_as_notes(tmp_path, capsys):
    rc = main(["nccl", "--backend", "gloo", "--modes", "cupy-nccl", "--out", str(tmp_path / "s.jsonl"), "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "cupy-nccl: skipped: cupy-nccl needs the nccl backend" in out


@pytest.mark.parametrize("argv, needle", [
    (["--backend", "gloo", "--late-s", "0"], "--late-s=0.0"),
    (["--backend", "gloo", "--late-s", "-1"], "--late-s=-1.0"),
    (["--backend", "gloo", "--late-s", "601"], "--late-s=601.0"),
    (["--backend", "gloo", "--late-rank", "2"], "--late-rank=2"),
    (["--backend", "gloo", "--nproc", "1"], "--nproc=1"),
    (["--backend", "gloo", "--modes", "nccl,spin"], "--modes="),
    (["--backend", "gloo", "--collective", "scatter"], "--collective"),
    (["--backend", "mpi"], "--backend"),
    (["--late-s", "soon"], "--late-s"),
])
def test_bad_values_print_one_line_and_exit_2(tmp_path, capsys, argv, needle):
    out = tmp_path / "never.jsonl"
    try:
        rc = main(["nccl", *argv, "--out", str(out)])
    except SystemExit as exc:  # argparse's own checks (choices, types) exit through SystemExit
        rc = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and needle in err[0], err
    assert not out.exists()


@pytest.mark.cuda_build  # without it the missing CUDA module is said first (tests/test_native_without_cuda.py)
@pytest.mark.skipif(_gpus() >= 2, reason="this machine has two or more GPUs")
def test_nccl_backend_without_two_gpus_names_the_gloo_dry_run(tmp_path, capsys):
    rc = main(["nccl", "--late-s", "0.3", "--out", str(tmp_path / "x.jsonl")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and "--backend gloo" in err[0] and "at least 2" in err[0]


def test_help_lists_every_mode(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["nccl", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for name in mode_names():
        assert name in text


def test_json_contradicting_format_is_one_line_exit_2(capsys):
    rc = main(["nccl", "--backend", "gloo", "--json", "--format", "csv"])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--json contradicts --format csv" in err

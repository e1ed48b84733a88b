# SPDX-License-Identifier: Apache-2.0
"""The ``waitbench`` entry point: golden ``--help`` of every subcommand, a closed pipe, bare
``waitbench``, warnings as one line, and a subcommand that applies to nothing (CPU).

The goldens live in tests/cli/golden/py<major>.<minor>/ (argparse's layout changes between Python
versions) and are drawn 100 columns wide; regenerate them with WAITBENCH_REGEN_GOLDEN=1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from waitbench.cli.main import EXIT_BROKEN_PIPE, SUBCOMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden" / f"py{sys.version_info.major}.{sys.version_info.minor}"
REGEN = os.environ.get("WAITBENCH_REGEN_GOLDEN") == "1"


def _help_text(name: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", "100")  # argparse wraps at the terminal width it reads from COLUMNS
    parser = build_parser()
    if name == "waitbench":
        return parser.format_help()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[name].format_help()


@pytest.mark.parametrize("name", ["waitbench", *SUBCOMMANDS])
def test_help_matches_its_golden(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _help_text(name, monkeypatch)
    assert "option_strings" not in text and "%(" not in text  # an unescaped % prints argparse's internals
    golden = GOLDEN / f"{name}.txt"
    if REGEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    if not golden.exists():
        pytest.skip(f"no golden for Python {sys.version_info.major}.{sys.version_info.minor}: "
                    "run WAITBENCH_REGEN_GOLDEN=1 pytest tests/cli/test_main.py")
    assert text == golden.read_text(encoding="utf-8"), f"{golden} is out of date (WAITBENCH_REGEN_GOLDEN=1 regenerates)"


def test_the_first_screen_is_the_help_of_every_subcommand() -> None:
    proc = subprocess.run([sys.executable, "-m", "waitbench"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "100"})
    assert proc.returncode == 2 and proc.stdout == ""
    assert "busy-waiting (100% reported," in proc.stderr and "Traceback" not in proc.stderr
    for name in SUBCOMMANDS:
        assert f"    {name}" in proc.stderr


@pytest.mark.parametrize("args", [["strategies", "--json"], ["strategies"], ["report", "--reference"], ["--help"]])
def test_a_closed_pipe_ends_quietly_with_sigpipe_status(args: list[str]) -> None:
    """``waitbench ... | head -1``: the reader leaves early; exit 141 as git and ls, nothing on stderr."""
    r, w = os.pipe()
    os.close(r)  # the reader has gone before the first byte
    proc = subprocess.run([sys.executable, "-m", "waitbench", *args], stdout=w, stderr=subprocess.PIPE, text=True,
                          timeout=60)
    os.close(w)
    assert proc.stderr == ""
    assert proc.returncode == EXIT_BROKEN_PIPE


@pytest.mark.parametrize("args, needle", [
    (["run", "--strategies", "spin", "--presets", "tiny"],
     ("--presets='tiny' is invalid: expected a value for strategies that take it (nccl-shaped); none of "
     "--strategies spin does")),
    (["run", "--strategies", "host-block", "--flags", "device"], "--flags='device' is invalid"),
    (["run", "--trials", "100000000000000000000"], "--trials=100000000000000000000 is invalid: expected an int in"),
    (["run", "--gpu", "-1"], "--gpu='-1' is invalid: expected an nvidia-smi index (NVML order"),
    (["sweep", "--gpu", "cuda:1"], "--gpu='cuda:1' is invalid: expected an nvidia-smi index (NVML order"),
    (["run", "--out", ""], "--out='' is invalid"),
    (["sweep", "--seconds", "nan"], "--seconds=nan is invalid"),
    (["sweep", "--blocks", "１６"], "--blocks='１６' is invalid"),
    (["compare", "a", "b", "--threshold", "inf"], "--threshold=inf is invalid"),
    (["compare", "", "b"], "A='' is invalid"),
    (["diagnose", "--replay", ""], "--replay='' is invalid"),
    (["diagnose", "--serve", ""], "--serve='' is invalid"),
    (["diagnose", "--serve", "９４００"], "--serve='９４００' is invalid"),
    (["diagnose", "--serve-public"], "--serve-public goes with --serve"),
    (["diagnose", "--record", ""], "--record='' is invalid"),
    (["diagnose", "--gpus", " "], "--gpus=' ' is invalid"),
    (["diagnose", "--record", "/"], "--record='/' is invalid: expected a file, not a directory"),
])
def test_bad_input_is_one_line_exit_2_before_any_gpu(args: list[str], needle: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "waitbench", *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert needle in lines[0]


def test_markup_in_messages_is_printed_as_written(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Rich must not eat "[torch]" from an install hint."""
    import importlib.util

    from waitbench.cli.measuring import workloads_from

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)

    class Args:
        workloads, quiet = "gemm,fma", False

    assert workloads_from(Args()) == ["fma"]
    assert "pip install 'waitbench[torch]'" in capsys.readouterr().err

# SPDX-License-Identifier: Apache-2.0
"""Fuzz the command line: every flag of every subcommand (``nccl`` aside: it spawns ranks) with
values a person or a script might pass, in-process. Every input must end in success, one clean
line with exit 2 (bad usage or input) or exit 1 (no GPU/NVML: both are withheld here), never a
traceback, and no file the command was given may change (only image files may be replaced).

Inputs are SYNTHETIC records (tests/helpers/synthetic_records.py), the committed COMPOSED recording,
and deliberately broken files (torn, binary, latin-1, a BOM, a JSON array, a folder, /proc/self/mem).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import synthetic_records as syn
from helpers.cli_run import run_cli
from helpers.composed_windows import COMPOSED_4GPU
from waitbench.cli import diagnose as cli_diagnose
from waitbench.cli.main import build_parser
from waitbench.results import ResultsWriter

from .conftest import TALLY, fuzz_settings

SUBCOMMANDS = ["run", "sweep", "strategies", "report", "compare", "diagnose"]
IMAGE_SUFFIXES = (".png", ".jpg", ".svg", ".pdf")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of inputs, good and broken; every file in it is an input the CLI must not change."""
    d = tmp_path_factory.mktemp("fuzz-cli")
    with ResultsWriter(d / "run.jsonl") as w:
        for rec in syn.synthetic_run(repetitions=1) + syn.synthetic_sweep():
            w.write(rec)
    good = (d / "run.jsonl").read_bytes()
    (d / "torn.jsonl").write_bytes(good + good[:300])
    (d / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + good)
    (d / "binary.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (d / "latin1.jsonl").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    (d / "array.jsonl").write_text("[1, 2, 3]\nnull\n")
    (d / "empty.jsonl").write_text("")
    (d / "notes.txt").write_text("my notes, not results\n")
    (d / "notes.png").write_text("not an image either\n")
    shutil.copy(COMPOSED_4GPU, d / "recording.jsonl")
    (d / "results").mkdir()
    shutil.copy(d / "run.jsonl", d / "results" / "copy.jsonl")
    (d / "empty-dir").mkdir()
    return d


def _snapshot(d: Path) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in d.rglob("*") if p.is_file()}


def _tidy(d: Path, before: dict[Path, str]) -> None:
    """Remove what a command wrote (charts, results), so every example starts from the same inputs."""
    for p in sorted(d.rglob("*"), reverse=True):
        if p.is_file() and p not in before:
            p.unlink()
        elif p.is_dir() and not any(p.iterdir()) and p.name not in ("empty-dir",):
            p.rmdir()


def _pools(d: Path) -> dict[str, list[str]]:
    """Values by what a flag takes; any flag may also get any other kind (or random text)."""
    paths = [str(d / n) for n in ("run.jsonl", "torn.jsonl", "bom.jsonl", "binary.jsonl", "latin1.jsonl",
                                  "array.jsonl", "empty.jsonl", "notes.txt", "notes.png", "recording.jsonl",
                                  "results", "empty-dir", "new/out.jsonl", "chart.png", "chart.jpg", "chart.svg",
                                  "chart.txt", "charts")]
    return {
        "input": [str(d / n) for n in ("run.jsonl", "bom.jsonl", "torn.jsonl", "results", "recording.jsonl")],
        "path": [*paths, "", "/proc/self/mem", "/nonexistent/x.jsonl", "/", "x" * 300],
        "number": ["0", "1", "-1", "2.5", "0.01", "600", "3600", "1e20", "100000000000000000000", "nan", "inf",
                   "-inf", "１６", "0x10", "1_000", " 3 ", "5.0"],
        "list": ["spin", "spin,bogus", "nccl-shaped", "nccl-shaped,spin", "host-block", "tiny,simple-2ch", "ring-99",
                 "host,device", "gpu", "fma", "gemm", "fma,stream", "matmul", ",", "32,64", "33", "1,2,4", "x",
                 "volatile,acquire", "shared,per-poller", "0", "0,,1", "GPU-0000", "all"],
        "address": ["0", "9401", "127.0.0.1:0", "localhost:0", "0.0.0.0:0", "[::1]:0", "９４００", "70000", "abc",
                    "host:", ":1", "nosuchhost.invalid:0"],
        "text": ["[torch]", "[bold]x[/]", "%(default)s", "-", "--", "é", "\t", "a b"],
        "option": ["blocks=4", "pollers=64", "registers=96", "registers=97", "timeout_s=nan", "timeout_s=0.5",
                   "check_every=１６", "flag=device", "preset=tiny", "poll=acquire", "sync=spin", "nope=1", "blocks",
                   "=4", "blocks=", "backoff_ns=-1"],
    }


KIND = {"--out": "path", "--plot": "path", "--plots-dir": "path", "--record": "path", "--replay": "input",
        "--trials": "number", "--gpu": "number", "--seconds": "number", "--threshold": "number", "--serve": "address",
        "--option": "option"}


def _value(draw: Any, pools: dict[str, list[str]], kind: str) -> str:
    if draw(st.integers(0, 9)) < 7:  # mostly what the flag takes, so commands get past the first check
        return draw(st.sampled_from(pools[kind]))
    return draw(st.one_of(st.sampled_from([v for pool in pools.values() for v in pool]),
                          st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
                                  max_size=12)))


def _flags(name: str) -> list[tuple[str, int, tuple[str, ...] | None]]:
    """(option string, values it takes, its choices) of every flag of subcommand ``name``."""
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[name]
    out = []
    for a in sub._actions:
        if not a.option_strings or a.dest == "help":
            continue
        takes = 0 if a.nargs == 0 else 1
        out.append((a.option_strings[-1], takes, tuple(map(str, a.choices)) if a.choices else None))
    return out


FLAGS = {name: _flags(name) for name in SUBCOMMANDS}
POSITIONALS = {"report": (0, 3), "compare": (0, 3)}


@st.composite
def command_lines(draw: Any, d: Path) -> list[str]:
    name = draw(st.sampled_from(SUBCOMMANDS))
    pools = _pools(d)
    argv = [name]
    lo, hi = POSITIONALS.get(name, (0, 0))
    argv += [_value(draw, pools, draw(st.sampled_from(["input", "path"]))) for _ in range(draw(st.integers(lo, hi)))]
    for flag, takes, choices in draw(st.lists(st.sampled_from(FLAGS[name]), max_size=3)):
        argv.append(flag)
        if takes:
            argv.append(draw(st.sampled_from(choices)) if choices and draw(st.booleans())
                        else _value(draw, pools, KIND.get(flag, "list")))
    return argv


@pytest.fixture(scope="module")
def serve_briefly(files: Path) -> Iterator[None]:
    """``diagnose --replay F --serve A`` serves until Ctrl-C: the fuzz presses it at once. Commands run
    in the inputs' folder, so a relative name (``--plots-dir spin``) writes there, where it is tidied.
    """
    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cli_diagnose.time, "sleep", interrupt)
        mp.chdir(files)
        yield


def test_every_command_line_ends_cleanly(files: Path, no_gpu: None, serve_briefly: None) -> None:
    before = _snapshot(files)
    tally = TALLY["CLI (waitbench ...)"]

    @fuzz_settings(examples=1500)
    @given(command_lines(files))
    def one(argv: list[str]) -> None:
        try:
            code, out, err = run_cli(argv)
            assert "Traceback" not in err and "Traceback" not in out, (argv, err)
            lines = err.strip().splitlines()
            if code == 0:
                tally["success (exit 0)"] += 1
                assert all(line.startswith(("waitbench: warning: ", "wrote ", "note: ", "serving metrics on "))
                           for line in lines), (argv, err)
            elif code in (1, 2):
                tally[f"one line, exit {code}"] += 1
                errors = [line for line in lines if not line.startswith("waitbench: warning: ")]  # 1 line each
                assert len(errors) == 1 and errors[0].startswith("waitbench: ") and out == "", (argv, code, err)
            else:
                raise AssertionError(f"{argv}: exit {code}: {err}")
            after = _snapshot(files)
            changed = [p for p, h in before.items() if after.get(p) != h and p.suffix not in IMAGE_SUFFIXES]
            assert not changed, (argv, changed)
        finally:
            _tidy(files, before)
            for p, h in before.items():  # a replaced image goes back, so every example starts the same
                if p.suffix in IMAGE_SUFFIXES and (not p.exists() or hashlib.sha256(p.read_bytes()).hexdigest() != h):
                    p.write_text("not an image either\n")

    t0 = time.monotonic()
    one()
    assert time.monotonic() - t0 < 240  # a guard: hypothesis itself would run on, CI should not


def test_known_traps_end_cleanly(files: Path, no_gpu: None, serve_briefly: None) -> None:
    """The cases issue #15 listed, each once, whatever the generator picks."""
    d = files
    cases = [
        (["report", str(d / "run.jsonl"), "--plot", str(d / "run.jsonl")], 2),
        (["report", str(d / "run.jsonl"), "--plot", str(d / "results")], 2),
        (["report", str(d / "run.jsonl"), "--plots-dir", str(d / "run.jsonl")], 2),
        (["report", str(d / "run.jsonl"), "--plot", str(d / "chart.jpg"), "--format", "csv"], 0),
        (["report", ""], 2), (["report", "/proc/self/mem"], 2), (["report", str(d / "binary.jsonl")], 2),
        (["report", str(d / "latin1.jsonl")], 2), (["report", str(d / "array.jsonl")], 2),
        (["report", str(d / "bom.jsonl"), "--format", "json"], 0), (["report", str(d / "torn.jsonl"), "--json"], 0),
        (["compare", str(d / "run.jsonl"), str(d / "latin1.jsonl")], 2),
        (["diagnose", "--record", str(d / "results")], 2), (["diagnose", "--replay", ""], 2),
        (["diagnose", "--replay", str(d / "results")], 2), (["diagnose", "--replay", "/proc/self/mem"], 2),
        (["diagnose", "--record", str(d / "new.jsonl")], 1), (["diagnose", "--serve", ""], 2),
        (["diagnose", "--replay", str(d / "recording.jsonl"), "--serve", "127.0.0.1:0"], 0),
        (["diagnose", "--replay", str(d / "recording.jsonl"), "--serve", "0.0.0.0:0"], 2),
        (["run", "--strategies", "spin", "--presets", "tiny"], 2), (["run", "--trials", "100000000000000000000"], 2),
        (["run"], 1), (["sweep", "--seconds", "nan"], 2), (["compare", "a", "b", "--threshold", "nan"], 2),
    ]
    before = _snapshot(d)
    for argv, expected in cases:
        if "/proc/self/mem" in argv and not Path("/proc/self/mem").exists():
            continue
        code, _, err = run_cli(argv)
        assert code == expected and "Traceback" not in err, (argv, code, err)
        if code:
            assert len([x for x in err.strip().splitlines() if not x.startswith("waitbench: warning:")]) == 1, err
        _tidy(d, before)
    assert not (d / "new.jsonl").exists()  # diagnose --record without NVML leaves no empty file
    assert json.loads((d / "recording.jsonl").read_text().splitlines()[0])  # inputs intact
    assert _snapshot(d) == before

# SPDX-License-Identifier: Apache-2.0
"""The ``waitbench`` entry point: golden ``--help`` of every subcommand, a closed pipe, bare
``waitbench``, warnings as one line, and a subcommand that applies to nothing (CPU).

The goldens (tests/cli/golden/<name>.txt) hold what ``--help`` says, not how argparse lays it out:
per command its description and epilog, per argument its flags, metavar or choices and its help
with ``%(default)s`` filled in, each text with its whitespace collapsed. Argparse wraps, indents
and joins flags differently from one Python to the next (3.13 writes ``-o, --option KEY`` where
3.11 writes ``-o KEY, --option KEY``), so the rendered help is checked to hold every one of those
texts (whitespace aside), not compared line by line. Regenerate with WAITBENCH_REGEN_GOLDEN=1.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from waitbench.cli.main import EXIT_BROKEN_PIPE, SUBCOMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("WAITBENCH_REGEN_GOLDEN") == "1"


def _parser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    if name == "waitbench":
        return parser
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[name]


def _squeezed(text: str | None) -> str:
    return " ".join((text or "").split())


def _expanded(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """An argument's help as --help prints it: ``%(default)s`` and the like filled in, as argparse does."""
    params = {k: v for k, v in vars(action).items() if v is not argparse.SUPPRESS}
    params["prog"] = parser.prog
    if params.get("choices") is not None:
        params["choices"] = ", ".join(map(str, params["choices"]))
    return _squeezed((action.help or "") % params)


def said(parser: argparse.ArgumentParser) -> list[str]:
    """What ``--help`` of ``parser`` says, one text per line, independent of argparse's layout."""
    lines = [parser.prog] + ([f"  {_squeezed(parser.description)}"] if parser.description else [])
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            lines += [f"{c.dest}\n  {_expanded(parser, c)}" for c in a._choices_actions]
            continue
        if a.nargs == 0 or not a.option_strings:  # a flag alone, or a positional (named by its metavar)
            form = ""
        elif a.metavar is not None:
            form = f" {a.metavar}"
        elif a.choices is not None:
            form = " {" + ",".join(map(str, a.choices)) + "}"
        else:
            form = f" {a.dest.upper()}"
        nargs = f" (nargs {a.nargs})" if a.nargs not in (None, 0) else ""
        name = ", ".join(a.option_strings) or a.metavar or a.dest
        lines.append(f"{name}{form}{nargs}\n  {_expanded(parser, a)}")
    if parser.epilog:
        lines.append(f"epilog\n  {_squeezed(parser.epilog)}")
    return lines


@pytest.mark.parametrize("name", ["waitbench", *SUBCOMMANDS])
def test_help_says_what_its_golden_says(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")  # argparse wraps at the terminal width it reads from COLUMNS
    parser = _parser(name)
    text = parser.format_help()
    assert "option_strings" not in text and "%(" not in text  # an unescaped % prints argparse's internals
    lines = said(parser)
    golden = GOLDEN / f"{name}.txt"
    if REGEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert "\n".join(lines) + "\n" == golden.read_text(encoding="utf-8"), \
        f"{golden} is out of date (WAITBENCH_REGEN_GOLDEN=1 regenerates)"
    rendered = re.sub(r"\s+", "", text)  # argparse may wrap anywhere, after a hyphen too
    for line in lines:
        for part in line.split("\n  "):
            if part == "epilog":  # a label of the golden, not a word of the help
                continue
            for piece in part.split(", ") if part.startswith("-") else [part]:
                assert re.sub(r"\s+|\(nargs.*\)", "", piece) in rendered, (name, piece)


def test_the_first_screen_is_the_help_of_every_subcommand() -> None:
    proc = subprocess.run([sys.executable, "-m", "waitbench"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "100"})
    assert proc.returncode == 2 and proc.stdout == ""
    assert "busy-waiting (100% reported," in _squeezed(proc.stderr) and "Traceback" not in proc.stderr
    for name in SUBCOMMANDS:  # each on a line of its own, however argparse indents and wraps
        assert re.search(rf"^\s+{name}\b", proc.stderr, re.MULTILINE), name


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

    from waitbench.cli.measuring import note_skipped, workloads_from

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)

    class Args:
        workloads, quiet = "gemm,fma", False

    assert workloads_from(Args()) == ["fma"]
    assert capsys.readouterr().err == ""  # nothing before the GPU is known usable: its error comes alone
    note_skipped(Args(), ["fma"])
    assert "pip install 'waitbench[torch]'" in capsys.readouterr().err

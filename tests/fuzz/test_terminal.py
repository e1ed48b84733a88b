# SPDX-License-Identifier: Apache-2.0
"""Hostile text from files and other processes reaches no terminal raw, in any output format.

A results file, a recording and a process table (a REAL child process whose name and command line
are hostile, on a FAKE NVML that lists it) carry window-title, screen-clear and colour sequences
(ESC and C1 CSI), BEL, CR, DEL, a bidi override, rich markup, a markdown cell break and a
spreadsheet formula. Through report, compare and diagnose (replayed and live), in every format,
stdout and stderr must hold no character a terminal acts on, and the text must still read as it
was (its escapes shown). Random text (hypothesis) goes through every renderer the same way.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import synthetic_records as syn
from helpers.composed_windows import COMPOSED_4GPU
from helpers.fake_nvml import FakeNvml
from waitbench.inert import inert
from waitbench.report.render import Column, Fitted, TableData, to_csv, to_json, to_markdown
from waitbench.results import ResultsWriter

from .conftest import fuzz_settings
from .test_cli import run_cli

HOSTILE = ("\x1b]0;pwned\x07"  # OSC: set the window title (BEL-terminated)
           "\x1b[2J\x1b[H"  # clear the screen, cursor home
           "\x1b[31m"  # red from here on
           "\x9b1m"  # C1 CSI (U+009B): bold
           "\x90q\x9c"  # C1 DCS ... ST
           "\r\x08\x7f"  # carriage return, backspace, DEL
           "\u202eexe.txt"  # bidi override: reads as "txt.exe"
           "\u2066[bold]x[/bold]|y")  # bidi isolate, rich markup, a markdown cell break
SHOWN = inert(HOSTILE)  # what a reader sees: every control as its escape, the rest as it was
FORMULA = "=HYPERLINK(\"http://x\")"  # a spreadsheet would run this cell
FORMATS = ("table", "markdown", "csv", "json")


def raw_controls(text: str) -> list[str]:
    """The characters of ``text`` a terminal could act on (everything unprintable but the newline)."""
    return sorted({ch for ch in text if not ch.isprintable() and ch != "\n"})


def squeezed(text: str) -> str:
    """``text`` without whitespace: a rich table folds long text over several padded lines."""
    return re.sub(r"\s+", "", text)


def assert_inert(*texts: str) -> None:
    for text in texts:
        assert raw_controls(text) == [], text


@pytest.fixture(scope="module")
def hostile_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two results files whose every text field a person sees is hostile (GPU names differ: compare warns)."""
    d = tmp_path_factory.mktemp("hostile")
    paths = []
    for side in ("a", "b"):
        recs = syn.synthetic_run(repetitions=2) + syn.synthetic_sweep()
        for r in recs:
            r["strategy"] += HOSTILE
            r["gpu_name"] = f"GPU {side} {HOSTILE}"
            r["driver_version"] = f"{side}{HOSTILE}"
            r["run_id"] = FORMULA + HOSTILE
            r["hostname"] = HOSTILE
            if r.get("workload"):
                r["workload"] += HOSTILE
        path = d / f"{side}.jsonl"
        with ResultsWriter(path) as w:
            for r in recs:
                w.write(r)
        paths.append(path)
    return paths[0], paths[1]


@pytest.fixture(scope="module")
def hostile_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The COMPOSED recording with hostile GPU names, scenario labels, process names and command lines."""
    out = tmp_path_factory.mktemp("hostile-rec") / "recording.jsonl"
    lines = []
    for line in COMPOSED_4GPU.read_text().splitlines():
        doc = json.loads(line)
        if doc.get("kind") == "window":
            doc["scenario"] = doc["scenario"] + HOSTILE
            doc["summary"]["name"] = "GPU" + HOSTILE
            for p in doc["summary"].get("processes", []):
                p["name"] = "python3" + HOSTILE
                p["cmdline"] = "python3 train.py " + HOSTILE
        lines.append(json.dumps(doc))
    out.write_text("\n".join(lines) + "\n")
    return out


def strings(doc: Any) -> Iterator[str]:
    """Every string of a parsed JSON document, keys included."""
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for k, v in doc.items():
            yield k
            yield from strings(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from strings(v)


def check_output(fmt: str, code: int, out: str, err: str) -> None:
    """No raw control anywhere; the hostile text still there, shown inert (JSON: faithful once parsed)."""
    assert code == 0, err
    assert_inert(out, err)
    if fmt == "json":
        assert out.isascii()
        assert any(HOSTILE in v for v in strings(json.loads(out)))
    elif fmt == "markdown":
        assert SHOWN.replace("|", "\\|") in out
    else:
        assert squeezed(SHOWN) in squeezed(out)  # a rich table may fold a long cell


@pytest.mark.parametrize("fmt", FORMATS)
def test_report_shows_hostile_results_inert(hostile_runs: tuple[Path, Path], fmt: str) -> None:
    code, out, err = run_cli(["report", str(hostile_runs[0]), "--format", fmt])
    check_output(fmt, code, out, err)
    if fmt == "table":
        assert "[bold]x[/bold]" in out  # markup shown as typed, not applied
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert rows and all(r["run_id"] == "'" + inert(FORMULA + HOSTILE) for r in rows)  # never a formula
        assert any(k.startswith("fma" + SHOWN) for k in rows[0])  # a workload's name in a header, inert


@pytest.mark.parametrize("fmt", FORMATS)
def test_compare_shows_hostile_results_inert(hostile_runs: tuple[Path, Path], fmt: str) -> None:
    code, out, err = run_cli(["compare", str(hostile_runs[0]), str(hostile_runs[1]), "--format", fmt])
    check_output(fmt, code, out, err)
    assert f"GPU a {SHOWN}" in err  # the warning that the GPUs differ names them, inert


@pytest.mark.parametrize("json_out", [False, True])
def test_diagnose_replay_shows_hostile_processes_inert(hostile_recording: Path, json_out: bool) -> None:
    code, out, err = run_cli(["diagnose", "--replay", str(hostile_recording), *(["--json"] if json_out else [])])
    check_output("json" if json_out else "table", code, out, err)
    if not json_out:
        assert f"python3{SHOWN}" in out and f"python3 train.py {SHOWN}" in out  # the process lines


class HostileFakeNvml(FakeNvml):
    """FAKE NVML (not a measurement): one GPU with a hostile name, a waiter's counters, and ``pid`` on it."""

    def __init__(self, pid: int) -> None:
        super().__init__()
        self.pid = pid

    def nvmlDeviceGetName(self, h: Any) -> str:  # noqa: N802 (pynvml's name)
        return "GPU" + HOSTILE

    def nvmlDeviceGetComputeRunningProcesses(self, h: Any) -> list[Any]:  # noqa: N802
        return [SimpleNamespace(pid=self.pid, usedGpuMemory=1 << 20)]

    def nvmlGpmMetricsGet(self, req: Any) -> Any:  # noqa: N802 (idle pipes at 100% reported: busy-waiting)
        for i in range(req.numMetrics):
            req.metrics[i].nvmlReturn, req.metrics[i].value = 0, 0.1
        return req


COMM = b"\x1b[2Jev\x9bil"  # the kernel keeps any bytes (15 at most) as a process's name, UTF-8 or not


@pytest.fixture
def hostile_process() -> Iterator[subprocess.Popen[bytes]]:
    """A REAL child process whose name (prctl PR_SET_NAME) and command line are hostile; killed after."""
    if not sys.platform.startswith("linux"):
        pytest.skip("process names are set with Linux's prctl")
    code = ("import ctypes, sys, time\nctypes.CDLL(None).prctl(15, bytes.fromhex(sys.argv[1]))\n"
            "print('named', flush=True)\ntime.sleep(120)\n")
    child = subprocess.Popen([sys.executable, "-c", code, COMM.hex(), "--title", HOSTILE], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"named\n"
        yield child
    finally:
        child.kill()
        child.wait(timeout=30)


@pytest.mark.parametrize("json_out", [False, True])
def test_live_diagnose_shows_a_hostile_process_inert(hostile_process: subprocess.Popen[bytes], json_out: bool,
                                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from waitbench.telemetry import instrument, nvml

    fake = HostileFakeNvml(hostile_process.pid)
    monkeypatch.setattr(nvml, "pynvml", lambda: fake)
    monkeypatch.setattr(instrument, "_cache", {})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    code, out, err = run_cli(["diagnose", "--seconds", "1", *(["--json"] if json_out else [])])
    check_output("json" if json_out else "table", code, out, err)
    comm = COMM.decode("utf-8", "backslashreplace")  # what /proc/PID/comm reads as
    if json_out:
        assert json.loads(out)[0]["processes"][0]["name"] == comm
    else:
        assert f"pid {hostile_process.pid} {inert(comm)} " in out
        assert f"--title {inert(HOSTILE.replace(chr(13), chr(10)))}" in out  # psutil reads CR as a newline


def test_a_watch_refresh_on_a_colour_terminal_holds_no_control_but_rich_colours(hostile_recording: Path) -> None:
    """``--watch`` draws :func:`render_refresh` on a terminal: rich's own colours are its only escapes."""
    from rich.console import Console

    from waitbench.diagnose.render import render_refresh
    from waitbench.diagnose.replay import iter_refreshes

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, color_system="truecolor", width=120)
    for ref in iter_refreshes(hostile_recording):
        console.print(render_refresh(ref, title="watch " + HOSTILE))
    text = re.sub(r"\x1b\[[0-9;]*m", "", buf.getvalue())  # rich's SGR colours, nothing else
    assert_inert(text)
    assert squeezed("watch " + SHOWN) in squeezed(text)


# --- random text through every renderer ---------------------------------------------------------

CONTROLS = st.characters(codec=None, categories=("Cc", "Cf", "Zl", "Zp", "Cs", "Co"))
TEXT = st.text(st.one_of(CONTROLS, st.characters(), st.sampled_from("[]|=\\\n")), max_size=40)


def table(text: str) -> TableData:
    return TableData("fuzz", "title " + text, "sub " + text, [Column("name " + text, "long " + text, "left"),
                     Column("n", "n")], [[text, "1"], ["x" + text, text]], [{"name": text, "k" + text: 1}],
                     ["note " + text], {"run_id": text}, {text: "bold"})


@fuzz_settings(examples=300)
@given(TEXT)
def test_inert_is_printable_idempotent_and_keeps_printable_text(text: str) -> None:
    shown = inert(text)
    assert shown.isprintable() and inert(shown) == shown
    assert inert(text, newlines=True).replace("\n", "").isprintable()
    if text.isprintable():
        assert shown == text  # printable text is left exactly as it was


@fuzz_settings(examples=200)
@given(TEXT)
def test_every_renderer_shows_random_text_inert(text: str) -> None:
    from rich.console import Console

    t = table(text)
    buf = io.StringIO()
    Console(file=buf, force_terminal=True, color_system="truecolor", width=80).print(Fitted(t))
    assert_inert(re.sub(r"\x1b\[[0-9;]*m", "", buf.getvalue()))
    md = to_markdown(t)
    assert_inert(md)
    assert all(line.count("|") - line.count("\\|") == 3 for line in md.splitlines() if line.startswith("| "))
    assert_inert(to_csv([t]))
    cell = list(csv.reader(io.StringIO(to_csv([t]))))[1][2]
    assert cell in (inert(text, newlines=True), "'" + inert(text, newlines=True))  # "'": a formula, quoted
    doc = to_json([t])
    assert doc.isascii() and json.loads(doc)["tables"][0]["rows"][0]["name"] == text


def test_the_hostile_samples_are_hostile() -> None:
    """The inputs above hold what they claim, so the assertions cannot pass on harmless text."""
    assert {"\x1b", "\x9b", "\x07", "\r", "\x7f", "\u202e"} <= set(raw_controls(HOSTILE))
    assert set(raw_controls(COMM.decode("latin-1"))) >= {"\x1b", "\x9b"}


def test_nccl_tables_show_hostile_records_inert() -> None:
    """The REAL committed nccl records (H200 x2) with hostile names, through every nccl table and its notes."""
    from rich.console import Console

    from waitbench.nccl.tables import calls_table, emulation_table, episode_table
    from waitbench.report.render import Fitted, render_text
    from waitbench.results import load_records

    folder = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "h200-x2"
    records = load_records(folder / "nccl-modes.jsonl") + load_records(folder / "nccl-calls.jsonl")
    for r in records:
        for key in ("strategy", "collective", "protocol", "status_detail", "side_call", "verdict", "workload"):
            if isinstance(r.get(key), str):
                r[key] += HOSTILE
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, color_system="truecolor", width=400)
    shown = 0
    for make in (episode_table, calls_table, emulation_table):
        t = make(records)
        if t is not None:
            console.print(Fitted(t))  # its notes come with it
            for fmt in ("markdown", "csv"):
                console.print(render_text([t], fmt), markup=False, soft_wrap=True)
            shown += 1
    text = re.sub(r"\x1b\[[0-9;]*m", "", buf.getvalue())
    assert shown >= 2
    assert_inert(text)
    assert "[bold]x[/bold]" in text and squeezed(SHOWN) in squeezed(text)

# SPDX-License-Identifier: Apache-2.0
"""Fuzz every reader of files with hostile lines: nesting thousands deep, numbers beyond a float or
64 bits, NaN and Infinity, a huge first record, the same file or records given twice, garbage bytes
and invalid UTF-8, lone surrogates, and valid records with a field swapped for a value of another
type. ``load_records()``, ``waitbench report``, ``compare`` and ``diagnose --replay`` (and the
recording readers) must read what is good and skip the rest with the one warning naming file and
line, or end in one line with exit 2 (a file that holds nothing readable); never a traceback, and
no number they keep is NaN or infinite.

Inputs are SYNTHETIC records (tests/helpers/synthetic_records.py) and the committed COMPOSED
recording (tests/helpers/composed_windows.py), each with hostile lines put in.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import synthetic_records as syn
from helpers.composed_windows import COMPOSED_4GPU
from waitbench import results
from waitbench.errors import DuplicateRecordsWarning, MalformedLinesWarning, ResultsError
from waitbench.telemetry import recording

from .conftest import TALLY, fuzz_settings
from .test_cli import run_cli

OUR_WARNINGS = (MalformedLinesWarning, DuplicateRecordsWarning)
WARNING_LINE = "waitbench: warning: "


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The good lines hostile ones are put among: a results file's and a recording's."""
    d = tmp_path_factory.mktemp("fuzz-readers-good")
    with results.ResultsWriter(d / "run.jsonl") as w:
        for rec in syn.synthetic_run(repetitions=1):
            w.write(rec)
    return {"results": (d / "run.jsonl").read_bytes().splitlines(keepends=True),
            "recording": Path(COMPOSED_4GPU).read_bytes().splitlines(keepends=True), "dir": d}


def _json_values(depth: int = 2) -> st.SearchStrategy[Any]:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False,
                        allow_infinity=False), st.text(max_size=8))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                        max_leaves=depth * 3)


@st.composite
def hostile_values(draw: Any) -> str:
    """The JSON text of one hostile value (some of them legal JSON that a reader must still refuse)."""
    kind = draw(st.sampled_from(["deep", "number", "constant", "surrogate", "swap"]))
    TALLY["readers: hostile values"][kind] += 1
    if kind == "deep":
        n = draw(st.sampled_from([65, 200, 999, 1000, 5000, 100_000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('[{"a":', "}]")]))
        return opener * n + draw(st.sampled_from(["1", "NaN", "", "[]"])) + closer * n
    if kind == "number":
        return draw(st.sampled_from(["1e400", "-1e309", "1E+99999", "2.5e308", "1" + "0" * 400, "-" + "9" * 30,
                                     "9223372036854775808", "-9223372036854775809", "9" * 5000, "1e-400",
                                     "0." + "0" * 400 + "1", "-0", "1.7976931348623157e308"]))
    if kind == "constant":
        return draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "[NaN]", '{"x": Infinity}', "-NaN"]))
    if kind == "surrogate":
        return draw(st.sampled_from(['"\\ud800"', '"a\\udfffb"', '"\\ud83d\\ude00"', '"\\udc00\\ud800"']))
    return json.dumps(draw(_json_values()))


@st.composite
def hostile_lines(draw: Any, good_lines: list[bytes]) -> bytes:
    """One line: a good line with a field's value made hostile, garbage bytes, a cut line, or a huge record."""
    kind = draw(st.sampled_from(["field", "field", "field", "garbage", "cut", "huge"]))
    TALLY["readers: hostile lines"][kind] += 1
    base = draw(st.sampled_from(good_lines))
    if kind == "garbage":
        return draw(st.one_of(st.binary(max_size=64), st.sampled_from([
            b"\xff\xfe{}", b"\xef\xbb\xbf{}", b'{"schema_version": 3, "x": "\xe9"}', b"\x00" * 20, b"\r", b"{\r}",
            "caf\xe9".encode("latin-1"), b"\xed\xa0\x80", b"\xc0\xaf"]))) + b"\n"
    if kind == "cut":
        return base[:draw(st.integers(0, max(len(base) - 2, 0)))] + b"\n"
    obj = json.loads(base)
    key = draw(st.sampled_from(sorted(obj)))
    if kind == "huge":  # a record over 1 MiB: kept if it is a good one
        obj[key if key == "extra" else "extra"] = {"blob": "x" * draw(st.sampled_from([1 << 20, 3 << 20]))}
        return json.dumps(obj).encode() + b"\n"
    obj[key] = "@@hostile@@"
    return json.dumps(obj).replace('"@@hostile@@"', draw(hostile_values()), 1).encode() + b"\n"


@st.composite
def hostile_files(draw: Any, good_lines: list[bytes]) -> list[bytes]:
    lines = list(good_lines)
    for _ in range(draw(st.integers(1, 3))):
        lines.insert(draw(st.integers(0, len(lines))), draw(hostile_lines(good_lines)))
    if draw(st.booleans()):  # a file whose first line is hostile, or the whole file hostile
        lines = [draw(hostile_lines(good_lines))] + (lines if draw(st.booleans()) else [])
    return lines


def _all_finite(obj: Any) -> bool:
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return True


def _check_cli(argv: list[str], tally: Any) -> None:
    code, out, err = run_cli(argv)
    lines = err.strip().splitlines()
    assert "Traceback" not in err, (argv, err)
    if code == 0:
        assert all(line.startswith(WARNING_LINE) for line in lines), (argv, err)
        assert "NaN" not in out and "Infinity" not in out, (argv, out[:400])
        tally[f"{argv[0]}: exit 0"] += 1
    else:
        errors = [line for line in lines if not line.startswith(WARNING_LINE)]
        assert code == 2 and len(errors) == 1 and errors[0].startswith("waitbench: "), (argv, code, err)
        tally[f"{argv[0]}: one line, exit 2"] += 1


def test_hostile_results_files_are_read_or_refused_in_one_line(good: dict[str, Any], tmp_path: Path,
                                                                no_gpu: None) -> None:
    tally = TALLY["readers: results files"]
    path, other = tmp_path / "hostile.jsonl", good["dir"] / "run.jsonl"

    @fuzz_settings(examples=150)
    @given(hostile_files(good["results"]), st.sampled_from(["load", "report", "compare", "compare-b"]))
    def one(lines: list[bytes], reader: str) -> None:
        path.write_bytes(b"".join(lines))
        if reader == "load":
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    recs = results.load_records(path)
                except ResultsError as exc:
                    assert str(exc).startswith(f"{path}: "), exc  # noqa: PT017 - how it ended is what is fuzzed
                    tally["load: ResultsError naming the file"] += 1
                else:
                    assert recs and all(_all_finite(r) for r in recs)
                    tally["load: records"] += 1
            assert all(issubclass(w.category, OUR_WARNINGS) and str(w.message).startswith(str(path))
                       for w in caught), [str(w.message) for w in caught]
            return
        argv = {"report": ["report", str(path), "--format", "json"], "compare": ["compare", str(path), str(other)],
                "compare-b": ["compare", str(other), str(path), "--json"]}[reader]
        _check_cli(argv, tally)

    one()


def test_hostile_recordings_replay_or_are_refused_in_one_line(good: dict[str, Any], tmp_path: Path,
                                                              no_gpu: None) -> None:
    tally = TALLY["readers: recordings"]
    path = tmp_path / "hostile-recording.jsonl"

    @fuzz_settings(examples=60)
    @given(hostile_files(good["recording"]), st.booleans())
    def one(lines: list[bytes], through_cli: bool) -> None:
        path.write_bytes(b"".join(lines))
        if through_cli:
            _check_cli(["diagnose", "--replay", str(path), "--json"], tally)
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MalformedLinesWarning)
            try:
                windows = recording.read_windows(path)
            except ResultsError as exc:
                assert str(exc).startswith(f"{path}: "), exc  # noqa: PT017 - how it ended is what is fuzzed
                tally["read_windows: ResultsError naming the file"] += 1
            else:
                assert windows and all(_all_finite(s.to_dict()) and _all_finite(meta) for s, meta in windows)
                tally["read_windows: windows"] += 1

    one()


@pytest.mark.parametrize("how", ["same path", "hard link", "symbolic link", "copy", "folder and file",
                                 "appended to itself"])
def test_the_same_records_given_twice_count_once_with_one_warning(good: dict[str, Any], tmp_path: Path,
                                                                  how: str) -> None:
    path = tmp_path / "a" / "run.jsonl"
    path.parent.mkdir()
    shutil.copy(good["dir"] / "run.jsonl", path)
    twin = tmp_path / "b" / "twin.jsonl"
    twin.parent.mkdir()
    paths: list[Path] = [path, twin]
    if how == "same path":
        paths = [path, path]
    elif how == "hard link":
        os.link(path, twin)
    elif how == "symbolic link":
        twin.symlink_to(path)
    elif how == "copy":
        shutil.copy(path, twin)
    elif how == "folder and file":
        paths = [path.parent, path]
    else:
        paths = [path]
        path.write_bytes(path.read_bytes() * 2)
    n = len(good["results"])
    with pytest.warns(DuplicateRecordsWarning) as caught:
        assert len(results.load_records(paths)) == n
    assert len(caught) == 1
    code, out, err = run_cli(["report", *map(str, paths), "--format", "json"])
    assert code == 0 and len(err.strip().splitlines()) == 1 and err.startswith(WARNING_LINE), err
    once = run_cli(["report", str(good["dir"] / "run.jsonl"), "--format", "json"])
    assert out == once[1]  # the tables of the records read once

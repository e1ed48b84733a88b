# SPDX-License-Identifier: Apache-2.0
"""A full disk, for real: writers fail once, cleanly, and keep what they wrote (CPU; SYNTHETIC records).

Two real limits, each in a child process so nothing else is touched: a small tmpfs mounted in a
mount namespace of the child's own (``unshare``; skipped where namespaces are not allowed), and
RLIMIT_FSIZE (a file may not grow past the limit: write() fails with EFBIG), which needs no privilege.
The child writes records until the write fails, then reads the file back and says what it found.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = r"""
import json, os, resource, signal, sys, warnings
from pathlib import Path
from waitbench import results

mode, path, limit, fill = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if fill:  # the disk is full before the first record
    with open(path.parent.parent / "filler", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"x" * 4096)
        except OSError:
            pass
if mode == "fsize":
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit, write() fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
written, errors = 0, []
try:
    with results.ResultsWriter(path) as w:
        for i in range(10_000):
            w.write(results.new_record(record_kind="waiter", run_id=f"run-{i}", strategy="spin", status="ok",
                                       extra={"pad": "p" * 1500}))
            written += 1
except OSError as exc:
    errors.append({"type": type(exc).__name__, "message": str(exc), "filename": exc.filename,
                   "chained": exc.__cause__ is not None
                              or (exc.__context__ is not None and not exc.__suppress_context__)})
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        loaded = len(results.load_records(path))
    except Exception as exc:
        loaded = f"{type(exc).__name__}: {exc}"
print(json.dumps({"written": written, "errors": errors, "exists": path.exists(), "parent": path.parent.exists(),
                  "loaded": loaded, "warnings": [str(w.message) for w in caught]}))
"""


def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /tmp"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


def _child(cmd: list[str]) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def _on_tmpfs(tmp_path: Path, fill: bool) -> dict:
    if not _unshare_works():
        pytest.skip("no mount namespace here (unshare -rm with a tmpfs is not allowed)")
    disk = tmp_path / "disk"
    disk.mkdir()
    script = (f'mount -t tmpfs -o size=96k tmpfs "{disk}" && exec "{sys.executable}" -c "$0" tmpfs '
              f'"{disk}/new/r.jsonl" 0 {int(fill)}')
    return _child(["unshare", "-rm", "sh", "-c", script, CHILD])


def _with_fsize(tmp_path: Path, limit: int) -> dict:
    return _child([sys.executable, "-c", CHILD, "fsize", str(tmp_path / "new" / "r.jsonl"), str(limit), "0"])


def _one_clean_error(out: dict) -> None:
    (err,) = out["errors"]
    assert err["type"] == "OSError" and not err["chained"], err  # close() raised nothing on top of it
    assert err["filename"].endswith("r.jsonl") and "cannot write the results file" in err["message"], err
    assert "the lines written before are kept" in err["message"]


@pytest.mark.parametrize("limit", ["tmpfs", 40_000])
def test_a_full_disk_is_one_clean_error_and_every_record_written_before_reads_back(tmp_path: Path,
                                                                                     limit: object) -> None:
    out = _on_tmpfs(tmp_path, fill=False) if limit == "tmpfs" else _with_fsize(tmp_path, int(limit))  # type: ignore[arg-type]
    _one_clean_error(out)
    assert out["written"] >= 3, out
    assert out["loaded"] == out["written"] and out["warnings"] == [], out  # no torn line was left


@pytest.mark.parametrize("limit", ["tmpfs", 100])
def test_a_first_record_that_cannot_be_written_leaves_no_file_or_folder(tmp_path: Path, limit: object) -> None:
    out = _on_tmpfs(tmp_path, fill=True) if limit == "tmpfs" else _with_fsize(tmp_path, int(limit))  # type: ignore[arg-type]
    _one_clean_error(out)
    assert out["written"] == 0 and not out["exists"] and not out["parent"], out
    assert out["loaded"].startswith("ResultsError") and "no such file" in out["loaded"], out

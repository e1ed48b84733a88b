# SPDX-License-Identifier: Apache-2.0
"""Ctrl-C at any moment of ``waitbench report``: one line and exit 130 (or done, exit 0), never a traceback.

Real processes and real SIGINTs, sent at moments from the entry's first call to past the end of the
command: while its modules load, while it reads the file, while it prints. What runs before
waitbench/__main__.py sets its handler is the interpreter's own start (``site``, the environment's
``.pth`` files, pip's wrapper), the package's ``__init__`` (the version and a table of lazy names)
and that module's own ``import signal``; a SIGINT there gets Python's own traceback, which no
package can prevent, so the test from process start accepts a traceback through those and nothing
else (no frame of ``main()`` or of any other waitbench module).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import waitbench
from helpers import synthetic_records as syn
from waitbench.results import ResultsWriter

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(waitbench.__file__).resolve().parent
# Moments after the entry module is imported, as its main() is called (ms): dense while modules load, then
# to past the end of the command.
AFTER_READY_MS = (0, 1, 2, 4, 7, 10, 15, 20, 30, 45, 60, 80, 110, 150, 200, 300, 450, 700, 1000)
AFTER_START_MS = (0, 10, 20, 35, 50, 75, 100, 200, 500, 1000)  # after the process starts (the real entry points)
ALLOWED = {("__init__.py", "<module>"), ("__main__.py", "<module>")}  # waitbench frames before its handler is set


@pytest.fixture(scope="module")
def results_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("interrupt") / "run.jsonl"
    with ResultsWriter(path) as w:
        for rec in syn.synthetic_run(repetitions=2) + syn.synthetic_sweep():
            w.write(rec)
    return path


def interrupted(args: list[str], delay_s: float, *, ready: bool) -> tuple[int, str]:
    """Run ``args``, SIGINT it ``delay_s`` after it starts (``ready``: after it says the interpreter is up)."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
                            env={**os.environ, "COLUMNS": "120"})
    try:
        if ready:
            assert proc.stderr is not None and proc.stderr.readline() == b"ready\n"
        time.sleep(delay_s)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    return proc.returncode, err.decode("utf-8", "replace")


def through_waitbench(err: str) -> list[str]:
    """The frames of a traceback in waitbench's code, but for those that run before its handler is set."""
    frames = [(Path(f).resolve(), fn) for f, fn in re.findall(r'File "([^"<]+)", line \d+, in (\S+)', err)]
    return [f"{f}:{fn}" for f, fn in frames
            if f.is_relative_to(PACKAGE) and not (f.parent == PACKAGE and (f.name, fn) in ALLOWED)]


def test_ctrl_c_from_the_entry_on_is_one_line_and_exit_130(results_file: Path) -> None:
    child = (f"import sys\nsys.argv = ['waitbench', 'report', {str(results_file)!r}]\n"
             "from waitbench.__main__ import main\n"  # what pip's wrapper script runs
             "sys.stderr.write('ready\\n'); sys.stderr.flush()\nsys.exit(main())\n")
    ends = set()
    for ms in AFTER_READY_MS:
        code, err = interrupted([sys.executable, "-c", child], ms / 1000, ready=True)
        assert "Traceback" not in err, (ms, err[-3000:])
        lines = err.strip().splitlines()
        if code == 0:
            ends.add("finished")
            continue
        if code == -signal.SIGINT:  # the interpreter's last moments, its handlers reset: a shell shows 130 too
            assert err == "", (ms, err)
            ends.add("killed by SIGINT")
            continue
        assert code == 130, (ms, code, err[-3000:])
        assert len(lines) == 1 and lines[0].startswith("waitbench: interrupted"), (ms, err)
        ends.add(lines[0])
    assert "waitbench: interrupted" in ends  # the moments above reach the loading phase, not only the end


@pytest.mark.parametrize("entry", ["python -m waitbench", "console script"])
def test_ctrl_c_from_process_start_gets_no_traceback_from_waitbench_code(results_file: Path, entry: str) -> None:
    if entry == "python -m waitbench":
        args = [sys.executable, "-m", "waitbench"]
    else:
        script = Path(sys.executable).with_name("waitbench")
        if not script.exists():
            pytest.skip(f"no console script next to {sys.executable} (not installed with pip)")
        args = [str(script)]
    for ms in AFTER_START_MS:
        code, err = interrupted([*args, "report", str(results_file)], ms / 1000, ready=False)
        if "Traceback" in err:  # only what runs before the handler may have one (see the module docstring)
            assert through_waitbench(err) == [], (ms, err)
            continue
        assert code in (0, 130, -signal.SIGINT), (ms, code, err[-3000:])  # -SIGINT: before Python's handler
        if code == 130:
            assert err.strip().splitlines()[-1].startswith("waitbench: interrupted"), (ms, err)

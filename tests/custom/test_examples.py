# SPDX-License-Identifier: Apache-2.0
"""The worked examples in benchmarks/examples: they register without importing cupy or numba (CPU),
and the runner measures them into valid records marked as research strategies (GPU).
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from waitbench import results

EXAMPLES = Path(__file__).resolve().parents[2] / "benchmarks" / "examples"
st = importlib.import_module("waitbench.strategies")


@pytest.fixture
def examples() -> Iterator[Any]:
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield importlib.import_module("run_examples")
    finally:
        sys.path.remove(str(EXAMPLES))


def test_registering_the_examples_imports_neither_cupy_nor_numba() -> None:
    code = (f"import sys; sys.path.insert(0, {str(EXAMPLES)!r})\n"
            "import backoff_numba, warp_pollers_cupy\n"
            "backoff_numba.register(); warp_pollers_cupy.register(); backoff_numba.register()\n"
            "import waitbench\n"
            "names = [s.name for s in waitbench.strategies()]\n"
            "assert names[-2:] == ['numba-exp-backoff', 'cupy-warp-pollers'], names\n"
            "assert not {'cupy', 'numba'} & set(sys.modules), sorted(m for m in sys.modules if 'cu' in m)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_example_options_are_validated(examples: Any) -> None:
    sys.modules["backoff_numba"].register()
    sys.modules["warp_pollers_cupy"].register()
    with pytest.raises(ValueError, match="cap_ns=50 is invalid: expected >= first_ns=100"):
        st.resolve("numba-exp-backoff", cap_ns=50)
    with pytest.raises(ValueError, match="threads=100 is invalid"):
        st.resolve("cupy-warp-pollers", threads=100)
    spec, opts = st.resolve("cupy-warp-pollers", threads=256)
    assert spec.launch.resolve(opts)["pollers"] == 8
    assert {name for name, _ in examples.CASES} >= {"spin", "spin-backoff", "stream-wait-value",
                                                    "numba-exp-backoff", "cupy-warp-pollers"}


@pytest.mark.gpu
# half-second windows keep this test short; the runner's rule then warns that they are shorter than 5
# utilization periods, which is what this test chose, not what it checks
@pytest.mark.filterwarnings("ignore:window of .* shorter than 5 update periods")
def test_the_runner_measures_the_examples_into_marked_records(examples: Any, tmp_path: Path) -> None:
    pytest.importorskip("cupy")
    sys.modules["backoff_numba"].numpy_compat_for_numba_cuda()  # the device's NumPy 2.5 lacks np.row_stack
    pytest.importorskip("numba.cuda")
    from waitbench.runner import Session, Settings
    from waitbench.throughput import PairPolicy

    sys.modules["backoff_numba"].register()
    sys.modules["warp_pollers_cupy"].register()
    tiny = Settings(window_s=0.5, wake_trials=100,
                    pairs=PairPolicy(min_pairs=2, min_s=0.05, max_s=0.5, spread_target_pct=50.0, run_s=0.01))
    out = tmp_path / "examples.jsonl"
    with results.ResultsWriter(out) as writer, Session(0, ("fma",), tiny, writer) as s:
        for name in ("numba-exp-backoff", "cupy-warp-pollers"):
            s.measure(name)
    recs = results.load_records(out)
    assert [(r["strategy"], r["record_kind"]) for r in recs] == [
        ("numba-exp-backoff", "waiter"), ("numba-exp-backoff", "workload"),
        ("cupy-warp-pollers", "waiter"), ("cupy-warp-pollers", "workload")]
    for r in recs:
        assert r["status"] == "ok", r["status_detail"]
        assert r["strategy_source"] == "registered" and r["host_wait_in_python"] is False
        assert r["waiter_blocks"] == 1 and r["waiter_regs_per_thread"] > 0 and len(r["waiter_sm_ids"]) == 1
    waiter = recs[0]
    assert waiter["wake_trials"] == 100 and waiter["wake_rtt_p50_us"] > 0
    assert recs[1]["tput_ratio"] is not None
    assert recs[3]["waiter_pollers"] == 4  # 128 threads: one poller per warp

# SPDX-License-Identifier: Apache-2.0
"""Argument checks (waitbench.checks) and their use across the API: NaN and infinities are refused
everywhere, every count has an upper bound, empty paths are errors, and every argument is checked
before a GPU is looked for, so these run (and must pass) on a machine without one.
"""

from __future__ import annotations

import importlib
import math
import re

import pytest

import waitbench
from waitbench import checks
from waitbench.custom import register_strategy
from waitbench.errors import NoGpuError
from waitbench.report.compare import compare

st = importlib.import_module("waitbench.strategies")  # the module (waitbench.strategies is the function)
NON_FINITE = [math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("value", NON_FINITE)
def test_non_finite_numbers_are_refused_even_without_bounds(value: float) -> None:
    with pytest.raises(ValueError, match=r"x=(nan|inf|-inf) is invalid: expected a finite number"):
        checks.number("x", value)
    with pytest.raises(ValueError, match="is invalid"):
        checks.number("x", value, 0, 10)


@pytest.mark.parametrize("value, integer, ok", [
    (3, False, 3), (2.5, False, 2.5), (4.0, True, 4), (True, False, None), ("3", False, None), (None, False, None),
    (2.5, True, None), (11, False, None), (-1, False, None), (10**30, True, None),
])
def test_number_kinds_and_bounds(value, integer, ok) -> None:
    if ok is None:
        with pytest.raises(ValueError, match=r"x=.* is invalid: expected (an int|a finite number) in \[0, 10\]"):
            checks.number("x", value, 0, 10, integer=integer)
    else:
        assert checks.number("x", value, 0, 10, integer=integer) == ok


@pytest.mark.parametrize("value", ["", "a\0b", 5, None, b"x", "x" * 5000, "d/" + "y" * 300])
def test_bad_paths_name_the_argument(value) -> None:
    with pytest.raises(ValueError, match=r"^out=.* is invalid: expected a "):
        checks.path("out", value)


@pytest.mark.parametrize("kwargs, needle", [
    ({"timeout_s": math.nan}, "timeout_s=nan is invalid: expected float in [0.001, 3600.0]"),
    ({"timeout_s": math.inf}, "timeout_s=inf is invalid"),
    ({"timeout_s": "nan"}, "timeout_s=nan is invalid"),
    ({"blocks": math.nan}, "blocks=nan is invalid"),
    ({"blocks": "１６"}, "blocks='１６' is invalid"),  # fullwidth digits are not a number here
    ({"blocks": 1e20}, "blocks=100000000000000000000 is invalid"),
])
def test_strategy_options_refuse_non_finite_and_non_ascii_numbers(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        st.resolve("spin", **kwargs)


def test_option_strings_from_the_command_line_are_converted() -> None:
    _, opts = st.resolve("spin", blocks="16", timeout_s="2.5")
    assert opts["blocks"] == 16 and opts["timeout_s"] == 2.5


@pytest.mark.parametrize("call, needle", [
    (lambda: waitbench.Waiter("spin", timeout_s=math.nan), "timeout_s=nan is invalid"),
    (lambda: waitbench.Waiter("spin", gpu=-1), "gpu=-1 is invalid"),
    (lambda: waitbench.Waiter("spin", gpu="0"), "gpu='0' is invalid"),
    (lambda: waitbench.Waiter(["spin"]), "strategy=['spin'] is invalid"),
    (lambda: waitbench.wake_latency("nope"), "strategy='nope' is invalid"),
    (lambda: waitbench.wake_latency("spin", gap_us="x"), "gap_us='x' is invalid"),
    (lambda: waitbench.wake_latency("spin", gap_us=math.nan), "gap_us=nan is invalid"),
    (lambda: waitbench.wake_latency("spin", trials=10**12), "trials=1000000000000 is invalid: expected an int in"),
    (lambda: waitbench.wake_latency("spin", trials=0), "trials=0 is invalid"),
    (lambda: waitbench.wake_latency("spin", progress=5), "progress=5 is invalid"),
    (lambda: waitbench.measure("spin", workloads=["nope"]), "workloads='nope' is invalid"),
    (lambda: waitbench.measure("spin", workloads="fma"), "workloads='fma' is invalid"),
    (lambda: waitbench.measure("spin", workloads=[]), "workloads=[] is invalid"),
    (lambda: waitbench.measure("spin", seconds="1"), "seconds='1' is invalid"),
    (lambda: waitbench.measure("spin", seconds=math.inf), "seconds=inf is invalid"),
    (lambda: waitbench.measure("spin", repetitions=10**9), "repetitions=1000000000 is invalid"),
    (lambda: waitbench.measure("spin", out=""), "out='' is invalid"),
    (lambda: waitbench.measure("nope"), "strategy='nope' is invalid"),
    (lambda: compare([], [], threshold_pct=math.nan), "threshold=nan is invalid"),
    (lambda: compare([], [], threshold_pct=1e9), "threshold=1000000000.0 is invalid"),
    (lambda: register_strategy("x", host_wait=lambda ctx: "released", doc=5), "doc=5 is invalid"),
    (lambda: register_strategy("x", host_wait=lambda ctx: "released", check=5), "check=5 is invalid"),
    (lambda: register_strategy("x", host_wait=lambda ctx: "released", options=5), "options=5 is invalid"),
    (lambda: register_strategy("x", host_wait=lambda ctx: "released", replace=1), "replace=1 is invalid"),
    (lambda: register_strategy("x", doc=5), "doc=5 is invalid"),  # the decorator form checks at once too
    (lambda: register_strategy("x", host_wait=lambda ctx: "released",
                               options=(st.Option("n", float, 1.0, "", min=math.nan),)), "min=nan is invalid"),
    (lambda: waitbench.load(""), "paths='' is invalid"),
    (lambda: waitbench.load_records([""]), "paths='' is invalid"),
])
def test_bad_api_arguments_are_value_errors_before_any_gpu(call, needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        call()
    assert "x" not in {s.name for s in waitbench.strategies()}


def test_valid_arguments_reach_the_gpu_check(monkeypatch, tmp_path) -> None:
    """Where the checks pass, the next thing is the GPU; measure(out=...) has created nothing yet."""
    import waitbench._native as native_mod

    def no_gpu():
        raise NoGpuError("GPU withheld by this test")

    monkeypatch.setattr(native_mod, "native", no_gpu)
    out = tmp_path / "new" / "r.jsonl"
    with pytest.raises(NoGpuError):
        waitbench.measure("spin", workloads=["fma"], out=out, seconds=1)
    assert not out.parent.exists()
    with pytest.raises(NoGpuError):
        waitbench.wake_latency("host-block", trials=10, gap_us=1.5)
    with pytest.raises(NoGpuError):
        waitbench.Waiter("nccl-shaped", preset="tiny", timeout_s=1)

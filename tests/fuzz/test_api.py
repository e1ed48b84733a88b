# SPDX-License-Identifier: Apache-2.0
"""Fuzz the public API's options: every strategy option, Waiter, wake_latency, measure, compare,
load and register_strategy with values of every type and edge (NaN, infinities, huge ints, bools,
strings, fullwidth digits, lists, None). Every call must succeed or raise ValueError naming the
argument, its value and the valid range; with the GPU withheld a call whose arguments are all valid
raises NoGpuError (the API's "exit 1"), and load() of a file that holds no results raises
ResultsError naming the file. Nothing else, and no registration may be left behind by a failure.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import waitbench
from waitbench.custom import unregister_strategy
from waitbench.errors import NoGpuError, ResultsError
from waitbench.report.compare import compare

from .conftest import TALLY, fuzz_settings

strategies_mod = importlib.import_module("waitbench.strategies")
NAMES = [s.name for s in waitbench.strategies() if s.source == "builtin"]  # not what other tests registered


class Opaque:
    """A value of no type waitbench knows (its repr is fixed, so derandomized runs draw the same inputs)."""

    def __repr__(self) -> str:
        return "<opaque>"


INVALID = re.compile(r"^(?P<arg>[^=\s][^=]*)=(?P<value>.+) is invalid: expected (?P<valid>.+)$", re.S)

VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from([0, 1, -1, 32, 33, 64, 1024, 65535, 10**9]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e-9]),
    st.booleans(), st.none(), st.sampled_from(["16", "nan", "inf", "１６", "", "host", "device", "x", " 1", "1e3"]),
    st.text(max_size=6), st.lists(st.integers(0, 3), max_size=2), st.just(Opaque()),
)


@st.composite
def options(draw: Any, strategy: str) -> dict[str, Any]:
    try:
        names = [o.name for o in strategies_mod.get(strategy).options]
    except ValueError:
        names = []
    keys = draw(st.lists(st.sampled_from([*names, "bogus", "Blocks"]) if names else st.just("bogus"), max_size=4,
                         unique=True))
    out = {}
    for k in keys:
        opt = next((o for o in strategies_mod.get(strategy).options if o.name == k), None) if k in names else None
        valid = st.sampled_from(opt.choices) if opt is not None and opt.choices else st.just(opt.default if opt else 1)
        out[k] = draw(st.one_of(valid, VALUES))
    return out


def _strategy_name() -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(NAMES), st.sampled_from(["nope", "", "SPIN", None, 5]))


@st.composite
def calls(draw: Any, paths: list[str]) -> tuple[str, Callable[[], Any], set[str]]:
    """(what, the call, the argument names a ValueError may name)."""
    kind = draw(st.sampled_from(["resolve", "Waiter", "wake_latency", "measure", "compare", "load", "register"]))
    name = draw(_strategy_name())
    opts = draw(options(name)) if isinstance(name, str) and name in NAMES else draw(options("spin"))
    named = {"strategy", "option", *opts}
    if kind == "resolve":
        return kind, lambda: strategies_mod.resolve(name, **opts), named | {"pollers", "backoff_cap_ns"}
    if kind == "Waiter":
        gpu = draw(st.one_of(st.just(0), VALUES))
        return kind, lambda: waitbench.Waiter(name, gpu=gpu, **opts), named | {"gpu", "pollers", "backoff_cap_ns"}
    if kind == "wake_latency":
        kw = {k: draw(st.one_of(st.just(v), VALUES)) for k, v in (("trials", 100), ("warmup", 10), ("gap_us", 20.0),
                                                                   ("gpu", 0)) if draw(st.booleans())}
        return kind, lambda: waitbench.wake_latency(name, **kw, **opts), named | set(kw) | {"pollers", "backoff_cap_ns"}
    if kind == "measure":
        kw = {k: draw(st.one_of(st.just(v), VALUES)) for k, v in (("seconds", 1.0), ("repetitions", 1), ("gpu", 0))
              if draw(st.booleans())}
        kw["workloads"] = draw(st.one_of(st.just(["fma"]), st.just(["nope"]), st.just("fma"), st.just([]), VALUES))
        if draw(st.booleans()):
            kw["out"] = draw(st.sampled_from(paths))
        return kind, lambda: waitbench.measure(name, **kw, **opts), named | set(kw) | {"pollers", "backoff_cap_ns"}
    if kind == "compare":
        threshold = draw(VALUES)
        return kind, lambda: compare([], [], threshold_pct=threshold), {"threshold"}
    if kind == "load":
        arg = draw(st.one_of(st.sampled_from(paths), st.lists(st.sampled_from(paths), max_size=2), VALUES))
        return kind, lambda: waitbench.load_records(arg), {"paths", "path"}
    kw = {k: draw(st.one_of(st.just(v), VALUES)) for k, v in (("doc", "a test strategy"), ("check", None),
                                                               ("replace", False)) if draw(st.booleans())}
    opt_values = draw(st.one_of(st.just(()), VALUES, st.just((strategies_mod.Option(
        "n", draw(st.sampled_from([int, float, str])), draw(VALUES), "doc", min=draw(st.one_of(st.none(), VALUES)),
        max=draw(st.one_of(st.none(), VALUES)), choices=draw(st.one_of(st.none(), st.just(("a", "b")))),),))))
    reg_name = draw(st.sampled_from(["fuzz-strategy", "spin", "bad name", ""]))
    return kind, lambda: waitbench.register_strategy(reg_name, host_wait=lambda ctx, **o: "released",
                                                     options=opt_values, **kw), \
        {"name", "doc", "check", "replace", "options", "n"}


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    d = tmp_path_factory.mktemp("fuzz-api")
    (d / "notes.txt").write_text("not results\n")
    (d / "binary.jsonl").write_bytes(bytes(range(256)))
    ref = Path(waitbench.__file__).parent / "report" / "reference" / "run.jsonl"
    return [str(d / "notes.txt"), str(d / "binary.jsonl"), str(d), str(d / "new" / "r.jsonl"), "", "\0",
            str(ref) if ref.exists() else str(d / "missing.jsonl"), "/proc/self/mem"]


def _check_value_error(exc: ValueError, named: set[str]) -> None:
    m = INVALID.match(str(exc))
    assert m, f"not the invalid() shape: {exc}"
    arg = m["arg"]  # e.g. 'blocks', 'gpu', or 'x: option n min' for an option of a registration
    assert any(re.search(rf"(^|[\s:]){re.escape(n)}($|[\s:])", arg) for n in named), \
        f"names {arg!r}, which the call did not get: {exc}"


# The fuzz names one path twice at times: that it is read once, with this warning, is tests/test_results.py's.
@pytest.mark.filterwarnings("ignore::waitbench.errors.DuplicateRecordsWarning")
def test_every_api_call_succeeds_or_names_the_bad_argument(paths: list[str], no_gpu: None) -> None:
    tally = TALLY["API (waitbench....)"]

    @fuzz_settings(examples=4000)
    @given(calls(paths))
    def one(call: tuple[str, Callable[[], Any], set[str]]) -> None:
        kind, fn, named = call
        try:
            fn()
            tally["success"] += 1
        except ValueError as exc:
            tally["ValueError naming the argument"] += 1
            _check_value_error(exc, named)
        except NoGpuError:
            tally["NoGpuError (valid arguments, no GPU)"] += 1
        except ResultsError as exc:  # the fuzz sorts how each call ended: there is no one outcome to expect
            assert kind == "load", exc  # noqa: PT017
            tally["ResultsError naming the file (load)"] += 1
            assert ": " in str(exc), exc  # noqa: PT017 - "<file>: what is wrong with it"
        finally:
            if "fuzz-strategy" in {s.name for s in waitbench.strategies()}:
                unregister_strategy("fuzz-strategy")
        assert not Path(paths[3]).parent.exists()  # measure(out=...) created nothing before failing

    one()

# SPDX-License-Identifier: Apache-2.0
"""The strategy table: names, options, presets and validation messages (CPU)."""

from __future__ import annotations

import importlib
import re

import pytest

import waitbench
from waitbench._native import native

st = importlib.import_module("waitbench.strategies")  # the module (waitbench.strategies is the function)

SINGLE_GPU = ["spin", "spin-backoff", "nccl-shaped", "stream-wait-value", "host-spin", "host-yield", "host-block",
              "event-blocking-sync"]


def test_every_single_gpu_strategy_of_the_design_is_listed_in_order() -> None:
    assert [s.name for s in waitbench.strategies()] == SINGLE_GPU


def test_mechanisms_match_where_each_strategy_waits() -> None:
    mech = {s.name: s.mechanism for s in st.strategies()}
    assert {k for k, v in mech.items() if v == "device"} == {"spin", "spin-backoff", "nccl-shaped"}
    assert mech["stream-wait-value"] == "front-end"
    assert {k for k, v in mech.items() if v == "host"} == {"host-spin", "host-yield", "host-block",
                                                            "event-blocking-sync"}


def test_resolve_fills_defaults_and_converts_types() -> None:
    spec, opts = st.resolve("spin", blocks="4", timeout_s=2)
    assert opts["blocks"] == 4 and opts["threads"] == 32 and opts["flag"] == "host"
    assert isinstance(opts["timeout_s"], float) and opts["timeout_s"] == 2.0
    assert spec.native == "device-spin"


@pytest.mark.parametrize("name,kwargs,needle", [
    ("spin", {"threads": 48}, "threads=48 is invalid: expected int in [32, 1024], a multiple of 32"),
    ("spin", {"threads": 2048}, "threads=2048 is invalid"),
    ("spin", {"blocks": 0}, "blocks=0 is invalid: expected int in [1, 65535]"),
    ("spin", {"registers": 40}, "registers=40 is invalid: expected one of 32, 64, 96, 128"),
    ("spin", {"flag": "gpu"}, "flag='gpu' is invalid: expected one of 'host', 'device'"),
    ("spin", {"pollers": 64, "threads": 32}, "pollers=64 is invalid: expected at most threads=32"),
    ("spin", {"bogus": 1}, "option='bogus' is invalid: expected an option of spin"),
    ("spin-backoff", {"backoff_ns": 5000, "backoff_cap_ns": 100}, "backoff_cap_ns=100 is invalid"),
    ("nccl-shaped", {"preset": "ring-99ch"}, "preset='ring-99ch' is invalid: expected one of 'simple-2ch'"),
    ("host-spin", {"spin_us": -2}, "spin_us=-2 is invalid: expected int in [-1, 10000000]"),
    ("event-blocking-sync", {"sync": "yield"}, "sync='yield' is invalid"),
    ("stream-wait-value", {"timeout_s": 0}, "timeout_s=0.0 is invalid: expected float in [0.001, 3600.0]"),
    ("nope", {}, "strategy='nope' is invalid: expected one of spin, spin-backoff"),
])
def test_bad_options_raise_valueerror_naming_argument_value_and_range(name: str, kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        st.resolve(name, **kwargs)


def test_bool_is_not_accepted_as_int() -> None:
    with pytest.raises(ValueError, match="blocks=True is invalid"):
        st.resolve("spin", blocks=True)


def test_nccl_presets_carry_ncclish_shapes() -> None:
    presets = st.get("nccl-shaped").presets
    assert presets["simple-16ch"]["blocks"] == 16 and presets["simple-16ch"]["threads"] == 544
    assert presets["simple-16ch"]["pollers"] == 1  # Simple: one polling thread per peer
    assert presets["ll-16ch"]["pollers"] == presets["ll-16ch"]["threads"] == 512  # LL: every thread polls
    assert presets["ll128-16ch"]["threads"] == 640
    assert all(p["registers"] == 96 for p in presets.values())  # NCCL: -maxrregcount=96
    assert set(presets) == set(st.get("nccl-shaped").preset_docs)


@pytest.mark.cuda_build
def test_native_config_merges_preset_fixed_and_options() -> None:
    c = native()
    spec, opts = st.resolve("nccl-shaped", preset="simple-2ch", flag="device")
    assert "preset" not in spec.native_settings(opts)
    cfg = st.native_config(spec, opts, gpu=1)
    assert isinstance(cfg, c.WaiterConfig) and cfg.device == 1
    assert cfg.kind == c.WaiterKind.DEVICE_SPIN and cfg.blocks == 2 and cfg.threads == 544 and cfg.registers == 96
    assert cfg.flag == c.FlagLocation.DEVICE and cfg.flag_lines == c.FlagLines.PER_POLLER
    assert cfg.backoff == c.Backoff.NONE and cfg.poll == c.PollLoad.VOLATILE and cfg.timeout_s == 10.0


@pytest.mark.cuda_build
def test_every_choice_of_every_strategy_names_a_member_of_the_native_enum() -> None:
    """The core no longer re-checks the table's choices: each must reach it as the member it names."""
    def member(value: str) -> str:
        return value.upper().replace("-", "_")

    for spec in st.strategies():
        _, opts = st.resolve(spec.name)
        assert st.native_config(spec, opts).kind.name == member(spec.native), spec.name
        for o in spec.options:
            for choice in o.choices or ():
                _, opts = st.resolve(spec.name, **{o.name: choice})
                cfg = st.native_config(spec, opts)
                if o.type is str and o.name != "preset":
                    assert getattr(cfg, o.name).name == member(choice), (spec.name, o.name)
                elif o.name != "preset":
                    assert getattr(cfg, o.name) == choice, (spec.name, o.name)


@pytest.mark.cuda_build
def test_a_setting_the_native_config_lacks_is_an_error_not_ignored() -> None:
    spec = st.Strategy("x", "host", "host-block", "test", (st.TIMEOUT,), fixed={"bogus": 1})
    with pytest.raises(AttributeError, match="bogus"):
        st.native_config(spec, spec.defaults())
    spec = st.Strategy("x", "host", "host-block", "test", (st.TIMEOUT,), fixed={"sync": "yield"})
    with pytest.raises(KeyError, match="YIELD"):
        st.native_config(spec, spec.defaults())


def test_a_command_line_value_is_parsed_and_checked_by_its_option() -> None:
    spin = st.get("spin")
    assert spin.option("blocks").parse("16") == 16 and spin.option("timeout_s").parse("2") == 2.0
    assert spin.option("poll").parse("acquire") == "acquire"
    flag = st.Option("verbose", bool, False, "a research strategy's bool option")
    assert [flag.parse(t) for t in ("true", "No", " on ", "0")] == [True, False, True, False]
    for option, text, needle in ((spin.option("blocks"), "0", "blocks=0 is invalid"),
                                 (spin.option("poll"), "relaxed", "poll='relaxed' is invalid"),
                                 (flag, "maybe", "verbose='maybe' is invalid: expected a bool")):
        with pytest.raises(ValueError, match=needle):
            option.parse(text)


def test_the_package_attribute_is_the_function_and_the_module_keeps_its_names():
    import waitbench
    from waitbench.strategies import Option, Strategy

    assert callable(waitbench.strategies) and not isinstance(waitbench.strategies, type(st))
    assert all(isinstance(s, Strategy) for s in waitbench.strategies())
    assert Option is st.Option

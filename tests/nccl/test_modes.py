# SPDX-License-Identifier: Apache-2.0
"""The mode table of ``waitbench nccl``: names, validation, parsing and when a mode is skipped (no torch needed)."""

from __future__ import annotations

import pytest

from waitbench.nccl.modes import MODES, Mode, get_mode, mode_names, parse_modes, skip_reason, validate_table

EXPECTED = ["nccl", "nccl+host-barrier", "nccl+dist-barrier", "nccl+blocking-wait", "nccl-zero-cta", "nccl-1ch",
            "cupy-nccl"]


def test_table_names_are_public_api_in_order():
    assert mode_names() == EXPECTED


def test_each_mode_does_what_its_name_says():
    assert get_mode("nccl").entry == "plain" and not get_mode("nccl").env
    assert get_mode("nccl+host-barrier").entry == "host-barrier"
    assert get_mode("nccl+dist-barrier").entry == "dist-barrier"
    assert dict(get_mode("nccl+blocking-wait").env) == {"TORCH_NCCL_BLOCKING_WAIT": "1"}
    assert dict(get_mode("nccl-1ch").env) == {"NCCL_MAX_NCHANNELS": "1"}
    assert get_mode("cupy-nccl").client == "cupy"


def test_zero_cta_is_written_as_an_integer():
    # NCCL 2.28 reads NCCL_CTA_POLICY with strtoll: 'ZERO' would silently parse as 0 (DEFAULT).
    zero = get_mode("nccl-zero-cta")
    assert zero.env["NCCL_CTA_POLICY"] == "2"
    assert zero.min_nccl == (2, 28, 0) and zero.process_env


@pytest.mark.parametrize("bad, argument", [
    ([Mode("a", "x"), Mode("a", "y")], "mode.name"),
    ([Mode("a,b", "x")], "mode.name"),
    ([Mode("a", "")], "a.doc"),
    ([Mode("a", "x", entry="sleep")], "a.entry"),
    ([Mode("a", "x", client="mpi")], "a.client"),
    ([Mode("a", "x", env={"X": 1})], "a.env"),  # type: ignore[dict-item]
    ([Mode("a", "x", env={"TORCH_X": "1"}, process_env=True)], "a.process_env"),
])
def test_validate_table_rejects_malformed_modes(bad, argument):
    with pytest.raises(ValueError, match=f"^{argument}="):
        validate_table(bad)


def test_validate_table_accepts_the_real_table():
    validate_table(list(MODES.values()))


def test_parse_modes():
    assert [m.name for m in parse_modes(None)] == EXPECTED
    assert [m.name for m in parse_modes("all")] == EXPECTED
    assert [m.name for m in parse_modes("nccl-1ch, nccl,nccl-1ch")] == ["nccl-1ch", "nccl"]


@pytest.mark.parametrize("text", ["", "nccl,", "bogus", "nccl,bogus"])
def test_parse_modes_rejects_unknown_or_empty(text):
    with pytest.raises(ValueError, match="--modes="):
        parse_modes(text)


def test_get_mode_names_the_valid_ones():
    with pytest.raises(ValueError, match="one of nccl, "):
        get_mode("spin")


def _skip(name, **kw):
    args = {"backend": "nccl", "nccl_version": (2, 28, 9), "cupy_available": True, **kw}
    return skip_reason(get_mode(name), **args)


def test_every_mode_runs_on_a_new_nccl_with_cupy():
    assert all(_skip(name) is None for name in EXPECTED)


def test_zero_cta_needs_nccl_2_28():
    assert "needs NCCL >= 2.28.0" in _skip("nccl-zero-cta", nccl_version=(2, 27, 7))
    assert "2.27.7" in _skip("nccl-zero-cta", nccl_version=(2, 27, 7))
    assert "unknown" in _skip("nccl-zero-cta", nccl_version=None)
    assert _skip("nccl-zero-cta", backend="gloo", nccl_version=None) is None  # the dry run still runs it


def test_cupy_mode_needs_cupy_and_gpus():
    assert "not installed" in _skip("cupy-nccl", cupy_available=False)
    assert "nccl backend" in _skip("cupy-nccl", backend="gloo")


def test_process_scoped_knob_under_torchrun_only_alone():
    reason = _skip("nccl-1ch", shared_process=True, shares_with_nccl_modes=True)
    assert "--modes nccl-1ch" in reason and "NCCL_MAX_NCHANNELS" in reason
    assert _skip("nccl-1ch", shared_process=True, shares_with_nccl_modes=False) is None
    assert _skip("nccl+blocking-wait", shared_process=True, shares_with_nccl_modes=True) is None  # read per group


def test_skip_reason_rejects_unknown_backend():
    with pytest.raises(ValueError, match="backend="):
        _skip("nccl", backend="mpi")

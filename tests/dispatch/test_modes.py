# SPDX-License-Identifier: Apache-2.0
"""The dispatch mode table: every row well formed, names parsed, options checked against their ranges."""

from __future__ import annotations

import dataclasses

import pytest

from waitbench.dispatch.modes import MODES, Mode, Option, parse_modes, resolve_options, validate_table


def test_table_names_what_the_issue_asks_for() -> None:
    want = {"nccl-broadcast", "mp-barrier+nccl", "host-barrier+nccl", "gloo-broadcast", "shm-ring-yield",
            "shm-ring-sleep", "shm-ring-futex", "zmq", "pause-spin", "mwaitx", "umwait", "adaptive-spin", "floor"}
    assert set(MODES) == want
    assert all(m.source and m.doc for m in MODES.values())
    assert {m.name for m in MODES.values() if not m.host_side} == {"nccl-broadcast", "mp-barrier+nccl",
                                                                   "host-barrier+nccl"}


@pytest.mark.parametrize("change", [
    {"name": "floor"},  # a repeated name
    {"transport": "carrier-pigeon"},
    {"transport": "ring", "wait": None},
    {"entry": "mp-barrier"},  # an entry on a non-nccl transport
    {"needs": ("gpu", )},
    {"options": (Option("x", 5, 0, 4, "us", "out of range"),)},
    {"source": ""},
])
def test_validate_table_refuses_a_malformed_row(change: dict) -> None:
    row = dataclasses.replace(Mode("new", "doc", "source", "zmq"), **change)
    with pytest.raises(ValueError, match="mode"):
        validate_table([*MODES.values(), row])


def test_parse_modes() -> None:
    assert [m.name for m in parse_modes("floor, zmq,floor")] == ["floor", "zmq"]
    assert len(parse_modes("all")) == len(MODES)
    with pytest.raises(ValueError, match="modes='bogus' is invalid"):
        parse_modes("floor,bogus")
    with pytest.raises(ValueError, match="modes=' , ' is invalid"):
        parse_modes(" , ")


def test_resolve_options_defaults_and_ranges() -> None:
    assert resolve_options(MODES["adaptive-spin"], {}) == {"spin_us": 50}
    assert resolve_options(MODES["shm-ring-sleep"], {"sleep_us": "250"}) == {"sleep_us": 250}
    with pytest.raises(ValueError, match=r"sleep_us=0 is invalid.*\[1, 1000000\]"):
        resolve_options(MODES["shm-ring-sleep"], {"sleep_us": 0})
    with pytest.raises(ValueError, match="an option of floor"):
        resolve_options(MODES["floor"], {"spin_us": 1})
    with pytest.raises(ValueError, match="spin_us=True is invalid"):
        resolve_options(MODES["adaptive-spin"], {"spin_us": True})

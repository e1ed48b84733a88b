# SPDX-License-Identifier: Apache-2.0
"""One source of truth for the waiter protocol: the offsets and sizes Python gives custom kernels are
those of csrc/protocol.hpp (compiled here with the host C++ compiler) and of the built core (CPU).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from waitbench.custom import protocol

CSRC = Path(__file__).resolve().parents[2] / "csrc"
PROBE = r"""
#include <cstddef>
#include <cstdio>
#include "protocol.hpp"
int main() {
  std::printf("armed %zu\nack %zu\noutcome %zu\nsmid %zu\nstart_gt %zu\nwake_gt %zu\n",
              offsetof(wb::BlockSlot, armed), offsetof(wb::BlockSlot, ack), offsetof(wb::BlockSlot, outcome),
              offsetof(wb::BlockSlot, smid), offsetof(wb::BlockSlot, start_gt), offsetof(wb::BlockSlot, wake_gt));
  std::printf("armed_w %zu\nstart_gt_w %zu\n", sizeof(wb::BlockSlot{}.armed), sizeof(wb::BlockSlot{}.start_gt));
  std::printf("slot %zu\ncontrol %zu\nflag %zu\nabort %zu\n", sizeof(wb::BlockSlot), sizeof(wb::ControlWords),
              offsetof(wb::ControlWords, flag), offsetof(wb::ControlWords, abort));
  std::printf("outcomes %d %d %d %d\n", wb::kPending, wb::kReleased, wb::kExpired, wb::kAborted);
}
"""


def compiled_layout(tmp_path: Path) -> dict[str, str]:
    cxx = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no host C++ compiler to read csrc/protocol.hpp with")
    src, exe = tmp_path / "probe.cpp", tmp_path / "probe"
    src.write_text(PROBE)
    subprocess.run([cxx, "-std=c++17", "-I", str(CSRC), str(src), "-o", str(exe)], check=True, timeout=120)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ", 1) for line in out.strip().splitlines())


def test_slot_and_control_offsets_are_those_of_the_native_header(tmp_path: Path) -> None:
    got = compiled_layout(tmp_path)
    assert {k: int(got[k]) for k in protocol.SLOT_OFFSETS} == protocol.SLOT_OFFSETS
    assert int(got["armed_w"]) == protocol.SLOT_WIDTHS["armed"] == 4
    assert int(got["start_gt_w"]) == protocol.SLOT_WIDTHS["start_gt"] == 8
    assert int(got["slot"]) == protocol.SLOT_BYTES and int(got["control"]) == protocol.CONTROL_BYTES
    assert {"flag": int(got["flag"]), "abort": int(got["abort"])} == protocol.CONTROL_OFFSETS
    assert got["outcomes"].split() == [str(i) for i in range(len(protocol.OUTCOME_NAMES))]


@pytest.mark.cuda_build
def test_sizes_and_outcome_codes_match_the_built_core() -> None:
    from waitbench._native import native

    c = native()
    protocol.check_native(c)  # raises on any disagreement
    assert protocol.outcomes() == {"pending": 0, "released": 1, "expired": 2, "aborted": 3}


def test_a_stale_layout_is_refused() -> None:
    class StaleCore:  # a core built from another protocol.hpp: 128-byte slots
        BLOCK_SLOT_BYTES, CONTROL_WORDS_BYTES = 128, 64
        OUTCOME_PENDING, OUTCOME_RELEASED, OUTCOME_EXPIRED, OUTCOME_ABORTED = 0, 1, 2, 3

    with pytest.raises(RuntimeError, match="out of date with the native core"):
        protocol.check_native(StaleCore())


def test_numba_word_indices_follow_from_the_byte_offsets() -> None:
    assert protocol.SLOT_WORDS32 * 4 == protocol.SLOT_WORDS64 * 8 == protocol.SLOT_BYTES
    for name, idx in (("armed", protocol.ARMED), ("ack", protocol.ACK), ("outcome", protocol.OUTCOME),
                      ("smid", protocol.SMID)):
        assert idx * 4 == protocol.SLOT_OFFSETS[name]
    assert protocol.SLOT_OFFSETS["start_gt"] == protocol.START_GT * 8
    assert protocol.SLOT_OFFSETS["wake_gt"] == protocol.WAKE_GT * 8


def test_the_cuda_prelude_asserts_every_offset_and_compiles_with_the_host_compiler(tmp_path: Path) -> None:
    text = protocol.cuda_prelude()
    asserted = dict(re.findall(r"offsetof\(BlockSlot, (\w+)\) == (\d+)", text))
    assert {k: int(v) for k, v in asserted.items()} == protocol.SLOT_OFFSETS
    assert f"sizeof(BlockSlot) == {protocol.SLOT_BYTES}" in text
    assert "kReleased = 1" in text and "kAborted = 3" in text
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("no nvcc to compile the prelude with (the GPU tests compile it with NVRTC)")
    src = tmp_path / "prelude.cu"
    src.write_text(text + 'extern "C" __global__ void k(wb::BlockSlot* s, const unsigned int* f, unsigned int g) {\n'
                   "  wb::arm_block(s, g);\n  wb::finish_block(s, g, wb::released(f, g) ? wb::kReleased : "
                   "wb::kExpired, wb::globaltimer_ns());\n}\n")
    subprocess.run([nvcc, "-arch=sm_90", "-c", str(src), "-o", str(tmp_path / "prelude.o")], check=True, timeout=300)

# SPDX-License-Identifier: Apache-2.0
"""The command line's one GPU index space: nvidia-smi's (NVML) order, found in CUDA by UUID, never by position.

The NVML side is the FAKE NVML of tests/helpers (three pretend GPUs); the CUDA side is a FAKE device list
whose order is NVML's reversed (as CUDA_DEVICE_ORDER=FASTEST_FIRST can make it) or that hides a GPU (as
CUDA_VISIBLE_DEVICES does). Both only exercise the mapping logic; nothing is measured.
"""

from __future__ import annotations

import pytest

import waitbench._native
from helpers.fake_nvml import FakeNvml
from waitbench.errors import NvmlError, WaitbenchError
from waitbench.telemetry import nvml
from waitbench.telemetry.gpu_names import cuda_index, nvml_spec


class FakeCudaDevices:
    """FAKE CUDA device list (not a GPU): the UUIDs CUDA would report, in CUDA's order."""

    def __init__(self, uuids: list[str]) -> None:
        self.uuids = uuids

    def device_count(self) -> int:
        return len(self.uuids)

    def device_info(self, i: int) -> dict:
        return {"uuid": self.uuids[i]}


class FakeNvmlWithBusIds(FakeNvml):
    """FAKE NVML that also finds its pretend GPUs by PCI bus id (GPU i sits on bus i + 1)."""

    def nvmlDeviceGetHandleByPciBusId(self, bus_id: str) -> str:  # noqa: N802 - pynvml's name
        return f"fake-handle-{int(bus_id.split(':')[1], 16) - 1}"


def uuid_of(nvml_index: int) -> str:
    return f"GPU-00000000-0000-0000-0000-{nvml_index:012d}"  # what FakeNvml names its GPUs


@pytest.fixture
def three_gpus(monkeypatch):
    fake = FakeNvmlWithBusIds(gpus=3)
    monkeypatch.setattr(nvml, "pynvml", lambda: fake)

    def cuda(uuids):
        monkeypatch.setattr(waitbench._native, "native", lambda: FakeCudaDevices(uuids))

    return cuda


@pytest.mark.parametrize("text, spec", [("0", "nvml:0"), (" 12 ", "nvml:12"), (uuid_of(1), uuid_of(1)),
                                        ("0000:3B:00.0", "0000:3B:00.0"), ("3b:00.0", "3b:00.0")])
def test_nvml_spec_takes_what_nvidia_smi_shows(text, spec):
    assert nvml_spec(text, "--gpu") == spec


@pytest.mark.parametrize("text", ["", "-1", "１", "cuda:0", "nvml", "gpu0", "0,1"])
def test_nvml_spec_refuses_anything_else_naming_the_flag(text):
    with pytest.raises(ValueError, match=r"^--gpu=.* is invalid: expected an nvidia-smi index \(NVML order"):
        nvml_spec(text, "--gpu")


def test_an_nvidia_smi_index_is_found_in_cuda_by_uuid_whatever_cudas_order(three_gpus):
    three_gpus([uuid_of(2), uuid_of(1), uuid_of(0)])  # CUDA's order: NVML's reversed
    assert [cuda_index(str(i), "--gpu") for i in range(3)] == [2, 1, 0]
    assert cuda_index(uuid_of(0), "--gpu") == 2
    assert cuda_index("0000:02:00.0", "--gpu") == 1  # FakeNvml's GPU 1 sits on bus 02


def test_an_index_nvml_does_not_have_names_the_range(three_gpus):
    three_gpus([uuid_of(0), uuid_of(1), uuid_of(2)])
    with pytest.raises(ValueError, match=r"--gpu='3' is invalid: expected an nvidia-smi index in \[0, 2\]"):
        cuda_index("3", "--gpu")


def test_a_gpu_cuda_cannot_see_says_so(three_gpus, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,2")
    three_gpus([uuid_of(0), uuid_of(2)])  # GPU 1 hidden from CUDA
    assert cuda_index("2", "--gpu") == 1
    with pytest.raises(ValueError, match=r"--gpu='1' is invalid: .*not visible to CUDA.*CUDA_VISIBLE_DEVICES='0,2'"):
        cuda_index("1", "--gpu")


def test_without_nvml_the_message_says_to_leave_the_flag_out(monkeypatch):
    def missing():
        raise NvmlError("nvmlInit", None, "libnvidia-ml.so.1 not found")

    monkeypatch.setattr(nvml, "pynvml", missing)
    with pytest.raises(WaitbenchError, match=r"needs NVML: .*; leave --gpu out to use the first GPU CUDA sees"):
        cuda_index("0", "--gpu")

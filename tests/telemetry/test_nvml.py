# SPDX-License-Identifier: Apache-2.0
"""NVML session and device specs. The NVML-absent tests run for real where there is no driver (CI)."""

from __future__ import annotations

import pytest

from waitbench.errors import NvmlError
from waitbench.telemetry import nvml

NO_NVML = nvml.unavailable_reason()
needs_no_nvml = pytest.mark.skipif(NO_NVML is None, reason="NVML works here; this tests the machine without it")


@needs_no_nvml
def test_unavailable_reason_is_one_line():
    assert NO_NVML and "\n" not in NO_NVML
    assert "NVML" in NO_NVML


@needs_no_nvml
def test_session_failure_leaves_no_reference():
    with pytest.raises(NvmlError) as info, nvml.session():
        pass  # pragma: no cover - never reached without NVML
    assert info.value.call == "nvmlInit"
    assert "libnvidia-ml" in str(info.value) or "driver" in str(info.value)
    assert nvml.session_refs() == 0


def test_release_without_acquire_is_harmless():
    if nvml.session_refs():
        pytest.skip("an NVML session is open in this process")
    nvml.release()  # must not call nvmlShutdown nor go negative
    assert nvml.session_refs() == 0


def test_optional_turns_failure_into_reason():
    # Without an open session every NVML call fails; optional() must give a reason, not raise.
    if nvml.session_refs():
        pytest.skip("an NVML session is open in this process")
    value, reason = nvml.optional("nvmlDeviceGetCount")
    assert value is None and reason


def test_missing_binding_is_reported_not_raised_as_attribute_error():
    with pytest.raises(NvmlError, match="nvidia-ml-py has no nvmlDoesNotExist"):
        nvml.call("nvmlDoesNotExist")


@pytest.mark.parametrize("spec, kind, value", [
    (0, "cuda", 0), (3, "cuda", 3),
    ("GPU-12345678-abcd-ef01-2345-6789abcdef01", "uuid", "GPU-12345678-abcd-ef01-2345-6789abcdef01"),
    ("00000000:3B:00.0", "pci", "0000:3b:00.0"), ("0000:3b:00.0", "pci", "0000:3b:00.0"),
    ("3b:00.0", "pci", "0000:3b:00.0"),
    ("nvml:2", "nvml", 2),
])
def test_parse_spec(spec, kind, value):
    assert nvml.parse_spec(spec) == (kind, value)


@pytest.mark.parametrize("spec", [-1, True, 1.5, "", "gpu0", "nvml:x", "0000:3b:00", None])
def test_parse_spec_rejects_with_valid_range(spec):
    with pytest.raises(ValueError, match=r"gpu=.* is invalid: expected a CUDA index"):
        nvml.parse_spec(spec)


def test_normalize_bus_id_matches_cuda_and_nvml_forms():
    assert nvml.normalize_bus_id("00000000:0A:00.0") == nvml.normalize_bus_id("0000:0a:00.0") == "0000:0a:00.0"
    with pytest.raises(ValueError, match="pci_bus_id"):
        nvml.normalize_bus_id("not-a-bus")


def test_each_missing_symbol_is_logged_once(caplog: pytest.LogCaptureFixture):
    with caplog.at_level("WARNING", logger="waitbench.telemetry"):
        for _ in range(3):
            with pytest.raises(NvmlError):
                nvml.call("nvmlAlsoDoesNotExist")
    assert [r.getMessage() for r in caplog.records].count(
        "NVML symbol nvmlAlsoDoesNotExist is unavailable: this nvidia-ml-py has no such function; "
        "the metrics it gives will be null") == 1

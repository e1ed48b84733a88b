# SPDX-License-Identifier: Apache-2.0
"""GPM: the metric table and the null-with-reason path (real: without NVML or GPM nothing is read)."""

from __future__ import annotations

import pynvml
import pytest

from waitbench.results import TELEMETRY_FIELDS
from waitbench.telemetry import nvml
from waitbench.telemetry.gpm import GPM_FIELDS, GPM_METRICS, PIPE_FIELDS, GpmReader


def test_every_metric_names_a_real_pynvml_constant_and_a_unit():
    for m in GPM_METRICS:
        assert isinstance(getattr(pynvml, m.nvml_name), int), m.nvml_name
        assert m.field.endswith(("_pct", "_mib_s")), m.field
        assert m.dcgm.startswith("DCGM_FI_PROF_")
    assert set(PIPE_FIELDS) <= set(GPM_FIELDS)
    assert "gpm_sm_util_pct" not in PIPE_FIELDS  # SM activity is never work evidence


def test_gpm_fields_of_the_results_schema_exist_here():
    schema = {f.name for f in TELEMETRY_FIELDS if f.name.startswith("gpm_")}
    assert schema <= set(GPM_FIELDS)


def test_struct_layout_is_what_gpm_py_fills():
    req = pynvml.c_nvmlGpmMetricsGet_t()
    assert {"version", "numMetrics", "sample1", "sample2", "metrics"} <= {f[0] for f in req._fields_}
    assert len(req.metrics) >= len(GPM_METRICS)
    assert {"metricId", "nvmlReturn", "value"} <= {f[0] for f in req.metrics[0]._fields_}


@pytest.mark.skipif(nvml.session_refs() > 0, reason="an NVML session is open in this process")
def test_reader_without_nvml_gives_none_with_reason():
    dev = nvml.Device(handle=None, nvml_index=0, uuid="GPU-none", pci_bus_id="0000:00:00.0", name="no GPU")
    reader = GpmReader(dev)
    assert not reader.available and reader.reason.startswith("GPM needs Hopper or newer")
    assert reader.sample() is None
    values, reasons = reader.metrics(None, None)
    assert set(values) == set(GPM_FIELDS) and all(v is None for v in values.values())
    assert all(reasons[f] == reader.reason for f in GPM_FIELDS)

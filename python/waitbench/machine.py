# SPDX-License-Identifier: Apache-2.0
"""Who, where and with what a record was made: the run-identity fields every record carries.

Built here once for every kind of record: :func:`host_identity` (the process and its host: the CPU
leg of the barrier benchmark, the ranks of ``waitbench nccl``) and :func:`run_identity` (that plus
the GPU, its driver and CUDA: the single-GPU runner, and each nccl rank's GPU).
"""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._native import require_gpu
from ._version import __version__


def git_sha() -> str | None:
    """Commit of the source tree waitbench runs from, when it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _nvml_facts(uuid_str: str) -> dict[str, Any]:
    """Driver version and max SM clock from NVML (None values where NVML is unavailable)."""
    from .errors import NvmlError
    from .telemetry import nvml

    try:
        with nvml.session():
            handle, _ = nvml.optional("nvmlDeviceGetHandleByUUID", uuid_str)
            clock, _ = nvml.optional("nvmlDeviceGetMaxClockInfo", handle, nvml.pynvml().NVML_CLOCK_SM) \
                if handle is not None else (None, None)
            return {"driver_version": nvml.driver_version(),
                    "gpu_sm_clock_max_mhz": None if clock is None else float(clock)}
    except NvmlError:
        return {"driver_version": None, "gpu_sm_clock_max_mhz": None}


def host_identity(run_id: str | None = None) -> dict[str, Any]:
    """The RUN_FIELDS that name the run, the process and its host (a new ``run_id`` unless one is given).

    ``torch_version`` is that of the torch this process imported (None when it imported none).
    """
    torch = sys.modules.get("torch")
    return {
        "run_id": run_id or uuid.uuid4().hex[:12],
        "argv": list(sys.argv),
        "hostname": socket.gethostname(),
        "waitbench_version": __version__,
        "git_sha": git_sha(),
        "python_version": platform.python_version(),
        "torch_version": getattr(torch, "__version__", None),
    }


def run_identity(gpu: int, run_id: str | None = None) -> dict[str, Any]:
    """The RUN_FIELDS of every record of a run on CUDA device ``gpu``: the host's, then the GPU's."""
    native = require_gpu(gpu)
    info = native.device_info(gpu)
    fields: dict[str, Any] = {
        **host_identity(run_id),
        "gpu_index": gpu,
        "gpu_name": info["name"],
        "gpu_uuid": info["uuid"],
        "gpu_pci_bus_id": info["pci_bus_id"],
        "gpu_sm_count": info["sm_count"],
        "gpu_cc": f"{info['cc_major']}.{info['cc_minor']}",
        "cuda_driver_version": info["driver_version"],
        "cuda_runtime_version": info["runtime_version"],
    }
    fields.update(_nvml_facts(info["uuid"]))
    return fields


def now_utc() -> str:
    """The time a record is made: UTC, ISO-8601, whole seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

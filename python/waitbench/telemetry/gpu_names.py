# SPDX-License-Identifier: Apache-2.0
"""The one way the command line names a GPU: as nvidia-smi does (NVML index, UUID, PCI bus id), found in CUDA by UUID.

Why NVML's order and not CUDA's: nvidia-smi, dcgm-exporter's ``gpu`` label and ``diagnose`` all count
GPUs in NVML's order, which is fixed for a host; CUDA's order depends on ``CUDA_DEVICE_ORDER`` (by
default the fastest GPU first) and ``CUDA_VISIBLE_DEVICES`` (which renumbers from 0). So a GPU index on
the command line is an nvidia-smi index everywhere, and where CUDA must run on that GPU it is looked
up by its UUID among the devices CUDA sees, never by position.
"""

from __future__ import annotations

import os

from ..errors import NoGpuError, NvmlError, WaitbenchError, invalid
from . import nvml

GPU_RANGE = "an nvidia-smi index (NVML order, as nvidia-smi -i), a UUID 'GPU-...' or a PCI bus id '0000:3b:00.0'"


def nvml_spec(text: str, argument: str = "gpu") -> str:
    """A GPU as the command line names it -> a spec :func:`waitbench.telemetry.nvml.device` takes.

    ``'1'`` -> ``'nvml:1'`` (only ASCII digits make an index); a UUID and a PCI bus id stay as they are.
    ValueError naming ``argument`` for anything else. Needs no NVML.
    """
    item = text.strip() if isinstance(text, str) else ""
    spec = f"nvml:{int(item)}" if item.isascii() and item.isdigit() else item
    try:
        kind, _ = nvml.parse_spec(spec)
    except ValueError:
        kind = None
    if kind not in ("nvml", "uuid", "pci"):
        raise invalid(argument, text, GPU_RANGE)
    return spec


def cuda_index_of(uuid: str) -> int:
    """The CUDA index of the GPU NVML calls ``uuid`` (CUDA and NVML orders differ; UUIDs do not)."""
    from .._native import native

    mod = native()
    for i in range(mod.device_count()):
        if str(mod.device_info(i)["uuid"]) == uuid:
            return i
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    raise NoGpuError(f"{uuid} is not visible to CUDA in this process"
                     + (f" (CUDA_VISIBLE_DEVICES={hidden!r})" if hidden is not None else ""))


def cuda_index(text: str, argument: str = "gpu") -> int:
    """The CUDA index of the GPU ``text`` names as nvidia-smi does (see :func:`nvml_spec`), matched by UUID.

    ValueError naming ``argument`` for a GPU NVML does not have or CUDA does not see here;
    WaitbenchError where NVML itself is missing (the message says to leave the flag out).
    """
    spec = nvml_spec(text, argument)
    try:
        with nvml.session():
            kind, value = nvml.parse_spec(spec)
            count = int(nvml.call("nvmlDeviceGetCount"))
            if kind == "nvml" and not 0 <= int(value) < count:
                raise invalid(argument, text, f"an nvidia-smi index in [0, {count - 1}], a UUID or a PCI bus id")
            try:
                uuid = nvml.device(spec).uuid
            except NvmlError as exc:
                raise invalid(argument, text, f"{GPU_RANGE} of a GPU this host has ({exc})") from None
    except NvmlError as exc:
        raise WaitbenchError(f"{argument}={text} names a GPU as nvidia-smi does, and finding it needs NVML: {exc}; "
                             f"leave {argument} out to use the first GPU CUDA sees") from None
    try:
        return cuda_index_of(uuid)
    except NoGpuError as exc:
        raise invalid(argument, text, f"a GPU CUDA can use in this process: {exc}") from None

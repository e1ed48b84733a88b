# SPDX-License-Identifier: Apache-2.0
"""One NVML session per process, device lookup, and NVML failures turned into values or one error type.

Why a module of its own: NVML must be initialised once and shut down exactly once, also when a
measurement fails or the user presses Ctrl-C; every caller (Sampler, Monitor, diagnose, the
instrument check) shares the same reference-counted session. And every NVML call of the process goes
through :func:`call`, which lets one thread at a time into the library: on two H200s (driver
580.159.04) ``nvmlGpmMetricsGet`` on one GPU while another thread was in ``nvmlGpmSampleGet`` or
``nvmlDeviceGetTotalEnergyConsumption`` on the other crashed the process with SIGSEGV
(``benchmarks/nvml_threads.py`` reproduces it; the same calls one at a time never did). A call takes
microseconds, so serialising them costs the sampler nothing measurable. A metric NVML cannot give (not
supported, no permission, a driver without the symbol) becomes ``None`` plus a reason through
:func:`optional`; a failure that leaves nothing to measure raises :class:`NvmlError`.
CUDA and NVML devices are matched by UUID (never by index: the two orders differ).
"""

from __future__ import annotations

import atexit
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from ..errors import NoGpuError, NvmlError, invalid

log = logging.getLogger("waitbench.telemetry")

T = TypeVar("T")
GpuSpec = int | str  # int: CUDA index; str: 'GPU-…'/'MIG-…' UUID, PCI bus id, or 'nvml:N'

# NVML return codes that mean "this metric does not exist here" rather than "something broke".
_CODE_NOT_SUPPORTED, _CODE_NO_PERMISSION, _CODE_NOT_FOUND = 3, 4, 6
_CODE_LIBRARY_NOT_FOUND, _CODE_FUNCTION_NOT_FOUND, _CODE_DRIVER_NOT_LOADED = 12, 13, 9

_lock = threading.Lock()  # guards the session's reference count
# One NVML call at a time in this process (see the module docstring for the crash it prevents).
# Held only inside the library: never while Python waits, sleeps or takes another lock.
_call_lock = threading.Lock()
_refs = 0
_missing_logged: set[str] = set()

_UUID_RE = re.compile(r"^(GPU|MIG)-[0-9a-fA-F-]+$")
_BUS_RE = re.compile(r"^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-9a-fA-F])$")
_NVML_INDEX_RE = re.compile(r"^nvml:(\d+)$")
SPEC_RANGE = "a CUDA index (int), a UUID 'GPU-...', a PCI bus id '0000:xx:00.0', or 'nvml:N' (nvidia-smi index)"


def pynvml() -> ModuleType:
    """The nvidia-ml-py module (imported on first use, so importing waitbench needs no NVML)."""
    try:
        import pynvml as mod
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise NvmlError("import pynvml", None,
                        f"nvidia-ml-py is not installed ({exc}): pip install nvidia-ml-py") from exc
    return mod


def _message(call: str, exc: BaseException) -> str:
    """A one-line, actionable text for an NVML failure."""
    code = getattr(exc, "value", None)
    if code == _CODE_LIBRARY_NOT_FOUND:
        return "NVML library libnvidia-ml.so.1 not found: no NVIDIA driver on this machine"
    if code == _CODE_DRIVER_NOT_LOADED:
        return "the NVIDIA kernel driver is not loaded"
    if code == _CODE_FUNCTION_NOT_FOUND:
        return f"this driver's NVML has no {call} (driver too old)"
    if code == _CODE_NOT_SUPPORTED:
        return f"{call} is not supported on this GPU or driver"
    if code == _CODE_NO_PERMISSION:
        return f"{call} needs more permission than this process has"
    return str(exc) or type(exc).__name__


def to_error(call: str, exc: BaseException) -> NvmlError:
    """Turn a pynvml exception into the package's one NVML error type."""
    return NvmlError(call, getattr(exc, "value", None), _message(call, exc))


def _init() -> None:
    nv = pynvml()
    try:
        with _call_lock:
            nv.nvmlInit()
    except nv.NVMLError as exc:
        raise to_error("nvmlInit", exc) from None


def _shutdown() -> None:
    nv = pynvml()
    try:
        with _call_lock:
            nv.nvmlShutdown()
    except nv.NVMLError as exc:  # shutting down must never mask the error that got us here
        log.debug("nvmlShutdown failed: %s", exc)


def acquire() -> None:
    """Take a reference on the process-wide NVML session, initialising NVML on the first one."""
    global _refs
    with _lock:
        if _refs == 0:
            _init()
        _refs += 1


def release() -> None:
    """Drop a reference; the last one shuts NVML down. Extra releases are ignored."""
    global _refs
    with _lock:
        if _refs == 0:
            return
        _refs -= 1
        if _refs == 0:
            _shutdown()


@atexit.register
def _release_all() -> None:
    """A session leaked by an interrupted program is still shut down when the interpreter exits."""
    global _refs
    with _lock:
        if _refs:
            _refs = 0
            _shutdown()


def session_refs() -> int:
    """References held on the NVML session now (0: NVML is not initialised by waitbench)."""
    return _refs


@contextmanager
def session() -> Iterator[ModuleType]:
    """Hold NVML initialised for the block of a ``with``, released on any exit (yields pynvml)."""
    acquire()
    try:
        yield pynvml()
    finally:
        release()


def call(name: str, *args: Any) -> Any:
    """Call ``pynvml.<name>(*args)``, alone in the library; NvmlError on failure (logs a missing symbol once).

    The one door to NVML: no other code calls pynvml's functions directly.
    """
    nv = pynvml()
    fn: Callable[..., Any] | None = getattr(nv, name, None)
    if fn is None:
        _log_missing(name, "this nvidia-ml-py has no such function")
        raise NvmlError(name, _CODE_FUNCTION_NOT_FOUND, f"nvidia-ml-py has no {name} (upgrade nvidia-ml-py)")
    try:
        with _call_lock:
            return fn(*args)
    except nv.NVMLError as exc:
        if getattr(exc, "value", None) == _CODE_FUNCTION_NOT_FOUND:
            _log_missing(name, "the driver's NVML lacks it (driver too old)")
        raise to_error(name, exc) from None
    except getattr(nv, "NVMLLibraryMismatchError", ()) as exc:  # an unversioned call the driver lacks
        _log_missing(name, "the driver's NVML lacks the version nvidia-ml-py calls")
        raise NvmlError(name, _CODE_FUNCTION_NOT_FOUND, f"this driver's NVML has no {name} ({exc})") from None


def optional(name: str, *args: Any) -> tuple[Any, str | None]:
    """``(value, None)``, or ``(None, reason)`` when NVML cannot give this value here.

    Every NVML failure becomes a reason, so one missing metric never ends a measurement.
    """
    try:
        return call(name, *args), None
    except NvmlError as exc:
        return None, str(exc)


def _log_missing(name: str, why: str) -> None:
    if name not in _missing_logged:
        _missing_logged.add(name)
        log.warning("NVML symbol %s is unavailable: %s; the metrics it gives will be null", name, why)


def unavailable_reason() -> str | None:
    """None if NVML works and sees a GPU, else one line saying why not (no library, no driver, no GPU)."""
    try:
        with session():
            count = call("nvmlDeviceGetCount")
    except NvmlError as exc:
        return str(exc)
    return None if count else "NVML sees no GPU"


def normalize_bus_id(bus_id: str) -> str:
    """``'00000000:3B:00.0'`` (NVML) and ``'0000:3b:00.0'`` (CUDA) both become ``'0000:3b:00.0'``."""
    m = _BUS_RE.match(bus_id.strip())
    if not m:
        raise invalid("pci_bus_id", bus_id, "domain:bus:device.function, e.g. '0000:3b:00.0'")
    domain, bus, dev, fn = m.groups()
    return f"{int(domain or '0', 16):04x}:{bus.lower()}:{dev.lower()}.{fn.lower()}"


def nvml_bus_id(bus_id: str) -> str:
    """A bus id in NVML's own form, ``'00000000:3B:00.0'`` (what nvidia-smi and dcgm-exporter's ``pci_bus_id`` show)."""
    domain, bus, dev, fn = _BUS_RE.match(normalize_bus_id(bus_id)).groups()
    return f"{int(domain, 16):08X}:{bus.upper()}:{dev.upper()}.{fn.upper()}"


@dataclass(frozen=True)
class Device:
    """An NVML device and the identities that tie it to CUDA (UUID) and to nvidia-smi (index, bus id)."""

    handle: Any
    nvml_index: int
    uuid: str
    pci_bus_id: str
    name: str
    cuda_index: int | None = None


def _describe(handle: Any, cuda_index: int | None) -> Device:
    pci = call("nvmlDeviceGetPciInfo", handle)
    bus = pci.busId.decode() if isinstance(pci.busId, bytes) else str(pci.busId)
    index, _ = optional("nvmlDeviceGetIndex", handle)
    return Device(handle=handle, nvml_index=int(index) if index is not None else -1,
                  uuid=str(call("nvmlDeviceGetUUID", handle)), pci_bus_id=normalize_bus_id(bus),
                  name=str(call("nvmlDeviceGetName", handle)), cuda_index=cuda_index)


def cuda_uuid(index: int) -> str:
    """UUID of CUDA device ``index`` (from the native core: only CUDA knows its own ordering)."""
    try:
        from .._native import native

        return str(native().device_info(index)["uuid"])
    except (ImportError, NoGpuError) as exc:
        raise NoGpuError(f"gpu={index} is a CUDA index and mapping it to NVML needs CUDA: {exc}; "
                         "pass a UUID, a PCI bus id or 'nvml:N' instead") from None


def parse_spec(spec: GpuSpec) -> tuple[str, int | str]:
    """``(kind, value)`` of a GPU spec, kind in cuda/uuid/pci/nvml; ValueError for anything else.

    Needs no NVML, so bad input is reported as bad input even on a machine without a driver.
    """
    if isinstance(spec, bool) or not isinstance(spec, (int, str)):
        raise invalid("gpu", spec, SPEC_RANGE)
    if isinstance(spec, int):
        if spec < 0:
            raise invalid("gpu", spec, SPEC_RANGE)
        return "cuda", spec
    text = spec.strip()
    if _UUID_RE.match(text):
        return "uuid", text
    if _BUS_RE.match(text):
        return "pci", normalize_bus_id(text)
    m = _NVML_INDEX_RE.match(text)
    if m:
        return "nvml", int(m.group(1))
    raise invalid("gpu", spec, SPEC_RANGE)


def device(spec: GpuSpec) -> Device:
    """The NVML device for a CUDA index, a UUID, a PCI bus id or ``'nvml:N'`` (needs an open session)."""
    kind, value = parse_spec(spec)
    if kind == "cuda":
        return _describe(call("nvmlDeviceGetHandleByUUID", cuda_uuid(int(value))), int(value))
    if kind == "uuid":
        return _describe(call("nvmlDeviceGetHandleByUUID", value), None)
    if kind == "pci":
        return _describe(call("nvmlDeviceGetHandleByPciBusId", value), None)
    count = int(call("nvmlDeviceGetCount"))
    if not 0 <= int(value) < count:
        raise invalid("gpu", spec, f"'nvml:N' with N in [0, {count - 1}]")
    return _describe(call("nvmlDeviceGetHandleByIndex", int(value)), None)


def all_devices() -> list[Device]:
    """Every GPU NVML sees, in NVML (nvidia-smi) order (needs an open session)."""
    return [_describe(call("nvmlDeviceGetHandleByIndex", i), None) for i in range(int(call("nvmlDeviceGetCount")))]


def driver_version() -> str | None:
    """The driver's version string, or None where NVML cannot say."""
    value, _ = optional("nvmlSystemGetDriverVersion")
    return None if value is None else str(value)

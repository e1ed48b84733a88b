# SPDX-License-Identifier: Apache-2.0
"""Types of waitbench._C, the CUDA core (csrc/module.cpp and its bind_*.cpp, one file an area).

Hand-written; tests/test_native.py checks that it names exactly what the module exports (names with
a leading underscore are types of this stub only: the dicts the calls return). Errors:
NoGpuError, CudaError, WaitExpired and WaitbenchError from waitbench.errors (the table is in its
docstring), ValueError for a limit of the device. Every call that can block releases the GIL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypedDict

import numpy as np
import numpy.typing as npt

# ---- protocol constants (csrc/protocol.hpp) and the spin kernel's variants (bind_waiter.cpp) ----
OUTCOME_PENDING: int
OUTCOME_RELEASED: int
OUTCOME_EXPIRED: int
OUTCOME_ABORTED: int
BLOCK_SLOT_BYTES: int
CONTROL_WORDS_BYTES: int
REGISTER_VARIANTS: list[int]

# ---- devices and CUDA versions (bind_device.cpp) -------------------------------------------------

class _DeviceInfo(TypedDict):
    index: int
    name: str
    uuid: str
    pci_bus_id: str
    sm_count: int
    cc_major: int
    cc_minor: int
    max_threads_per_block: int
    max_threads_per_sm: int
    max_blocks_per_sm: int
    regs_per_sm: int
    smem_per_sm: int
    smem_optin_per_block: int
    l2_bytes: int
    clock_khz: int
    total_mem_bytes: int
    driver_version: int
    runtime_version: int

CUDA_VERSION: int  # the CUDA runtime this module was built with (13000 for 13.0)

def driver_cuda_version() -> int:
    """The CUDA version the loaded NVIDIA driver supports (12080 for 12.8), 0 when no driver is loaded."""

def device_count() -> int:
    """Number of CUDA devices; raises NoGpuError without a usable driver."""

def device_info(index: int) -> _DeviceInfo:
    """What CUDA device `index` is and what its SMs can hold."""

# ---- waiters (bind_waiter.cpp) ---------------------------------------------------------------------

class _Enum:
    """A pybind11 enum: members are class attributes; ``__members__`` maps their names to them."""

    def __init__(self, value: int) -> None: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __hash__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...

class WaiterKind(_Enum):
    """What runs the wait (the strategy table's `native` column)."""

    __members__: ClassVar[dict[str, WaiterKind]]
    DEVICE_SPIN: ClassVar[WaiterKind]
    STREAM_WAIT_VALUE: ClassVar[WaiterKind]
    HOST_SPIN: ClassVar[WaiterKind]
    HOST_YIELD: ClassVar[WaiterKind]
    HOST_BLOCK: ClassVar[WaiterKind]
    EVENT_SYNC: ClassVar[WaiterKind]
    EXTERNAL: ClassVar[WaiterKind]

class FlagLocation(_Enum):
    """Where the release word lives."""

    __members__: ClassVar[dict[str, FlagLocation]]
    HOST: ClassVar[FlagLocation]
    DEVICE: ClassVar[FlagLocation]

class PollLoad(_Enum):
    """How the spin kernel's pollers load the flag."""

    __members__: ClassVar[dict[str, PollLoad]]
    VOLATILE: ClassVar[PollLoad]
    ACQUIRE: ClassVar[PollLoad]

class FlagLines(_Enum):
    """Every poller polls one word, or each poller its own 16-byte line."""

    __members__: ClassVar[dict[str, FlagLines]]
    SHARED: ClassVar[FlagLines]
    PER_POLLER: ClassVar[FlagLines]

class Backoff(_Enum):
    """Sleep between polls of the spin kernel."""

    __members__: ClassVar[dict[str, Backoff]]
    NONE: ClassVar[Backoff]
    FIXED: ClassVar[Backoff]
    EXP: ClassVar[Backoff]

class EventSync(_Enum):
    """How cudaEventSynchronize waits (event-sync)."""

    __members__: ClassVar[dict[str, EventSync]]
    BLOCKING: ClassVar[EventSync]
    SPIN: ClassVar[EventSync]

class WaiterConfig:
    """A native waiter's settings; waitbench.strategies.native_config() builds it from the table."""

    kind: WaiterKind
    device: int
    blocks: int
    threads: int
    pollers: int
    registers: int
    smem_bytes: int
    check_every: int
    flag: FlagLocation
    poll: PollLoad
    flag_lines: FlagLines
    backoff: Backoff
    backoff_ns: int
    backoff_cap_ns: int
    spin_us: int
    sync: EventSync
    timeout_s: float
    def __init__(self) -> None: ...

class _WaitResult(TypedDict):
    status: str  # "released" | "expired" | "aborted"
    release_ns: int
    ack_ns: int
    wake_gt_ns: int
    host_observe_ns: int
    wait_cpu_ns: int
    wait_wall_ns: int

class Waiter:
    """A native waiter; construct it from waitbench.strategies.native_config()."""

    def __init__(self, config: WaiterConfig) -> None: ...
    def arm(self) -> None: ...
    def release(self) -> int: ...
    def wait(self, timeout_s: float) -> _WaitResult: ...
    def abort(self) -> None: ...
    def close(self) -> None: ...
    @property
    def armed(self) -> bool: ...
    @property
    def closed(self) -> bool: ...
    @property
    def device_clock(self) -> bool: ...
    def shape(self) -> dict[str, int]: ...
    def sm_ids(self) -> list[int]: ...

class _ExternalLaunchWords(TypedDict):
    gen: int
    flag_addr: int
    abort_addr: int
    slots_addr: int
    timeout_ns: int
    stream: int
    blocks: int

def external_waiter(config: WaiterConfig, launcher: Callable[[_ExternalLaunchWords], Any]) -> Waiter:
    """A device waiter whose kernel `launcher(words: dict)` launches at each arm (research strategies)."""

class _SpinKernelInfo(TypedDict):
    regs_per_thread: int
    static_smem_bytes: int
    max_threads_per_block: int

def spin_kernel_info(device: int, registers: int) -> _SpinKernelInfo:
    """Resources of the spin kernel variant compiled for `registers`, as loaded on `device`."""

# ---- wake-up timing (bind_timing.cpp) ------------------------------------------------------------

class _TrialSamples(TypedDict):
    release_ns: npt.NDArray[np.int64]
    ack_ns: npt.NDArray[np.int64]
    wake_gt_ns: npt.NDArray[np.int64]
    host_observe_ns: npt.NDArray[np.int64]
    wait_cpu_ns: npt.NDArray[np.int64]
    wait_wall_ns: npt.NDArray[np.int64]
    outcome: npt.NDArray[np.int32]

def run_trials(waiter: Waiter, n: int, gap_ns: int) -> _TrialSamples:
    """N trials of arm -> gap -> release -> wait, timed in C++; raw host/device timestamps per trial.

    This thread and a host waiter's thread run each on its own core during the trials.
    """

class _ClockCalibration(TypedDict):
    host_ns: int
    offset_ns: float
    uncertainty_ns: float

def calibrate_clock(device: int, pings: int = 200) -> _ClockCalibration: ...
def timer_resolution_ns(device: int) -> int: ...
def launch_floor(device: int, n: int) -> npt.NDArray[np.int64]: ...

# ---- work beside a waiter (bind_workloads.cpp) -----------------------------------------------------

class Stream:
    """A non-blocking CUDA stream owned by waitbench (handle: for torch/cupy/numba)."""

    def __init__(self, device: int, priority: int = 0) -> None: ...
    @property
    def handle(self) -> int: ...

def wait_stream_idle(handle: int, device: int, timeout_s: float) -> int:
    """Host time (now_ns) at which the stream's queued work finished, or 0 if not within timeout_s."""

class _WorkloadInfo(TypedDict):
    name: str
    work_unit: str  # "flop" or "byte"
    work_per_launch: float
    grid: int
    block: int
    regs_per_thread: int
    smem_bytes: int

class Workload:
    """A built-in workload with known work per launch."""

    def __init__(self, name: str, device: int, size: int) -> None: ...
    def info(self) -> _WorkloadInfo: ...
    def enqueue(self, stream: int, launches: int) -> None: ...
    def held_clock_mhz(self, stream: int) -> float:
        """fma: SM clock (MHz) its blocks held during the last enqueue on `stream` (0: not measured)."""

def side_call_names() -> list[str]:
    """Names of the calls SideCall can make."""

class SideCall:
    """One common CUDA call, prepared on construction and made once by run()."""

    def __init__(self, name: str, device: int) -> None: ...
    def run(self) -> int:
        """Make the call; returns now_ns() at its return."""

# ---- the ack probe (bind_ack_probe.cpp; the barrier is in waitbench._host) ----------------------------

class AckProbe:
    """A one-warp ack kernel a released barrier rank launches, and when its ack is seen."""

    def __init__(self, device: int) -> None: ...
    def fire(self, timeout_s: float) -> int:
        """Launch the ack kernel, spin until its ack is visible; the host time (now_ns) it was seen."""

# ---- the dispatch benchmark's forward kernel (bind_forward.cpp; its ring is in waitbench._host) ----
class ForwardStamp:
    """A one-warp forward kernel that stamps %globaltimer as it starts."""

    def __init__(self, device: int, capacity: int, work_ns: int = 0) -> None: ...
    def launch(self, index: int) -> None: ...
    def finish(self, index: int, timeout_s: float) -> int: ...

def forward_floor(device: int, n: int, gap_ns: int, timeout_s: float) -> dict[str, npt.NDArray[np.int64]]:
    """The floor with the forward: {'arrival_ns', 'recv_ns', 'kernel_gt_ns'}."""

# SPDX-License-Identifier: Apache-2.0
"""The few exception types waitbench raises, so callers and the CLI can catch them by meaning.

Bad arguments raise the built-in ``ValueError`` (via :func:`invalid`), never a class of our own,
so ordinary Python code handles them as it handles any other bad value.

The native core's exceptions (csrc/common.hpp) arrive as these, one translator in csrc/module.cpp:

==========================  ========================  ===============================================
C++ (``wb::``)              Python                    when
==========================  ========================  ===============================================
``NoDeviceError``           :class:`NoGpuError`       no device, no driver, a driver older than CUDA
``CudaError``               :class:`CudaError`        any other failed CUDA call
``WaitExpired``             :class:`WaitExpired`      a waiter not resident by its deadline (aborted)
``WaitError``               :class:`WaitbenchError`   a wait used out of order, not ended within the
                                                      time given to ``wait()``, a GPU that never answered
``std::invalid_argument``   ``ValueError``            a limit of the device (threads, blocks, smem)
==========================  ========================  ===============================================
"""

from __future__ import annotations

import threading


class WaitbenchError(RuntimeError):
    """Base class of waitbench's runtime failures (not of bad arguments: those are ValueError)."""


class NoGpuError(WaitbenchError):
    """No usable CUDA GPU: no device, no driver, or a driver older than the runtime."""


class NoCudaBuildError(NoGpuError):
    """This install has no CUDA module (built without a CUDA compiler): no kernel feature can run.

    A :class:`NoGpuError`, so code that handles "no usable GPU" handles it too; the message names the
    command that adds the module.
    """


class CudaError(WaitbenchError):
    """A CUDA call failed on a usable GPU; the message names the call and the runtime's error."""


class NvmlError(WaitbenchError):
    """An NVML call failed. One class for every NVML code: ``code`` and ``call`` say which."""

    def __init__(self, call: str, code: int | None, message: str) -> None:
        super().__init__(f"NVML {call} failed: {message}" + (f" (code {code})" if code is not None else ""))
        self.call = call
        self.code = code


class WaitExpired(WaitbenchError):
    """A waiter reached its deadline (``timeout_s``) before it got where it had to.

    Resident, when armed (it was aborted), or released, for :meth:`waitbench.Waiter.wait` with
    ``check=True``. A measurement cannot use it.
    """


class BarrierBroken(WaitbenchError, threading.BrokenBarrierError):
    """A :class:`waitbench.HostBarrier` wait that cannot complete.

    A deadline passed, ``abort()``, a rank whose process died, or a rank interrupted (Ctrl-C). One class
    for every reason (``reason`` says which); it is a ``threading.BrokenBarrierError``, as
    ``multiprocessing.Barrier`` raises, so code written for that barrier catches it unchanged.

    Attributes:
        reason: 'timeout', 'aborted', 'rank-died' or 'interrupted'.
        generation: the barrier generation (round) that could not complete.
        missing: ranks that had not arrived at that generation.
        dead_rank, dead_pid: for 'rank-died', the rank whose process is gone and its pid.
    """

    def __init__(self, message: str, *, reason: str, generation: int, missing: list[int],
                 dead_rank: int | None = None, dead_pid: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.generation = generation
        self.missing = missing
        self.dead_rank = dead_rank
        self.dead_pid = dead_pid


class ResultsError(WaitbenchError):
    """A results file cannot be read: missing, empty, or written with another schema version."""


class MalformedLinesWarning(UserWarning):
    """Lines of a JSON Lines file were skipped (torn, not JSON, not a record): the message names file and lines."""


class DuplicateRecordsWarning(UserWarning):
    """Files or records given twice were read once (a copy, a hard link, a path named twice): the message says which."""


class CacheWarning(UserWarning):
    """A cache file could not be used (corrupt, implausible, unwritable): measured again; the message names the file."""


def invalid(argument: str, value: object, valid: str) -> ValueError:
    """Build the one ValueError shape the whole package uses: argument, value and valid range."""
    return ValueError(f"{argument}={value!r} is invalid: expected {valid}")

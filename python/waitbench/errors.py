# SPDX-License-Identifier: Apache-2.0
"""The few exception types waitbench raises, so callers and the CLI can catch them by meaning.

Bad arguments raise the built-in ``ValueError`` (via :func:`invalid`), never a class of our own,
so ordinary Python code handles them as it handles any other bad value.
"""

from __future__ import annotations


class WaitbenchError(RuntimeError):
    """Base class of waitbench's runtime failures (not of bad arguments: those are ValueError)."""


class NoGpuError(WaitbenchError):
    """No usable CUDA GPU: no device, no driver, or a driver older than the runtime."""


class NvmlError(WaitbenchError):
    """An NVML call failed. One class for every NVML code: ``code`` and ``call`` say which."""

    def __init__(self, call: str, code: int | None, message: str) -> None:
        super().__init__(f"NVML {call} failed: {message}" + (f" (code {code})" if code is not None else ""))
        self.call = call
        self.code = code


class WaitExpired(WaitbenchError):
    """A waiter reached its deadline without being released (a measurement cannot use it)."""


class ResultsError(WaitbenchError):
    """A results file cannot be read: missing, empty, or written with another schema version."""


class MalformedLinesWarning(UserWarning):
    """Lines of a JSON Lines file were skipped (torn, not JSON, not a record): the message names file and lines."""


def invalid(argument: str, value: object, valid: str) -> ValueError:
    """Build the one ValueError shape the whole package uses: argument, value and valid range."""
    return ValueError(f"{argument}={value!r} is invalid: expected {valid}")

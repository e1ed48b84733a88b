# SPDX-License-Identifier: Apache-2.0
"""Where the NCCL profiler plugin is, and the environment that makes any NCCL program load it.

Why environment only: NCCL loads a profiler plugin named by ``NCCL_PROFILER_PLUGIN`` (a path is dlopened as
given) at each communicator's init, so a job needs no code change; the plugin reads its own settings from
``WAITBENCH_PROFILER_*`` at the first init (csrc/profiler/plugin.cpp). The library is built with the
package (a plain C++ target, no CUDA) and installed in the package's ``lib/`` folder.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import time
from pathlib import Path

from .. import checks
from ..errors import WaitbenchError, invalid

LIBRARY_NAME = "libnccl-profiler-waitbench.so"
LIBRARY_SUBDIR = "lib"
DEFAULT_DIR = "/dev/shm"
DEFAULT_ENTRIES = 1 << 15
MIN_ENTRIES, MAX_ENTRIES = 16, 1 << 24
# NCCL event bits the plugin asks for: Coll (the collective), CollApi (the application's call: enqueue time),
# KernelCh (each channel's GPU start and stop).
EVENT_COLL, EVENT_KERNEL_CH, EVENT_COLL_API = 1 << 1, 1 << 6, 1 << 9
FULL_MASK = EVENT_COLL | EVENT_KERNEL_CH | EVENT_COLL_API
HOST_ONLY_MASK = EVENT_COLL | EVENT_COLL_API
JOB_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
MAX_JOB_CHARS = 48


def plugin_path() -> Path:
    """The plugin library of this installation; WaitbenchError saying what to do when it was not built.

    It sits in the package's ``lib/`` folder (not beside the modules: a ``.so`` there would be taken for an
    extension module); an editable install spreads the package over several folders, so each is tried.
    """
    spec = importlib.util.find_spec("waitbench")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / LIBRARY_SUBDIR / LIBRARY_NAME
        if candidate.is_file():
            return candidate.resolve()
    raise WaitbenchError(f"the NCCL profiler plugin ({LIBRARY_NAME}) is not installed with this waitbench: "
                         "reinstall it from source with a C++ compiler (pip install .)")


def new_job_id() -> str:
    """A job id for ring names: the local time and 4 random hex digits, e.g. 20261208-033012-9f3a."""
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def check_job(job: str) -> str:
    """A job id the plugin keeps as given: 1 to 48 characters of [A-Za-z0-9._-]."""
    if not isinstance(job, str) or not 1 <= len(job) <= MAX_JOB_CHARS or not set(job) <= JOB_CHARS:
        raise invalid("job", job, f"1 to {MAX_JOB_CHARS} characters of A-Z, a-z, 0-9, '.', '_', '-'")
    return job


def env_vars(job: str, directory: str | os.PathLike[str] = DEFAULT_DIR, entries: int = DEFAULT_ENTRIES,
             kernel_times: bool = True) -> dict[str, str]:
    """The variables that load the plugin into any NCCL program and tell it where to record.

    ``kernel_times=False`` asks NCCL for host events only (no per-channel GPU times: no waits, less cost).
    """
    check_job(job)
    folder = checks.path("directory", directory)
    if not os.path.isabs(folder):
        raise invalid("directory", folder, "an absolute path (the job's processes may start elsewhere)")
    checks.count("entries", entries, MIN_ENTRIES, MAX_ENTRIES)
    return {
        "NCCL_PROFILER_PLUGIN": str(plugin_path()),
        "WAITBENCH_PROFILER_JOB": job,
        "WAITBENCH_PROFILER_DIR": folder,
        "WAITBENCH_PROFILER_ENTRIES": str(entries),
        "WAITBENCH_PROFILER_MASK": hex(FULL_MASK if checks.flag("kernel_times", kernel_times) else HOST_ONLY_MASK),
    }

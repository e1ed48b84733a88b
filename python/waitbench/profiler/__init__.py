# SPDX-License-Identifier: Apache-2.0
"""Live wait accounting in real NCCL jobs: the profiler plugin's environment, its rings, and who waited on whom.

NCCL loads waitbench's profiler plugin (``waitbench profiler env`` prints the variables); each process
records its collectives into a ring in shared memory; :func:`read_ring` reads one, :mod:`.recording` keeps
them in a file, and :func:`account` matches the ranks' records into collective instances and counts every
wait. docs/PROFILER.md says what each figure can and cannot tell.
"""

from .accounting import Accounting, Instance, RankTotals, account
from .library import env_vars, new_job_id, plugin_path
from .records import RingSnapshot
from .ring import read_ring, ring_paths

__all__ = ["Accounting", "Instance", "RankTotals", "RingSnapshot", "account", "env_vars", "new_job_id",
           "plugin_path", "read_ring", "ring_paths"]

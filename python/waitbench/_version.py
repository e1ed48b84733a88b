# SPDX-License-Identifier: Apache-2.0
"""The package version, defined once: records, baselines and ``--version`` read it from here."""

__version__ = "0.1.0"

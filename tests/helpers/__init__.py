# SPDX-License-Identifier: Apache-2.0
"""What tests share that is not a test: SYNTHETIC records and windows, the REAL windows composed into
hosts, the fake NVML for pure aggregation logic, the reference-results parameters.

Imported one way, as ``from helpers.<module> import ...`` (tests/conftest.py puts tests/ on the path).
"""

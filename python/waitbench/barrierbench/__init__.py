# SPDX-License-Identifier: Apache-2.0
"""What the host-side fix costs between processes, and whether the barrier that carries it is right.

``stress``: N rank processes x many rounds with random delays, every round checked.
"""

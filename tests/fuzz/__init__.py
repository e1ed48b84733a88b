# SPDX-License-Identifier: Apache-2.0
"""Package marker: lets test modules share a basename across test folders."""

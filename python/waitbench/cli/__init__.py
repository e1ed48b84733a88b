# SPDX-License-Identifier: Apache-2.0
"""The ``waitbench`` command line: one module per subcommand, dispatched from :mod:`.main`."""

# SPDX-License-Identifier: Apache-2.0
"""``python -m waitbench`` runs the CLI."""
import sys

from .cli.main import main

sys.exit(main())

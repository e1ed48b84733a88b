# SPDX-License-Identifier: Apache-2.0
"""``waitbench strategies``: every wait strategy with its options, defaults and valid ranges."""

from __future__ import annotations

import argparse
import json
import sys

from rich.markup import escape
from rich.table import Table

from ..strategies import strategies
from .common import out_console


def register(sub: argparse._SubParsersAction) -> None:
    """Add the strategies subcommand to the CLI."""
    p = sub.add_parser("strategies", help="list wait strategies, their options and presets")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print the strategy table (or its JSON)."""
    specs = strategies()
    if args.json:
        sys.stdout.write(json.dumps([{
            "name": s.name, "mechanism": s.mechanism, "source": s.source, "doc": s.doc,
            "options": [{"name": o.name, "type": o.type.__name__, "default": o.default, "unit": o.unit,
                         "valid": o.valid_range(), "doc": o.doc} for o in s.options],
            "presets": {k: dict(v) for k, v in s.presets.items()},
        } for s in specs], indent=2) + "\n")
        return 0
    table = Table(title="waitbench strategies", show_lines=True)
    table.add_column("strategy", style="bold", no_wrap=True)
    table.add_column("waits on")
    table.add_column("what it is")
    table.add_column("options (default; valid)")
    for s in specs:  # registered strategies bring their own text: escaped, so "[x]" stays "[x]"
        opts = "\n".join(escape(f"{o.name}={o.default!r}{' ' + o.unit if o.unit else ''}; {o.valid_range()}")
                         for o in s.options)
        doc = escape(s.doc) + ("\n" + "\n".join(f"[dim]{escape(k)}[/dim]: {escape(v)}"
                                                 for k, v in s.preset_docs.items()) if s.preset_docs else "")
        name = escape(s.name) if s.source == "builtin" else f"{escape(s.name)}\n[dim]{escape(s.source)}[/dim]"
        table.add_row(name, escape(s.mechanism), doc, opts)
    out_console.print(table)
    return 0

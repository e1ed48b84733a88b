# SPDX-License-Identifier: Apache-2.0
"""Format-agnostic tables and their four renderings: rich, markdown, CSV, JSON.

Why one intermediate shape: the report and compare tables are built once (display text for people,
raw values for machines) and every format reads the same :class:`TableData`, so a number cannot
say one thing in the terminal and another in the CSV.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any, Sequence

FORMATS = ("table", "markdown", "csv", "json")
NA = "n/a"  # shown for a metric that was not measured (its reason is in the record's null_reasons)


@dataclass(frozen=True)
class Column:
    """A displayed column: a short header for the terminal, a long one (with units) for markdown."""

    header: str
    long_header: str
    justify: str = "right"
    no_wrap: bool = True
    drop_order: int = 0  # on a terminal too narrow for every column, drop 1 first, then 2, ...; 0 = keep


@dataclass
class TableData:
    """One table: display cells for people, raw rows (numbers, units in keys) for machines."""

    kind: str
    title: str
    subtitle: str
    columns: list[Column]
    cells: list[list[str]]
    raw: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    styles: dict[str, str] = field(default_factory=dict)  # exact cell text -> rich style


def to_rich(t: TableData) -> Any:
    """A rich Table (borderless between columns, so 12 metric columns fit in 120 characters)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{t.title}\n[dim]{t.subtitle}[/dim]", caption="\n".join(t.notes), caption_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True, title_justify="left")
    # The label column may wrap between words but never inside one (a strategy name stays whole).
    longest_word = max((len(w) for row in t.cells for w in row[0].split()), default=8)
    for i, col in enumerate(t.columns):
        first = i == 0
        table.add_column(col.header, justify="left" if first else col.justify,  # type: ignore[arg-type]
                         no_wrap=col.no_wrap, overflow="fold", style="bold" if first else None,
                         min_width=longest_word if first else None)
    for row in t.cells:
        table.add_row(*(Text(c, style=t.styles.get(c, "dim" if c == NA else "")) for c in row))
    return table


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(t: TableData, heading: str = "###") -> str:
    """A GitHub-flavoured markdown table with its title, subtitle and legend."""
    align = {"left": ":---", "right": "---:", "center": ":---:"}
    lines = [f"{heading} {t.title}", "", t.subtitle, ""]
    lines.append("| " + " | ".join(_md_escape(c.long_header) for c in t.columns) + " |")
    lines.append("|" + "|".join(align["left" if i == 0 else c.justify] for i, c in enumerate(t.columns)) + "|")
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in t.cells]
    if t.notes:
        notes = [f"<sub>{_md_escape(n)}</sub>" for n in t.notes]
        lines += ["", "<br>\n".join(notes)]
    return "\n".join(lines) + "\n"


def _csv_value(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, sort_keys=True)
    return v


def to_csv(tables: Sequence[TableData]) -> str:
    """One CSV for all tables: a `table` and `run_id` column, then the union of raw keys."""
    keys: dict[str, None] = {"table": None, "run_id": None}
    for t in tables:
        for row in t.raw:
            keys.update(dict.fromkeys(row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(keys), lineterminator="\n")
    writer.writeheader()
    for t in tables:
        for row in t.raw:
            values = {k: _csv_value(v) for k, v in row.items()}
            writer.writerow({"table": t.kind, "run_id": t.meta.get("run_id"), **values})
    return buf.getvalue()


def to_json(tables: Sequence[TableData], **top: Any) -> str:
    """JSON with each table's run identity, raw rows and legend (``top`` adds top-level keys)."""
    doc = dict(top)
    doc["tables"] = [{"kind": t.kind, "title": t.title, "run": t.meta, "rows": t.raw, "notes": t.notes}
                     for t in tables]
    return json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n"


def render_text(tables: Sequence[TableData], fmt: str, **top: Any) -> str:
    """The markdown, CSV or JSON text of ``tables`` (the rich format is printed, not returned)."""
    if fmt == "markdown":
        return "\n".join(to_markdown(t) for t in tables)
    if fmt == "csv":
        return to_csv(tables)
    if fmt == "json":
        return to_json(tables, **top)
    from ..errors import invalid
    raise invalid("format", fmt, "one of markdown, csv, json (table is printed with rich)")


def fit_width(t: TableData, console: Any) -> TableData:
    """``t`` without its least important columns, as many as a terminal this narrow needs dropped.

    Why: a rich table squeezed below its minimum width truncates every number; fewer whole columns,
    named in a note, read better.
    """
    from rich.measure import Measurement

    order = sorted({c.drop_order for c in t.columns if c.drop_order})
    dropped: list[str] = []
    wide = console.options.update_width(10_000)
    while Measurement.get(console, wide, to_rich(t)).minimum > console.width and order:
        level = order.pop(0)
        keep = [i for i, c in enumerate(t.columns) if c.drop_order != level]
        dropped += [c.long_header for c in t.columns if c.drop_order == level]
        t = TableData(t.kind, t.title, t.subtitle, [t.columns[i] for i in keep],
                      [[row[i] for i in keep] for row in t.cells], t.raw, t.notes, t.meta, t.styles)
    if dropped:
        t.notes = t.notes + [f"Not shown at this width: {', '.join(dropped)} (widen the terminal or use --format)."]
    return t


def print_rich(tables: Sequence[TableData], console: Any) -> None:
    """Print each table on ``console`` with a blank line between, fitted to its width."""
    for i, t in enumerate(tables):
        if i:
            console.print()
        console.print(to_rich(fit_width(t, console)))

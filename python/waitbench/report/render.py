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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..inert import inert

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
    stack_order: int = 0  # too narrow: at this step, move the column's value to a heading line over its rows


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
    headings: dict[int, str] = field(default_factory=dict)  # row index -> heading line above it (stacked columns)


def shown(t: TableData) -> TableData:
    """``t`` with every text it shows made inert (:func:`waitbench.inert.inert`): cells, titles, notes, headers.

    Why here: every format but JSON draws from this copy, so a control character in a strategy name,
    a GPU name or a command line from a file cannot reach the terminal, whichever table holds it. A
    cell keeps its line breaks (a table lays them out); titles and notes are one line each.
    """
    def cell(text: str) -> str:
        return inert(text, newlines=True)

    return replace(t, title=inert(t.title), subtitle=inert(t.subtitle),
                   columns=[replace(c, header=cell(c.header), long_header=inert(c.long_header)) for c in t.columns],
                   cells=[[cell(c) for c in row] for row in t.cells], notes=[inert(n) for n in t.notes],
                   styles={cell(k): v for k, v in t.styles.items()},
                   headings={r: inert(h) for r, h in t.headings.items()})


def to_rich(t: TableData, width: int | None = None) -> Any:
    """A rich Table (borderless between columns, so 12 metric columns fit in 120 characters).

    With ``width`` (a console's), every column gets a fixed width: each at least its minimum
    (:func:`min_widths`), the room left going to the columns that wrap, so no number is cut and no
    word is split. A table with stacked columns (``headings``) is drawn as one header, then per
    group its heading line and its rows, all with the same column widths. Text from files (GPU
    names, run ids, labels in notes) is made inert (:func:`shown`) and its markup escaped: "[x]" in a
    name stays "[x]".
    """
    from rich.console import Group
    from rich.markup import escape
    from rich.text import Text

    t = shown(t)
    widths = column_widths(t, width) if width is not None else [None] * len(t.columns)
    title = f"{escape(t.title)}\n[dim]{escape(t.subtitle)}[/dim]" if t.subtitle else escape(t.title)
    caption = escape("\n".join(t.notes))
    if not t.headings:
        return _rich_table(t, widths, range(len(t.cells)), title=title, caption=caption)
    starts = sorted(t.headings)
    parts: list[Any] = [_rich_table(t, widths, [], title=title)]
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(t.cells)
        parts.append(Text(t.headings[start], style="bold underline"))
        parts.append(_rich_table(t, widths, range(start, end), header=False,
                                 caption=caption if k == len(starts) - 1 else None))
    return Group(*parts)


def _rich_table(t: TableData, widths: Sequence[int | None], rows: Iterable[int], *, title: str | None = None,
                caption: str | None = None, header: bool = True) -> Any:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, caption=caption or None, caption_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, padding=(0, 1), collapse_padding=True, title_justify="left", show_header=header)
    for i, col in enumerate(t.columns):
        table.add_column(Text(col.header), justify="left" if i == 0 else col.justify,  # type: ignore[arg-type]
                         no_wrap=col.no_wrap, overflow="fold", style="bold" if i == 0 else None, width=widths[i])
    for r in rows:
        table.add_row(*(Text(c, style=t.styles.get(c, "dim" if c == NA else "")) for c in t.cells[r]))
    return table


def column_widths(t: TableData, width: int) -> list[int]:
    """Fixed column widths within ``width``: minimums first, then what is left to the wrapping columns."""
    from rich.cells import cell_len

    widths = min_widths(t)
    room = width - table_width(t)
    for i, col in enumerate(t.columns):
        if room <= 0:
            break
        if col.no_wrap:
            continue
        natural = max((cell_len(line) for text in [col.header] + [row[i] for row in t.cells]
                       for line in text.split("\n")), default=widths[i])
        grow = min(room, natural - widths[i])
        widths[i] += max(grow, 0)
        room -= max(grow, 0)
    return widths


def min_widths(t: TableData) -> list[int]:
    """Each column's narrowest width: its widest cell where it does not wrap, its longest word where it does."""
    from rich.cells import cell_len

    out = []
    for i, col in enumerate(t.columns):
        texts = [col.header] + [row[i] for row in t.cells]
        if col.no_wrap:
            out.append(max(cell_len(line) for text in texts for line in text.split("\n")))
        else:
            out.append(max((cell_len(w) for text in texts for w in text.split()), default=1))
    return out


def table_width(t: TableData) -> int:
    """Columns this table needs at least, as rich draws it here (no edges; two spaces between columns)."""
    return sum(min_widths(t)) + 2 * (len(t.columns) - 1)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(t: TableData, heading: str = "###") -> str:
    """A GitHub-flavoured markdown table with its title, subtitle and legend (its text made inert)."""
    align = {"left": ":---", "right": "---:", "center": ":---:"}
    t = shown(t)
    lines = [f"{heading} {t.title}", "", t.subtitle, ""]
    lines.append("| " + " | ".join(_md_escape(c.long_header) for c in t.columns) + " |")
    lines.append("|" + "|".join(align["left" if i == 0 else c.justify] for i, c in enumerate(t.columns)) + "|")
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in t.cells]
    if t.notes:
        notes = [f"<sub>{_md_escape(n)}</sub>" for n in t.notes]
        lines += ["", "<br>\n".join(notes)]
    return "\n".join(lines) + "\n"


FORMULA_STARTS = ("=", "+", "-", "@")  # a spreadsheet reads a cell that starts so as a formula


def _csv_text(text: str) -> str:
    """A string cell made inert, and quoted with ``'`` where a spreadsheet would run it as a formula."""
    text = inert(text, newlines=True)
    if text.startswith(FORMULA_STARTS):
        try:
            float(text)  # "-1.5" is a number, not a formula
        except ValueError:
            return "'" + text
    return text


def _csv_value(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, (dict, list, tuple)):
        return _csv_text(json.dumps(v, sort_keys=True))
    if isinstance(v, str):
        return _csv_text(v)
    return v


def to_csv(tables: Sequence[TableData]) -> str:
    """One CSV for all tables: a `table` and `run_id` column, then the union of raw keys.

    Text is made inert and a text cell that starts as a formula does (``=``, ``+``, ``-``, ``@``) gets a
    leading ``'``, as OWASP advises against CSV injection; numbers stay numbers.
    """
    keys: dict[str, None] = {"table": None, "run_id": None}
    for t in tables:
        for row in t.raw:
            keys.update(dict.fromkeys(row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(keys), lineterminator="\n")
    writer.writerow({k: _csv_text(k) for k in keys})  # the header: a workload's name from a file is in keys
    for t in tables:
        for row in t.raw:
            values = {k: _csv_value(v) for k, v in row.items()}
            writer.writerow({"table": t.kind, "run_id": _csv_value(t.meta.get("run_id")), **values})
    return buf.getvalue()


def to_json(tables: Sequence[TableData], **top: Any) -> str:
    r"""JSON with each table's run identity, raw rows and legend (``top`` adds top-level keys).

    Values stay as the files hold them: ``json.dumps`` writes every control and non-ASCII character as
    a ``\uXXXX`` escape, so nothing raw reaches a terminal and a JSON reader gets the value back.
    """
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


def _without(t: TableData, drop: set[int], stack: list[int]) -> TableData:
    """``t`` without columns ``drop``; columns ``stack`` become heading lines where their values change."""
    keep = [i for i in range(len(t.columns)) if i not in drop and i not in stack]
    headings = dict(t.headings)
    if stack:
        last = None
        for r, row in enumerate(t.cells):
            label = " · ".join(row[i] for i in stack if row[i])
            if label != last:
                headings[r] = label
            last = label
    return TableData(t.kind, t.title, t.subtitle, [t.columns[i] for i in keep], [[row[i] for i in keep]
                     for row in t.cells], t.raw, t.notes, t.meta, t.styles, headings)


def fit_width(t: TableData, width: int) -> TableData:
    """``t`` fitted to the console's width: columns stacked into heading lines or dropped, step by step.

    Why: a rich table squeezed below its minimum width truncates every number; fewer whole columns,
    named in a note, or a label moved onto its own line, read better. Step n stacks the columns whose
    ``stack_order`` is n and drops those whose ``drop_order`` is n.
    """
    steps = sorted({c.drop_order for c in t.columns if c.drop_order}
                   | {c.stack_order for c in t.columns if c.stack_order})
    drop: list[int] = []
    stack: list[int] = []
    fitted = t
    while table_width(fitted) > width and steps:
        level = steps.pop(0)
        drop += [i for i, c in enumerate(t.columns) if c.drop_order == level]
        stack += [i for i, c in enumerate(t.columns) if c.stack_order == level]
        fitted = _without(t, set(drop), stack)
    if drop:
        dropped = ", ".join(t.columns[i].long_header for i in drop)
        fitted.notes = [*t.notes, f"Not shown at this width: {dropped} (widen the terminal or use --format)."]
    return fitted


class Fitted:
    """A table that fits itself to the width it is drawn at (a terminal, a file, a ``rich.live.Live``)."""

    def __init__(self, t: TableData) -> None:
        self.t = t

    def __rich_console__(self, console: Any, options: Any) -> Any:
        yield to_rich(fit_width(shown(self.t), options.max_width), options.max_width)  # fitted as it is drawn


def print_rich(tables: Sequence[TableData], console: Any) -> None:
    """Print each table on ``console`` with a blank line between, fitted to its width."""
    for i, t in enumerate(tables):
        if i:
            console.print()
        console.print(Fitted(t))

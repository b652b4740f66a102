"""`lode compare`'s outputs: JSON and CSV with the values as read, a Markdown table for a
pull request, and the terminal table with changed cells marked."""

from __future__ import annotations

import csv
import io
import json
from itertools import groupby
from typing import Any

from lode.ops.reports.history import FILL, INFO, SHORT_HASH, SHORT_SHA, Comparison
from lode.ops.reports.table import format_value, tabulate


def to_json(c: Comparison) -> str:
    """The rows as a JSON list; values as read, hashes and shas in full."""
    return json.dumps(c.rows, default=str)


def to_csv(c: Comparison) -> str:
    """A header row (rev, sha, date, author, message, then the columns), one row per
    revision; values as read, empty where missing."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*INFO, *(name for _, name in c.columns)])
    for row in c.rows:
        values = [row[g][name] for g, name in c.columns]
        writer.writerow([*("" if row[k] is None else row[k] for k in INFO),
                         *("" if v is None else v for v in values)])
    return out.getvalue()


def _cells(c: Comparison, precision: int | None) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    """Headers and (text, changed) cells: revision, short sha, date, then the columns
    (floats rounded as `metrics diff` rounds them, hashes shortened)."""
    def cell(group: str, value: Any) -> str:
        if value is None:
            return FILL
        return str(value)[:SHORT_HASH] if group == "deps" else format_value(value, precision)

    headers = ["Revision", "SHA", "Date", *(name for _, name in c.columns)]
    table = []
    for row in c.rows:
        date = (row["date"] or "")[:16].replace("T", " ") or FILL
        cells = [(row["rev"], False), ((row["sha"] or FILL)[:SHORT_SHA], False), (date, False)]
        cells += [(cell(g, row[g][name]), name in row["changed"])
                  for g, name in c.columns]
        table.append(cells)
    return headers, table


def to_markdown(c: Comparison, precision: int | None = None) -> str:
    """A GitHub table; changed cells in bold."""
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    headers, table = _cells(c, precision)
    rows = [[esc(f"**{t}**" if changed else t) for t, changed in cells] for cells in table]
    return tabulate([esc(h) for h in headers], rows, markdown=True)


BOLD, RESET = "\x1b[1m", "\x1b[0m"


def to_text(c: Comparison, precision: int | None = None, color: bool = False) -> str:
    """A terminal table under a line naming the column groups; changed cells bold with
    `color`, else followed by '*' (and a legend line)."""
    headers, table = _cells(c, precision)
    shown = [[t + ("*" if changed and not color else "") for t, changed in cells]
             for cells in table]
    widths = [max([len(h), *(len(r[i]) for r in shown)]) for i, h in enumerate(headers)]
    labels, start = [], 0
    for group, members in groupby(["", "", "", *(g for g, _ in c.columns)]):
        n = len(list(members))
        label = {"deps": "data (md5)"}.get(group, group)
        span = sum(widths[start:start + n]) + 2 * (n - 1)
        widths[start + n - 1] += max(0, len(label) - span)  # the label fits above its columns
        labels.append(f"{label:<{max(span, len(label))}}")
        start += n

    def line(cells: list[str], marks: list[bool]) -> str:
        parts = []
        for text, w, mark in zip(cells, widths, marks, strict=True):
            pad = " " * (w - len(text))
            parts.append(f"{BOLD}{text}{RESET}{pad}" if mark and color else text + pad)
        return "  ".join(parts).rstrip()

    lines = ["  ".join(labels).rstrip(), line(headers, [False] * len(headers))]
    lines += [line(s, [m for _, m in cells]) for s, cells in zip(shown, table, strict=True)]
    if any(m for cells in table for _, m in cells):
        mark = "bold" if color else "*"
        lines.append(f"({mark}: changed from the next older revision)")
    return "\n".join(lines)

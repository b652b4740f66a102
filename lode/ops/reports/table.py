"""The text tables of `metrics show`, `metrics diff` and `params diff`, laid out as DVC 3
lays them out (tabulate's "plain" and "github" formats, numbers left as text), so a
script that reads DVC's table reads lode's."""

from __future__ import annotations

from typing import Any

from lode.ops.reports.compare import flatten, format_dict, relative_change

FILL = "-"
DEFAULT_PRECISION = 5


def tabulate(headers: list[str], rows: list[list[str]], markdown: bool = False) -> str:
    """Columns left-aligned, each at least two wider than its header (tabulate's minimum
    padding); plain: two spaces apart, right ends stripped; markdown: GitHub's pipes."""
    widths = [max([len(h) + 2, *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    if markdown:
        def line(cells: list[str]) -> str:
            return "|" + "|".join(f" {c:<{w}} " for c, w in zip(cells, widths, strict=True)) + "|"

        rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
        return "\n".join([line(headers), rule, *(line(r) for r in rows)])

    def plain(cells: list[str]) -> str:
        return "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([plain(headers), *(plain(r) for r in rows)])


def compact(value: Any, precision: int = DEFAULT_PRECISION) -> str:
    """A value for prose and the HTML report: floats rounded and without trailing zeros
    (`0.8228`, `200`), '-' for none."""
    if isinstance(value, float):
        return f"{round(value, precision):g}"
    return "-" if value is None else str(value)


def format_value(value: Any, precision: int | None = None) -> str:
    """DVC's `_format_field` with rounding: floats rounded to `precision` digits after
    the point (0 or None: as they are), nested values formatted inside."""
    def fmt(v: Any) -> Any:
        if isinstance(v, float) and precision:
            return round(v, precision)
        if isinstance(v, dict):
            return {k: fmt(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fmt(x) for x in v]
        return v

    return str(fmt(value))


def metrics_table(data: dict[str, dict], show_revision: bool, precision: int | None
                  ) -> tuple[list[str], list[list[str]]]:
    """`metrics show`: one row per revision and file, one column per flattened key
    (sorted); '-' where a file has no such key."""
    records: list[dict[str, str]] = []
    keys: dict[str, None] = {}
    for rev, result in data.items():
        for path, file_result in (result.get("data") or {}).items():
            metric = file_result.get("data", {})
            flat = flatten(format_dict(metric)) if isinstance(metric, dict) else {"": metric}
            record = {"Revision": rev, "Path": path}
            for key, value in flat.items():
                keys.setdefault(key)
                record[key] = format_value(value, precision)
            records.append(record)
    headers = ["Revision", "Path", *sorted(k for k in keys if k not in ("Revision", "Path"))]
    if not show_revision:
        headers.remove("Revision")
    return headers, [[r.get(h, FILL) for h in headers] for r in records]


def _cell(value: Any, precision: int | None) -> str:
    return FILL if value is None else format_value(value, precision)


def _percent(change: dict[str, Any]) -> str:
    pct = relative_change(change)
    return FILL if pct is None else f"{pct:+.2f}%"


def diff_table(diff: dict[str, dict], title: str, a_rev: str, b_rev: str,
               no_path: bool = False, show_changes: bool = True, relative: bool = False,
               precision: int | None = None) -> tuple[list[str], list[list[str]]]:
    """`metrics diff`/`params diff`: Path, key, the two revisions, Change (DVC's), and
    with `relative` lode's change in percent of the old value."""
    headers = ["Path", title, a_rev, b_rev]
    if show_changes:
        headers.append("Change")
        if relative:
            headers.append("Change %")
    rows = []
    for path, changes in diff.items():
        for key, change in sorted(changes.items()):
            row = [path, str(key), _cell(change.get("old"), precision),
                   _cell(change.get("new"), precision)]
            if show_changes:
                row.append(_cell(change.get("diff"), precision))
                if relative:
                    row.append(_percent(change))
            rows.append(row[1:] if no_path else row)
    return (headers[1:] if no_path else headers), rows

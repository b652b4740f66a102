"""Metric deltas and the commit message a recipe writes, e.g.
`[lode] compute_metrics: roc_auc 0.861 → 0.874`. Pure functions."""

from __future__ import annotations

from typing import Any

from lode.recipes import RecipeError
from lode.reports.table import compact


def deltas(diff: dict[str, dict]) -> list[dict[str, Any]]:
    """`metrics diff --all` data (`{path: {key: {old, new}}}`) as a flat list of
    `{path, name, old, new}`, files and keys in order."""
    out = []
    for path in sorted(diff):
        for name, change in diff[path].items():
            if isinstance(change, dict):
                out.append({"path": path, "name": name, "old": change.get("old"),
                            "new": change.get("new")})
    return out


def describe(items: list[dict[str, Any]], limit: int = 4) -> str:
    """The changed metrics as `a 0.1 → 0.2, b – → 3`; at most `limit`, then `(+N more)`;
    "metrics unchanged" when nothing moved, "no metrics" when there are none."""
    if not items:
        return "no metrics"
    changed = [d for d in items if d["old"] != d["new"]]
    if not changed:
        return "metrics unchanged"
    # a name shared by two files needs its file to be told apart
    names = [d["name"] for d in changed]
    parts = []
    for d in changed[:limit]:
        label = d["name"] if names.count(d["name"]) == 1 else f"{d['path']}:{d['name']}"
        parts.append(f"{label} {compact(d['old'])} → {compact(d['new'])}")
    more = len(changed) - limit
    return ", ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def render(template: str, fields: dict[str, str]) -> str:
    """`template` with `{recipe}`, `{metrics}`, `{stages}`, `{host}`, `{run_id}` filled in;
    an unknown field is refused before anything is committed."""
    try:
        text = template.format_map(fields)
    except KeyError as e:
        raise RecipeError(f"the commit message template names {{{e.args[0]}}}; it may use "
                          f"{', '.join('{' + k + '}' for k in fields)}.") from None
    except (ValueError, IndexError) as e:
        raise RecipeError(f"the commit message template is not valid: {e}.") from None
    if not text.strip():
        raise RecipeError("the commit message template gives an empty message.")
    return text

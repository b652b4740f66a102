"""Metric deltas and the commit message a recipe writes, e.g.
`[lode] compute_metrics: roc_auc 0.861 → 0.874`. Pure functions.

The template is the user's; the values put into it (metric names and values, stage and
recipe names, the host) are data, and must not shape the message. Each value becomes one
line (control characters, newlines and other line breaks collapse to a space; blank is
`-`), so it cannot add a line, a paragraph or a comment line of its own. A single line can
still read as a Git trailer (`Signed-off-by: ...`) where the template puts it at the start
of a line below the subject: that message is refused, naming the line, rather than
committed with a trailer nobody wrote.
"""

from __future__ import annotations

import re
from typing import Any

from lode.ops.reports.table import compact
from lode.recipes import RecipeError


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


# C0 and C1 controls (newline, CR, tab, NUL, ESC ...), DEL, and Unicode's line and
# paragraph separators: what could end a line, or hide part of one, in a commit message
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# git's trailer line: a token of letters, digits and '-', then a separator (':')
_TRAILER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*\s*:")


def one_line(value: object) -> str:
    """`value` as one line of text: breaks and controls made single spaces."""
    return " ".join(_BREAKS.sub(" ", str(value)).split()) or "-"


def trailer_like(text: str) -> list[int]:
    """Indexes of the lines of `text` that git could read as trailers: `Token: value`
    lines after the subject's paragraph (git never reads the subject as trailers)."""
    lines = text.split("\n")
    title_end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    return [i for i, line in enumerate(lines) if i > title_end and _TRAILER.match(line)]


def render(template: str, fields: dict[str, str]) -> str:
    """`template` with `{recipe}`, `{metrics}`, `{stages}`, `{host}`, `{run_id}` filled in;
    an unknown field, or a value that would read as a trailer, is refused before anything
    is committed."""
    values = {k: one_line(v) for k, v in fields.items()}
    text = _format(template, values)
    # the same template with plain values: the same lines, since every value is one line
    plain = _format(template, dict.fromkeys(values, "x")).split("\n")
    lines = text.split("\n")
    forged = [i for i in trailer_like(text) if i >= len(plain) or not _TRAILER.match(plain[i])]
    if forged:
        raise RecipeError(f"the commit message would gain the trailer line "
                          f"'{lines[forged[0]][:80]}' from a value (a metric, stage or recipe "
                          "name); it is not committed.", "Put the fields of the 'message' "
                          "template after some text of its own on their lines.")
    return text


def _format(template: str, fields: dict[str, str]) -> str:
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

"""Flattening and diffing of metrics and params, value for value as DVC 3 computes them
(dvc/utils/diff.py), so `--json` output is interchangeable."""

from __future__ import annotations

import json
from typing import Any

UNPARSABLE = "unable to parse"


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    """Nested keys joined with dots; empty mappings vanish, as with DVC's flatten_dict."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def format_dict(d: dict) -> dict:
    """Lists become their Python text ('[1, 2]'): DVC compares and shows them as strings."""
    return {
        k: format_dict(v) if isinstance(v, dict) else str(v) if isinstance(v, list) else v
        for k, v in d.items()
    }


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float))  # bool too: DVC reports True - False = 1


def _parse(raw: Any) -> Any:
    if raw is None or isinstance(raw, (dict, list, int, float)):
        return raw
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw


def diff_values(old: Any, new: Any, with_unchanged: bool) -> dict[str, Any]:
    """`{"old", "new", "diff"}` for one value; `diff` only between two numbers; {} when
    equal, unless `with_unchanged`."""
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new) == 1:
        return diff_values(old[0], new[0], with_unchanged)
    if not with_unchanged and old == new:
        return {}
    res: dict[str, Any] = {"old": old, "new": new}
    if is_number(old) and is_number(new):
        res["diff"] = new - old
    return res


def _flat(d: Any) -> dict[str, Any]:
    if not d:
        return {}
    if isinstance(d, dict):
        return flatten(d)
    return {"": UNPARSABLE}


def diff_data(old_raw: Any, new_raw: Any, with_unchanged: bool) -> dict[str, dict]:
    """The changes between two files' data, by flattened key, keys sorted."""
    old, new = _parse(old_raw), _parse(new_raw)
    if isinstance(old, dict) or isinstance(new, dict):
        if not isinstance(old, dict) and old:
            old_flat: dict[str, Any] = {}
            unparsable_old = True
        else:
            old_flat, unparsable_old = _flat(old), False
        if not isinstance(new, dict) and new:
            new_flat: dict[str, Any] = {}
            unparsable_new = True
        else:
            new_flat, unparsable_new = _flat(new), False
        res = {}
        for key in sorted({*old_flat, *new_flat}):
            o = UNPARSABLE if unparsable_old else old_flat.get(key)
            n = UNPARSABLE if unparsable_new else new_flat.get(key)
            change = diff_values(o, n, with_unchanged)
            if change:
                res[key] = change
        return res
    change = diff_values(old, new, with_unchanged)
    return {"": change} if change else {}


def file_data(result: dict | None) -> Any:
    """A file's data for comparing: a file that failed to load counts as empty."""
    data = (result or {}).get("data", {})
    return format_dict(data) if isinstance(data, dict) else data


def diff(old: dict[str, dict], new: dict[str, dict], with_unchanged: bool = False
         ) -> dict[str, dict]:
    """`{path: {key: {"old", "new", "diff"}}}` between two `{path: {"data": ...}}` maps;
    paths sorted (DVC's order is a set's, i.e. arbitrary)."""
    res = {}
    for path in sorted({*old, *new}):
        changes = diff_data(file_data(old.get(path)), file_data(new.get(path)), with_unchanged)
        if changes:
            res[path] = changes
    return res


def relative_change(change: dict[str, Any]) -> float | None:
    """The change in percent of the old value; None when it is not a number or is 0."""
    old, delta = change.get("old"), change.get("diff")
    if not is_number(old) or not is_number(delta) or old == 0:
        return None
    return delta / abs(old) * 100

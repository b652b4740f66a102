"""`${...}` interpolation in dvc.yaml, as DVC 3 resolves it.

A value that is exactly one `${expr}` keeps the type of what it names (a list for
`foreach`, a number for a param); inside a longer string the value is rendered as text
(`true`/`false` for booleans; a dict in `cmd` becomes `--key value` arguments).
`\\${` escapes.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from lode.errors import LodeError

_EXPR = re.compile(r"(?<!\\)\$\{(?P<inner>.*?)\}")
_PART = re.compile(r"[^.\[\]]+")


class InterpolationError(LodeError):
    pass


def _select(context: dict, expr: str) -> Any:
    expr = expr.strip()
    # a[0].b -> a.0.b: DVC treats brackets and dots alike
    parts = expr.replace("[", ".").replace("]", "").split(".")
    if not expr or not all(_PART.fullmatch(p) for p in parts):
        raise InterpolationError(f"'${{{expr}}}' is not a valid expression.")
    value: Any = context
    for i, part in enumerate(parts):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            where = ".".join(parts[:i]) or "the variables"
            raise InterpolationError(f"'{'.'.join(parts[: i + 1])}' is not defined in {where}.")
    return value


def _flatten(d: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def to_str(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict):
        return _as_args(value)
    return str(value)


def _as_args(d: dict) -> str:
    """A dict in `cmd` as command-line arguments (DVC's default: store_true, nargs)."""
    words: list[str] = []
    for k, v in _flatten(d).items():
        if isinstance(v, bool):
            if v:
                words.append(f"--{k}")
        elif isinstance(v, str):
            words += [f"--{k}", shlex.quote(v)]
        elif isinstance(v, list):
            if any(isinstance(i, (list, dict)) for i in v):
                raise InterpolationError(f"cannot interpolate the nested list in '{k}'.")
            words.append(f"--{k}")
            words += [shlex.quote(i) if isinstance(i, str) else str(i) for i in v]
        else:
            words += [f"--{k}", str(v)]
    return " ".join(words)


def resolve_str(text: str, context: dict, key: str | None = None) -> Any:
    matches = list(_EXPR.finditer(text))
    if not matches:
        return text.replace("\\${", "${") if "\\${" in text else text
    if len(matches) == 1 and matches[0].group(0) == text:
        value = _select(context, matches[0]["inner"])
        if key != "cmd" or not isinstance(value, dict):
            return value
    out, pos = [], 0
    for m in matches:
        value = _select(context, m["inner"])
        if isinstance(value, (list, dict)) and not (key == "cmd" and isinstance(value, dict)):
            raise InterpolationError(
                f"cannot put the {type(value).__name__} '${{{m['inner']}}}' inside a string."
            )
        out.append(text[pos : m.start()] + to_str(value))
        pos = m.end()
    out.append(text[pos:])
    return "".join(out).replace("\\${", "${")


def resolve(value: Any, context: dict, key: str | None = None) -> Any:
    """`value` with every `${...}` inside it replaced (keys of mappings too)."""
    if isinstance(value, str):
        return resolve_str(value, context, key)
    if isinstance(value, list):
        return [resolve(v, context, key) for v in value]
    if isinstance(value, dict):
        return {
            (resolve_str(k, context) if isinstance(k, str) else k): resolve(
                v, context, key if key is not None else (k if isinstance(k, str) else None)
            )
            for k, v in value.items()
        }
    return value


def merge_vars(context: dict, new: dict, source: str) -> None:
    """Add `new` to `context`; DVC refuses to redefine a variable."""
    for k, v in new.items():
        if k in context and not (isinstance(context[k], dict) and isinstance(v, dict)):
            raise InterpolationError(f"variable '{k}' from {source} is already defined.")
        if k in context:
            merge_vars(context[k], v, source)
        else:
            context[k] = v

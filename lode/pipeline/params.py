"""Parameter files (YAML, JSON, TOML, Python) and dotted-key lookup, as DVC reads them."""

from __future__ import annotations

import ast
import json
import os
from typing import Any

from lode.errors import LodeError

DEFAULT_PARAMS = "params.yaml"
_MISSING = object()


class ParamsError(LodeError):
    pass


def _python(text: str, where: str) -> dict:
    """Literal assignments at module level and in class bodies (DVC's reading of .py params)."""
    try:
        tree = ast.parse(text)
    except SyntaxError as e:
        raise ParamsError(f"{where} is not valid Python (line {e.lineno}).") from None

    def literals(body: list) -> dict:
        out: dict = {}
        for node in body:
            if isinstance(node, ast.ClassDef):
                out[node.name] = literals(node.body)
                continue
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            else:
                continue
            try:
                lit = ast.literal_eval(value)
            except ValueError:
                continue
            for t in targets:
                if isinstance(t, ast.Name):
                    out[t.id] = lit
        return out

    return literals(tree.body)


def read_file(path: str) -> str | None:
    """The text of a workspace file; None when it does not exist. Readers of a Git
    revision pass their own function of the same shape."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def load(path: str, where: str, read=read_file) -> dict:
    """The file's parameters as a dict; ParamsError names a file that cannot be read."""
    try:
        text = read(path)
    except (OSError, UnicodeDecodeError) as e:
        raise ParamsError(f"cannot read parameters file '{where}': {e}.") from None
    if text is None:
        raise ParamsError(f"parameters file '{where}' does not exist.")
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".json":
            doc = json.loads(text)
        elif ext == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                import tomli as tomllib  # type: ignore[no-redef]
            doc = tomllib.loads(text)
        elif ext == ".py":
            doc = _python(text, where)
        else:
            from lode import yamlio

            doc = yamlio.loads(text)
    except ParamsError:
        raise
    except Exception as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "lineno", None)
        line = mark.line + 1 if hasattr(mark, "line") else mark
        at = f" at line {line}" if line else ""
        raise ParamsError(f"parameters file '{where}' is malformed{at}.") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ParamsError(f"parameters file '{where}' must hold a mapping at the top.")
    return doc


def lookup(doc: dict, key: str) -> Any:
    """`doc['a']['b']` for key `a.b` (a literal `a.b` key wins, as DVC's lookup does);
    _MISSING when absent."""
    if key in doc:
        return doc[key]
    value: Any = doc
    for part in key.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def is_missing(value: Any) -> bool:
    return value is _MISSING

"""Parameter files (YAML, JSON, TOML, Python) and dotted-key lookup, as DVC reads them."""

from __future__ import annotations

import ast
import json
import os
import stat
from typing import Any

from lode import yamlio
from lode.errors import LodeError

DEFAULT_PARAMS = "params.yaml"
_MISSING = object()


class ParamsError(LodeError):
    pass


_NOT_DATA = object()


def _as_data(value: Any) -> Any:
    """A Python literal as the data a params file holds (tuples become lists), or
    _NOT_DATA when some part of it has no YAML form in dvc.lock."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_as_data(v) for v in value]
        return _NOT_DATA if any(v is _NOT_DATA for v in items) else items
    if isinstance(value, dict):
        pairs = {k: _as_data(v) for k, v in value.items()}
        bad = any(v is _NOT_DATA or not isinstance(k, (str, int, float, bool))
                  for k, v in pairs.items())
        return _NOT_DATA if bad else pairs
    return _NOT_DATA


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
            except (ValueError, TypeError, SyntaxError, RecursionError):  # not a literal
                continue
            lit = _as_data(lit)
            if lit is _NOT_DATA:  # a set, bytes, 1j: nothing dvc.lock can record
                continue
            for t in targets:
                if isinstance(t, ast.Name):
                    out[t.id] = lit
        return out

    return literals(tree.body)


# dvc.yaml, params and vars files are text a person writes; 64 MiB is far past any.
MAX_BYTES = 64 << 20


def read_file(path: str) -> str | None:
    """The text of a workspace file; None when it does not exist. Readers of a Git
    revision pass their own function of the same shape."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a fifo must not block the open
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        # A path a dvc.yaml names (`vars: [/dev/zero]`, a fifo) must not read for ever
        if not stat.S_ISREG(st.st_mode):
            raise ParamsError(f"{os.path.relpath(path)} is not a regular file.")
        if st.st_size > MAX_BYTES:
            raise ParamsError(f"{os.path.relpath(path)} is larger than "
                              f"{MAX_BYTES >> 20} MiB; lode does not read it as parameters.")
        data = f.read(MAX_BYTES + 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:  # a sentence for every caller (dvc.yaml's too)
        line = data.count(b"\n", 0, e.start) + 1
        raise ParamsError(f"{os.path.relpath(path)} is not UTF-8 text (line {line}).") from None


def load(path: str, where: str, read=read_file) -> dict:
    """The file's parameters as a dict; ParamsError names a file that cannot be read."""
    what = f"parameters file '{where}'"
    try:
        text = read(path)
    except UnicodeDecodeError:  # a reader of history
        raise ParamsError(f"{what} is not UTF-8 text.") from None
    except OSError as e:
        raise ParamsError(f"cannot read {what}: {e.strerror or e}.") from None
    if text is None:
        raise ParamsError(f"{what} does not exist.")
    if "\x00" in text:  # no format reads one, and each says so differently
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ParamsError(f"{what} holds a NUL byte at line {line}.")
    ext = os.path.splitext(path)[1].lower()
    try:
        doc = parse_document(ext, text, what)
        if ext in (".json", ".toml", ".py"):  # YAML's reader checks as it reads
            yamlio.check_tree(doc, what)
    except ParamsError:
        raise
    except RecursionError:  # json's and tomllib's parsers recurse
        raise ParamsError(f"{what} nests more than {yamlio.MAX_DEPTH} levels deep.") from None
    except LodeError as e:  # yamlio's, naming the file
        raise ParamsError(e.message) from None
    except Exception as e:  # json's, tomllib's or ast's: a line where they give one
        line = getattr(e, "lineno", None)
        at = f" at line {line}" if line else ""
        why = getattr(e, "msg", None) or str(e).split(" (at line")[0]
        if "integer string conversion" in why:  # Python's guard against quadratic parsing
            why = "a number has more digits than Python reads (4300)"
        raise ParamsError(f"{what} is malformed{at}: {why}.") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ParamsError(f"{what} must hold a mapping at the top.")
    return doc


def parse_document(ext: str, text: str, what: str | None) -> Any:
    """The document in a JSON, TOML, Python or (any other extension) YAML file; the one
    parser of params and metrics files."""
    if ext == ".json":
        return json.loads(text)
    if ext == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        return tomllib.loads(text)
    if ext == ".py":
        return _python(text, what)
    return yamlio.loads(text, what)


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

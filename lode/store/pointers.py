"""`*.dvc` pointer files: the output records they hold (lode.store.outputs), their text kept
in DVC 3 key order (docs/formats.md)."""

from __future__ import annotations

import io
import os
import re
from typing import Any

from lode import yamlio
from lode.atomic import write_text_atomic
from lode.errors import PointerError
from lode.paths import confine
from lode.store.outputs import Output

POINTER_SUFFIX = ".dvc"
_TOP_ORDER = ("desc", "md5", "cmd", "wdir", "frozen", "deps", "outs", "always_changed", "meta")


class Pointer:
    """A parsed `.dvc` file: its outputs plus any other top-level keys, kept in order."""

    def __init__(
        self,
        path: str,
        outs: list[Output],
        other: dict[str, Any] | None = None,
        text: str | None = None,
    ) -> None:
        self.path = path  # the .dvc file, absolute
        self.outs = outs
        self.other = other or {}
        self.text = text  # as read from disk, so an update can keep the user's layout

    @property
    def wdir(self) -> str:
        return os.path.join(os.path.dirname(self.path), self.other.get("wdir") or ".")

    def out_abspath(self, out: Output) -> str:
        return os.path.normpath(os.path.join(self.wdir, out.path))

    def to_text(self) -> str:
        """The file's new text. A fresh pointer is written in DVC's canonical order; an
        existing one is updated the way DVC updates it (round trip: comments, key order
        and unknown keys stay, new keys go last), so switching tools does not churn Git."""
        doc = self._canonical_doc()
        if self.text is None:
            return yamlio.dumps(doc)
        old = _fast_parse(self.text)
        if old is not None and yamlio.dumps(old) == self.text and _layout(old) == _layout(doc):
            return yamlio.dumps(doc)
        return _round_trip_update(self.text, doc)

    def _canonical_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        for key in _TOP_ORDER:
            if key == "outs":
                doc["outs"] = [o.to_pointer_dict() for o in self.outs]
            elif self.other.get(key):
                doc[key] = self.other[key]
        for key, value in self.other.items():
            if key not in doc and key not in _TOP_ORDER:
                doc[key] = value
        return doc


def _layout(doc: dict) -> list:
    return [list(doc)] + [list(o) for o in doc.get("outs", [])]


def _round_trip_update(text: str, doc: dict) -> str:
    from ruamel.yaml import YAML

    y = YAML()
    y.default_flow_style = False
    old = y.load(text)
    if not isinstance(old, dict) or not isinstance(old.get("outs"), list):
        return yamlio.dumps(doc)
    by_path = {o.get("path"): o for o in old["outs"] if isinstance(o, dict)}
    for new in doc["outs"]:
        entry = by_path.get(new["path"])
        if entry is None:
            old["outs"].append(new)
            continue
        for key, value in new.items():
            if entry.get(key) != value:
                entry[key] = value
        for key in [k for k in entry if k not in new]:
            del entry[key]
    buf = io.StringIO()
    y.dump(old, buf)
    return buf.getvalue()


_FAST_KEYS = {"md5", "size", "nfiles", "isexec", "hash", "path"}
_FAST_VALUE = {
    "md5": re.compile(r"(?=[0-9]*[a-f])(?![0-9]+e[0-9]+(?:\.dir)?$)[0-9a-f]{32}(?:\.dir)?"),
    "size": re.compile(r"[0-9]+"),
    "nfiles": re.compile(r"[0-9]+"),
    "isexec": re.compile(r"true|false"),
    "hash": re.compile(r"md5"),
}


def _fast_parse(text: str) -> dict | None:
    """The exact shape `dvc add` and `lode add` write, read without importing a YAML
    parser (start-up is measured); None for anything else, which then goes to YAML."""
    lines = text.split("\n")
    if lines[0] != "outs:" or lines[-1] != "":
        return None
    outs: list[dict] = []
    for line in lines[1:-1]:
        if line.startswith("- "):
            outs.append({})
        elif not line.startswith("  ") or not outs:
            return None
        key, sep, value = line[2:].partition(": ")
        if not sep or key not in _FAST_KEYS or key in outs[-1]:
            return None
        rx = _FAST_VALUE.get(key)
        if rx is None:
            if yamlio.plain_scalar(value) != value:
                return None
        elif not rx.fullmatch(value):
            return None
        outs[-1][key] = int(value) if key in ("size", "nfiles") else value
        if key == "isexec":
            outs[-1][key] = value == "true"
    return {"outs": outs} if outs else None


def load(path: str, root: str) -> Pointer:
    """The pointer at absolute `path` in the repository at `root`, checked whole: every
    output inside the repository (outside .git and .dvc), none twice."""
    where = os.path.relpath(path, root)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise PointerError(f"cannot read {where}: {e.strerror}.") from e
    except UnicodeDecodeError as e:
        raise PointerError(f"{where} is not UTF-8 text.") from e
    doc = _fast_parse(text)
    if doc is None:
        try:
            doc = yamlio.loads(text, where)
        except yamlio.YamlError as e:
            raise PointerError(e.message) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("outs"), list) or not doc["outs"]:
        raise PointerError(f"{where} is malformed: it needs a non-empty 'outs' list.")
    outs = [Output.from_dict(d, where) for d in doc["outs"]]
    other = {k: v for k, v in doc.items() if k != "outs"}
    wdir = other.get("wdir")
    if wdir is not None and (not isinstance(wdir, str) or "\x00" in wdir):
        raise PointerError(f"{where}: 'wdir' must be a path.")
    pointer = Pointer(path, outs, other, text)
    seen: set[str] = set()
    base = pointer.wdir
    for out in outs:
        abspath = confine(root, base, out.path, where, "output path")
        if abspath in seen:
            raise PointerError(f"{where}: '{out.path}' is listed twice.")
        seen.add(abspath)
    return pointer


def save(pointer: Pointer) -> bool:
    """Write the pointer atomically; return False (and touch nothing) when the bytes are equal."""
    text = pointer.to_text()
    if text == pointer.text:
        return False
    write_text_atomic(pointer.path, text)
    pointer.text = text
    return True

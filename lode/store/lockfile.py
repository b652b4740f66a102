"""`dvc.lock` (schema 2.0): read it, and rewrite one stage's entry at a time, atomically.

Each stage's block of text is kept as read and only the entry that changed is re-emitted
(the way DVC's ruamel round trip leaves the others alone), so a rerun that changed
nothing rewrites nothing, and 50 stages cost one small write each, not 50 full dumps.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from lode import yamlio
from lode.atomic import write_text_atomic
from lode.errors import MalformedError
from lode.store.hashinfo import check_md5
from lode.store.outputs import Output

SCHEMA = "2.0"
HEADER = "schema: '2.0'\nstages:\n"
_BLOCK_START = re.compile(r"^  \S", re.M)


class LockfileError(MalformedError):
    pass


def check_entry(name: str, entry: Any, where: str) -> dict:
    """A stage's entry as read: a mapping whose deps and outs are records with a path
    string (no NUL) and, where they have one, a valid md5. A lock file comes from a
    teammate's commit or a merge: anything else is refused whole, never used in part
    (an entry nobody can read must not make gc or checkout think its data unused)."""
    here = f"{where}: stage '{name}'"
    if not isinstance(entry, dict):
        raise LockfileError(f"{here} must be a mapping.")
    for kind in ("deps", "outs"):
        items = entry.get(kind)
        if items is None:
            continue
        if not isinstance(items, list):
            raise LockfileError(f"{here}: '{kind}' must be a list.")
        for rec in items:
            if not isinstance(rec, dict) or not isinstance(rec.get("path"), str) \
                    or not rec["path"] or "\x00" in rec["path"]:
                raise LockfileError(f"{here}: every entry of '{kind}' needs a path.")
            if "md5" in rec:
                check_md5(rec["md5"], f"{here}: '{rec['path'][:80]}'")
    params = entry.get("params")
    if params is not None and not (isinstance(params, dict)
                                   and all(isinstance(v, dict) for v in params.values())):
        raise LockfileError(f"{here}: 'params' must map files to their values.")
    return entry


def item(path: str, md5: str, size: int | None, nfiles: int | None, isexec: bool) -> dict:
    """One dep or out record, keys in DVC's order (Output.to_lock_dict)."""
    return Output(path, md5, size, nfiles, isexec).to_lock_dict()


def entry(cmd: Any, deps: list[dict], params: dict[str, dict], outs: list[dict]) -> dict:
    """A stage's lock entry: cmd, deps, params, outs; deps and outs sorted by path;
    `params.yaml` first, then the other files sorted, keys sorted in each."""
    e: dict[str, Any] = {"cmd": cmd}
    if deps:
        e["deps"] = sorted(deps, key=lambda d: d["path"])
    if params:
        files = sorted(params, key=lambda f: (f != "params.yaml", f))
        e["params"] = {f: {k: params[f][k] for k in sorted(params[f])} for f in files}
    if outs:
        e["outs"] = sorted(outs, key=lambda d: d["path"])
    return e


class Lockfile:
    """The parsed entries of one dvc.lock plus the text of each stage's block."""

    def __init__(self, path: str, where: str, order: list[str] | None = None) -> None:
        """`order`: the stage names in pipeline order, where new entries go (so that
        stages finishing in any order under -j still write the same file)."""
        self.path, self.where = path, where
        self._rank = {name: i for i, name in enumerate(order or [])}
        self.entries: dict[str, dict] = {}
        self._blocks: dict[str, str] = {}
        self._mutex = threading.Lock()
        self._load()
        self._loaded = [n for n in self.entries]  # these keep their places

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as e:
            raise LockfileError(f"cannot read {self.where}: {e}.") from None
        try:
            doc = yamlio.loads(text, self.where)
        except yamlio.YamlError as e:
            raise LockfileError(e.message, "Fix it, or delete it and rerun 'lode repro'."
                                ) from None
        if doc is None:
            return
        if not isinstance(doc, dict) or str(doc.get("schema")) != SCHEMA:
            raise LockfileError(
                f"{self.where} is not a DVC 3 lock file (schema '2.0').",
                "Delete it and rerun 'lode repro' to write a new one.",
            )
        stages = doc.get("stages") or {}
        if not isinstance(stages, dict):
            raise LockfileError(f"{self.where}: 'stages' must be a mapping.")
        self.entries = {str(k): check_entry(str(k), v, self.where) for k, v in stages.items()}
        # Keep each block's text when the file is laid out as DVC lays it out.
        if text.startswith(HEADER):
            body = text[len(HEADER) :]
            starts = [m.start() for m in _BLOCK_START.finditer(body)]
            if len(starts) == len(stages) and (not starts or starts[0] == 0):
                bounds = starts + [len(body)]
                self._blocks = {
                    str(name): body[a:b]
                    for name, a, b in zip(stages, bounds, bounds[1:], strict=False)
                }

    def get(self, name: str) -> dict | None:
        return self.entries.get(name)

    def update(self, name: str, new: dict) -> bool:
        """Set one stage's entry (in place, or appended) and rewrite the file atomically;
        False, and nothing written, when the entry is unchanged."""
        with self._mutex:
            if self.entries.get(name) == new and name in self._blocks:
                return False
            self.entries[name] = new
            self._blocks[name] = yamlio.dump_block({name: new}, indent=2)
            for other, e in self.entries.items():
                if other not in self._blocks:
                    self._blocks[other] = yamlio.dump_block({other: e}, indent=2)
            if name not in self._loaded:
                new = sorted((n for n in self.entries if n not in self._loaded),
                             key=lambda n: self._rank.get(n, len(self._rank)))
                self.entries = {n: self.entries[n] for n in [*self._loaded, *new]}
            write_text_atomic(self.path, HEADER + "".join(self._blocks[n] for n in self.entries))
            return True

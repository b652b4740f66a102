"""What one file references, read for `lode gc`: pure functions, text in, (md5, legacy)
records out. A file that cannot be read whole (conflict markers after a merge, malformed
YAML, a bad md5) is a MalformedError naming it and the line, never a partial answer: what
it would have kept is unknown, so nothing may be deleted."""

from __future__ import annotations

import re
from typing import Any

from lode import yamlio
from lode.errors import MalformedError
from lode.store.hashinfo import check_md5
from lode.store.outputs import Output
from lode.store.pointers import POINTER_SUFFIX

LOCKFILE = "dvc.lock"
DVCFILE = "dvc.yaml"
# What `git merge` leaves in a file it could not merge (the `|||||||` line with diff3).
_CONFLICT = re.compile(r"^(?:<{7}|>{7}|\|{7})(?: |$)|^={7}$", re.M)


def _load(text: str, where: str) -> Any:
    """The YAML document of `text`; MalformedError naming `where` and the line."""
    m = _CONFLICT.search(text)
    if m:
        line = text.count("\n", 0, m.start()) + 1
        raise MalformedError(f"{where} holds Git conflict markers (line {line}).")
    try:
        return yamlio.loads(text, where)  # YamlError names the file, the line and why
    except MalformedError:
        raise
    except Exception:  # noqa: BLE001 - whatever else a parser may raise is doubt too
        raise MalformedError(f"{where} is not valid YAML.") from None


def _out_records(items: Any, where: str, what: str) -> list[tuple[str, bool]]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise MalformedError(f"{where}: '{what}' must be a list.")
    found = []
    for d in items:
        out = Output.from_dict(d, where)  # a path, a valid md5 if any: else PointerError
        if out.md5 is not None:
            check_md5(out.md5, f"{where}: output '{out.path[:80]}'")
            found.append((out.md5, out.legacy))
    return found


def pointer_refs(text: str, where: str) -> list[tuple[str, bool]]:
    """(md5, legacy) of every output a `.dvc` file records."""
    doc = _load(text, where)
    if not isinstance(doc, dict) or not isinstance(doc.get("outs"), list):
        raise MalformedError(f"{where} is not a .dvc file: it needs an 'outs' list.")
    return _out_records(doc["outs"], where, "outs")


def lock_refs(text: str, where: str) -> list[tuple[str, bool]]:
    """(md5, legacy) of every output a `dvc.lock` records: schema 2.0, or DVC 1's format
    (stages at the top), which old commits still hold."""
    doc = _load(text, where)
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise MalformedError(f"{where} is not a lock file: it must be a mapping.")
    if "schema" in doc:
        if str(doc["schema"]) != "2.0":
            raise MalformedError(f"{where} has schema {str(doc['schema'])[:20]!r}, which "
                                 "lode does not know (DVC 3 writes '2.0').")
        stages = doc.get("stages")
        if stages is None:
            return []
        if not isinstance(stages, dict):
            raise MalformedError(f"{where}: 'stages' must be a mapping.")
    else:
        stages = doc
    found = []
    for name, entry in stages.items():
        here = f"{where}: stage '{str(name)[:80]}'"
        if not isinstance(entry, dict):
            raise MalformedError(f"{here} must be a mapping.")
        found += _out_records(entry.get("outs"), here, "outs")
        deps = entry.get("deps")
        if deps is not None and not isinstance(deps, list):
            raise MalformedError(f"{here}: 'deps' must be a list.")
        for dep in deps or []:
            if not isinstance(dep, dict):
                raise MalformedError(f"{here}: every entry of 'deps' must be a mapping.")
            if "md5" in dep:
                check_md5(dep["md5"], f"{here}: dependency '{str(dep.get('path'))[:80]}'")
    return found


def check_dvcyaml(text: str, where: str) -> None:
    """A dvc.yaml names the stages whose outputs its lock records: one that cannot be read
    leaves in doubt what the pipeline still uses."""
    doc = _load(text, where)
    if doc is not None and not isinstance(doc, dict):
        raise MalformedError(f"{where} is not a pipeline: it must be a mapping.")
    stages = (doc or {}).get("stages")
    if stages is not None and not isinstance(stages, dict):
        raise MalformedError(f"{where}: 'stages' must be a mapping.")


def run_entry_refs(text: str, where: str) -> list[tuple[str, bool]]:
    """(md5, legacy) of the outputs one run-cache entry records."""
    doc = _load(text, where)
    if not isinstance(doc, dict) or not isinstance(doc.get("outs"), list):
        raise MalformedError(f"{where} is not a run-cache entry: it needs an 'outs' list.")
    return _out_records(doc["outs"], where, "outs")


def file_refs(name: str, text: str, where: str) -> list[tuple[str, bool]]:
    """What the file called `name` references; [] for a file that references nothing."""
    if name == LOCKFILE:
        return lock_refs(text, where)
    if name == DVCFILE:
        check_dvcyaml(text, where)
        return []
    if is_pointer_name(name):
        return pointer_refs(text, where)
    return []


def is_pointer_name(name: str) -> bool:
    return name.endswith(POINTER_SUFFIX) and name != POINTER_SUFFIX


def may_reference(name: str) -> bool:
    return name in (LOCKFILE, DVCFILE) or is_pointer_name(name)

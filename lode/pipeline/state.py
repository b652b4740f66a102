"""How a stage stands against its dvc.lock entry: DVC's status shape, and the records a
run writes. Everything is read through the stat cache, so an unchanged pipeline costs
one stat per file."""

from __future__ import annotations

import os
from typing import Any

from lode.errors import TargetError
from lode.pipeline import params as params_mod
from lode.pipeline.stage import Stage
from lode.store.outputs import Output, build, out_state

_params_docs: dict[tuple, dict] = {}


def _params_doc(path: str, where: str) -> dict | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    key = (path, st.st_ino, st.st_size, st.st_mtime_ns)
    doc = _params_docs.get(key)
    if doc is None:
        doc = _params_docs[key] = params_mod.load(path, where)
    return doc


def params_values(stage: Stage) -> tuple[dict[str, dict], dict[str, list[str] | None]]:
    """({file: {key: value}}, {file: missing keys, or None when the file is missing})."""
    values: dict[str, dict] = {}
    missing: dict[str, list[str] | None] = {}
    for spec in stage.params:
        doc = _params_doc(stage.abspath(spec.path), spec.path)
        if doc is None:
            missing[spec.path] = None
            continue
        if spec.keys is None:
            values[spec.path] = dict(doc)
            continue
        got = values.setdefault(spec.path, {})
        for key in spec.keys:
            v = params_mod.lookup(doc, key)
            if params_mod.is_missing(v):
                missing.setdefault(spec.path, []).append(key)  # type: ignore[union-attr]
            else:
                got[key] = v
    return values, missing


def dep_item(repo, stage: Stage, path: str) -> dict | None:
    """The lock record of a dependency as it is now; None when it does not exist."""
    try:
        built = build(repo, stage.abspath(path))
    except TargetError:
        return None
    return Output(path, built.md5, built.size, built.nfiles, built.isexec).to_lock_dict()


def _by_path(items: Any) -> dict[str, dict]:
    if not isinstance(items, list):
        return {}
    return {i["path"]: i for i in items if isinstance(i, dict) and "path" in i}


def _params_status(stage: Stage, recorded: Any, cwd: str) -> dict[str, Any]:
    values, missing = params_values(stage)
    recorded = recorded if isinstance(recorded, dict) else {}
    out: dict[str, Any] = {}
    for spec in stage.params:
        file = spec.path
        shown = os.path.relpath(stage.abspath(file), cwd)
        if missing.get(file, []) is None:
            out[shown] = "deleted"
            continue
        old = recorded.get(file)
        if not isinstance(old, dict):
            out[shown] = "new"
            continue
        now = values.get(file, {})
        keys = spec.keys if spec.keys is not None else list(dict.fromkeys([*old, *now]))
        changes: dict[str, str] = {}
        for key in keys:
            if key not in now:
                changes[key] = "deleted"
            elif key not in old:
                changes[key] = "new"
            elif old[key] != now[key]:
                changes[key] = "modified"
        if changes:
            out[shown] = changes
    return out


def out_record(spec, record: dict | None, where: str) -> Output:
    out = Output.from_dict(record, where) if record else Output(spec.path)
    if not spec.cache:
        out.extra["cache"] = False
    return out


def stage_status(repo, stage: Stage, entry: dict | None, cwd: str | None = None) -> list:
    """DVC's status list for a stage: {"changed deps": {...}}, {"changed outs": {...}},
    "changed command", "always changed"; empty when up to date."""
    cwd = cwd or os.getcwd()
    entry = entry or {}
    report: list = []
    if not stage.frozen:
        deps: dict[str, Any] = {}
        recorded = _by_path(entry.get("deps"))
        for path in stage.deps:
            now, old = dep_item(repo, stage, path), recorded.get(path)
            # DVC calls an existing dependency without a record "modified", not "new"
            state = (
                "deleted" if now is None
                else "modified" if old is None or now["md5"] != old.get("md5") else None
            )
            if state:
                deps[os.path.relpath(stage.abspath(path), cwd)] = state
        deps.update(_params_status(stage, entry.get("params"), cwd))
        if deps:
            report.append({"changed deps": deps})
    outs: dict[str, str] = {}
    recorded = _by_path(entry.get("outs"))
    for spec in stage.outs:
        record = recorded.get(spec.path)
        path = stage.abspath(spec.path)
        if record is None:
            state = "modified" if os.path.lexists(path) else "deleted"
        else:
            state = out_state(repo, path, out_record(spec, record, stage.address()))
        if state:
            outs[os.path.relpath(path, cwd)] = state
    if outs:
        report.append({"changed outs": outs})
    if entry and entry.get("cmd") != stage.cmd:
        report.append("changed command")
    if stage.always_changed:
        report.append("always changed")
    return report


def is_up_to_date(repo, stage: Stage, entry: dict | None) -> bool:
    return entry is not None and not stage_status(repo, stage, entry)

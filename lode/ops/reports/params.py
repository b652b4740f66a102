"""`params diff`: the parameters a repository's pipelines use, at two revisions, in DVC
3's JSON shape.

Which parameters, as DVC collects them: the keys each stage lists under `params` (a
whole file when it lists none), every file in a dvc.yaml's top-level `params`, all of
the root `params.yaml`, and the variables (`vars`, a dvc.yaml's own params.yaml) that
stages interpolate with `${...}`. With `deps_only`, the root params.yaml and top-level
files only count for the keys stages list.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

from lode.ops.reports import Report, diff_revisions, error_record
from lode.pipeline import params as params_mod
from lode.pipeline.revisions import WORKSPACE, Tree

_EXPR = re.compile(r"(?<!\\)\$\{(?P<inner>.*?)\}")
_WHOLE_ONE = re.compile(r"\s*\$\{(?P<inner>[^}]*)\}\s*")


# -- which files and keys -------------------------------------------------------------
def merge(entries: list[tuple[str, list[str] | None]]) -> dict[str, list[str]]:
    """`{file: keys}`, `[]` meaning the whole file: a file any entry takes whole is
    whole (DVC's `_merge_params`)."""
    whole = {path for path, keys in entries if not keys}
    merged: dict[str, list[str]] = {}
    for path, keys in entries:
        have = merged.setdefault(path, [])
        if path in whole:
            have.clear()
            continue
        have.extend(k for k in keys or [] if k not in have)
    return merged


def collect(tree: Tree, deps_only: bool = False) -> dict[str, list[str]]:
    """The parameter files of a tree (absolute paths) and the keys used from each."""
    entries: list[tuple[str, list[str] | None]] = [
        (s.abspath(p.path), p.keys) for _, stages, _ in tree.pipelines
        for s in stages for p in s.params
    ]
    if not deps_only:
        for path, _, doc in tree.pipelines:
            base = os.path.dirname(path)
            entries.extend((os.path.normpath(os.path.join(base, f)), None)
                           for f in doc.get("params") or [] if isinstance(f, str))
        default = os.path.join(tree.root, params_mod.DEFAULT_PARAMS)
        if tree.read_bytes(default) is not None:
            entries.append((default, None))
    return merge(entries)


# -- reading --------------------------------------------------------------------------
def _set(doc: dict, key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[last] = value


def select(doc: dict, keys: list[str]) -> dict:
    """The listed dotted keys of a document, nested as in the file; absent keys skipped."""
    if not keys:
        return doc
    out: dict = {}
    for key in keys:
        value = params_mod.lookup(doc, key)
        if not params_mod.is_missing(value):
            _set(out, key, value)
    return out


def read_params(tree: Tree, path: str, keys: list[str], where: str) -> dict:
    """`{"data": ...}` or `{"error": {...}}` for one parameters file of a tree."""
    try:
        text = tree.read(path)
    except UnicodeDecodeError:
        return error_record(f"parameters file '{where}' is not UTF-8 text.", "ParamsError")
    if text is None:
        return error_record(f"parameters file '{where}' does not exist.", "FileNotFoundError")
    try:
        doc = params_mod.load(path, where, read=lambda _: text)
    except params_mod.ParamsError as e:
        return error_record(e)
    return {"data": select(doc, keys)}


# -- variables stages interpolate -----------------------------------------------------
def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _parts(expr: str) -> list[str]:
    return expr.strip().replace("[", ".").replace("]", "").split(".")


def _walk(doc: Any, parts: list[str]) -> tuple[bool, Any]:
    for part in parts:
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return False, None
    return True, doc


Source = tuple[str | None, dict]  # (file, variables); None for inline vars


def _sources(tree: Tree, base: str, vars_: Any, default: bool) -> list[Source]:
    found: list[Source] = []
    if default:
        path = os.path.join(base, params_mod.DEFAULT_PARAMS)
        if tree.read_bytes(path) is not None:
            found.append((path, params_mod.load(path, path, read=tree.read)))
    for item in vars_ if isinstance(vars_, list) else []:
        if isinstance(item, dict):
            found.append((None, item))
        elif isinstance(item, str):
            file, _, keys = item.partition(":")
            path = os.path.normpath(os.path.join(base, file))
            if default and file == params_mod.DEFAULT_PARAMS and not keys:
                continue
            doc = params_mod.load(path, file, read=tree.read)
            found.append((path, select(doc, keys.split(",")) if keys else doc))
    return found


def _resolve(parts: list[str], sources: list[Source]) -> tuple[str | None, Any] | None:
    for file, doc in sources:
        ok, value = _walk(doc, parts)
        if ok:
            return file, value
    return None


def _stage_vars(body: dict, sources: list[Source], tracked: dict[str, dict]) -> None:
    """Record `{file: {dotted key: value}}` for each `${...}` of one stage that names a
    scalar in a file; `${item...}` of a `foreach` over a file's list or mapping count
    as that entry of it (DVC tracks `models.0` for `foreach: ${models}`)."""
    loop: tuple[str, list[str], Any] | None = None
    if "foreach" in body:
        m = _WHOLE_ONE.fullmatch(body["foreach"]) if isinstance(body["foreach"], str) else None
        found = _resolve(_parts(m["inner"]), sources) if m else None
        if found and found[0] is not None:
            loop = (found[0], _parts(m["inner"]), found[1])  # type: ignore[index]
        body = body.get("do") if isinstance(body.get("do"), dict) else {}
    for text in _strings({k: v for k, v in body.items() if k not in ("vars", "matrix")}):
        for m in _EXPR.finditer(text):
            parts = _parts(m["inner"])
            if parts[0] in ("item", "key"):
                if parts[0] == "item" and loop is not None:
                    file, prefix, seq = loop
                    keys = range(len(seq)) if isinstance(seq, list) else seq
                    for k in keys if isinstance(seq, (list, dict)) else []:
                        ok, value = _walk(seq, [str(k), *parts[1:]])
                        if ok and not isinstance(value, (dict, list)):
                            tracked.setdefault(file, {})[".".join([*prefix, str(k),
                                                                   *parts[1:]])] = value
                continue
            found = _resolve(parts, sources)
            if found and found[0] is not None and not isinstance(found[1], (dict, list)):
                tracked.setdefault(found[0], {})[".".join(parts)] = found[1]


def tracked_vars(tree: Tree) -> dict[str, dict]:
    """`{file: {key: value}}` of the variables the tree's stages interpolate."""
    tracked: dict[str, dict] = {}
    for path, _, doc in tree.pipelines:
        base = os.path.dirname(path)
        common = _sources(tree, base, doc.get("vars"), default=True)
        for body in (doc.get("stages") or {}).values():
            if not isinstance(body, dict):
                continue
            inner = body.get("do") if "foreach" in body else body
            own = inner.get("vars") if isinstance(inner, dict) else None
            sources = common + _sources(tree, base, own, default=False) if own else common
            _stage_vars(body, sources, tracked)
    return tracked


# -- the report -----------------------------------------------------------------------
def gather(tree: Tree, targets: list[str] | None, deps_only: bool, cwd: str
           ) -> dict[str, dict]:
    """`{path relative to cwd: {"data"|"error": ...}}`; `targets` (absolute paths) are
    read whole instead of what the pipelines use."""
    files = merge([(t, None) for t in targets]) if targets else collect(tree, deps_only)
    result: dict[str, dict] = {}
    for path, keys in files.items():
        for file in tree.files_under(path) if tree.isdir(path) else [path]:
            where = os.path.relpath(file, cwd)
            result[where] = read_params(tree, file, keys, where)
    if not targets:
        for path, values in tracked_vars(tree).items():
            if path not in files:
                result[os.path.relpath(path, cwd)] = {"data": values}
    return result


def diff(repo, a_rev: str = "HEAD", b_rev: str = WORKSPACE, targets: list[str] | None = None,
         all: bool = False, deps_only: bool = False,  # noqa: A002 - DVC's name
         cwd: str | None = None) -> Report:
    """DVC's `params diff --json`: `{file: {key: {"old", "new"[, "diff"]}}}`; only changed
    keys unless `all`; {} in a repository without commits, as DVC."""
    cwd = cwd or os.getcwd()
    paths = [repo.resolve(t, cwd) for t in targets] if targets else None
    return diff_revisions(repo, a_rev, b_rev, "params",
                          lambda t: gather(t, paths, deps_only, cwd), all)

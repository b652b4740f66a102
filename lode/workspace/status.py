"""`lode status`: how the workspace differs from the pointers, in DVC's JSON shape."""

from __future__ import annotations

import os

from lode.build import build
from lode.errors import TargetError
from lode.tree import parse_manifest
from lode.workspace.targets import select


def status(repo, targets: list[str] | None) -> dict[str, list]:
    """{pointer: [{"changed outs": {path: "modified"|"deleted"|"not in cache"|"new"}}]}."""
    report: dict[str, list] = {}
    for pointer in select(repo, targets):
        changed: dict[str, str] = {}
        for out in pointer.outs:
            state = out_state(repo, pointer.out_abspath(out), out)
            if state:
                changed[out.path] = state
        if changed:
            report[repo.rel(pointer.path)] = [{"changed outs": changed}]
    return report


def out_state(repo, path: str, out) -> str | None:
    if not os.path.lexists(path):
        return "deleted"
    if not out.md5:
        return "new"
    try:
        built = build(repo, path)
    except TargetError:
        return "modified"
    if built.md5 != out.md5:
        return "modified"
    if out.cached and not _in_cache(repo, out.md5):
        return "not in cache"
    return None


def _in_cache(repo, md5: str) -> bool:
    if not repo.odb.exists(md5):
        return False
    if not md5.endswith(".dir"):
        return True
    try:
        entries = parse_manifest(repo.odb.read_verified(md5))
    except Exception:
        return False
    exists = os.path.exists
    path = repo.odb.path
    return all(exists(path(m)) for _, m in entries)

"""`lode status`: how the workspace differs from the pointers, in DVC's JSON shape."""

from __future__ import annotations

import os

from lode.errors import TargetError
from lode.workspace.targets import select


def status(repo, targets: list[str] | None) -> dict[str, list] | None:
    """{pointer: [{"changed outs": {path: state}}]} with paths relative to the current
    directory, as DVC prints them; None when nothing at all is tracked."""
    report: dict[str, list] = {}
    selected = select(repo, targets)
    if not selected:
        return None
    for pointer in selected:
        changed: dict[str, str] = {}
        for out in pointer.outs:
            path = pointer.out_abspath(out)
            state = out_state(repo, path, out)
            if state:
                changed[os.path.relpath(path)] = state
        if changed:
            report[os.path.relpath(pointer.path)] = [{"changed outs": changed}]
    return report


def out_state(repo, path: str, out) -> str | None:
    """DVC's precedence: a recorded object missing from the cache hides every other state."""
    if out.md5 and out.cached and not _in_cache(repo, out.md5, out.legacy):
        return "not in cache"
    if not os.path.lexists(path):
        return "deleted"
    if not out.md5:
        return "new"
    from lode.build import build

    try:
        built = build(repo, path)
    except TargetError:
        return "modified"
    if built.md5 != out.md5 and out.legacy and not out.is_dir:
        from lode.hashing import md5_dos2unix_file

        return None if md5_dos2unix_file(path) == out.md5 else "modified"
    return "modified" if built.md5 != out.md5 else None


def _in_cache(repo, md5: str, legacy: bool) -> bool:
    if md5.endswith(".dir"):
        return repo.odb.dir_complete(md5, legacy)
    return repo.odb.exists(md5, legacy)

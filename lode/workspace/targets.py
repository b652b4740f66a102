"""Find the `.dvc` pointers a command acts on: all of them, or those the user named."""

from __future__ import annotations

import os

from lode import pointers
from lode.errors import TargetError
from lode.pointers import POINTER_SUFFIX, Pointer

_SKIP_DIRS = {".git", ".dvc"}


def all_pointers(repo) -> list[Pointer]:
    """Every `.dvc` file in the workspace. Directories that are tracked outputs are not
    entered (they cannot hold pointers), so a 20,000-file dataset costs nothing here."""
    found: list[Pointer] = []
    stack = [repo.root]
    while stack:
        d = stack.pop()
        ignored = repo.ignore.matcher(d)
        subdirs, here = [], []
        try:
            with os.scandir(d) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        if e.name not in _SKIP_DIRS and not (ignored and ignored(e.name, True)):
                            subdirs.append(e.path)
                    elif e.name.endswith(POINTER_SUFFIX) and e.is_file():
                        if not (ignored and ignored(e.name, False)):
                            here.append(e.path)
        except PermissionError:
            continue
        outs: set[str] = set()
        for path in sorted(here):
            p = pointers.load(path, repo.rel(path))
            found.append(p)
            outs.update(p.out_abspath(o) for o in p.outs)
        stack.extend(s for s in subdirs if s not in outs)
    found.sort(key=lambda p: p.path)
    return found


def pointer_for(repo, target: str) -> Pointer:
    """The pointer a target names: `x.dvc` itself, or the data path `x` tracked by `x.dvc`."""
    path = repo.resolve(target)
    if path.endswith(POINTER_SUFFIX) and os.path.isfile(path):
        return pointers.load(path, repo.rel(path))
    candidate = path + POINTER_SUFFIX
    if os.path.isfile(candidate):
        return pointers.load(candidate, repo.rel(candidate))
    for p in all_pointers(repo):
        if any(p.out_abspath(o) == path for o in p.outs):
            return p
    raise TargetError(f"'{target}' is not tracked by any .dvc file.", "Track it with 'lode add'.")


def select(repo, targets: list[str] | None) -> list[Pointer]:
    if not targets:
        return all_pointers(repo)
    seen: dict[str, Pointer] = {}
    for t in targets:
        p = pointer_for(repo, t)
        seen.setdefault(p.path, p)
    return list(seen.values())


def enclosing_output(repo, path: str) -> str | None:
    """The tracked output that `path` lies inside, judged by `X.dvc` files beside its
    ancestors (the way `dvc add` names them)."""
    d = os.path.dirname(path)
    while len(d) > len(repo.root):
        if os.path.isfile(d + POINTER_SUFFIX):
            return d
        d = os.path.dirname(d)
    return None

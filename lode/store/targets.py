"""Find the `.dvc` pointers a command acts on: all of them, or those the user named."""

from __future__ import annotations

import os

from lode.errors import TargetError
from lode.store import pointers
from lode.store.pointers import POINTER_SUFFIX, Pointer

_SKIP_DIRS = {".git", ".dvc"}


def all_pointers(repo) -> list[Pointer]:
    return scan(repo)


def scan(repo, on_dvcfile=None) -> list[Pointer]:
    """Every `.dvc` file in the workspace; each `dvc.yaml` is handed to `on_dvcfile`, which
    returns the outputs it declares. Directories that are tracked outputs are not entered
    (they cannot hold pointers or pipelines), so a 20,000-file dataset costs nothing here."""
    found: list[Pointer] = []
    stack = [repo.root]
    while stack:
        d = stack.pop()
        ignored = repo.ignore.matcher(d)
        subdirs, here, dvcfile = [], [], None
        try:
            with os.scandir(d) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        if e.name not in _SKIP_DIRS and not (ignored and ignored(e.name, True)):
                            subdirs.append(e.path)
                    elif e.name.endswith(POINTER_SUFFIX) and e.is_file():
                        if not (ignored and ignored(e.name, False)):
                            here.append(e.path)
                    elif e.name == "dvc.yaml" and on_dvcfile is not None and e.is_file():
                        dvcfile = e.path
        except PermissionError:
            continue
        outs: set[str] = set()
        for path in sorted(here):
            p = pointers.load(path, repo.root)
            found.append(p)
            outs.update(p.out_abspath(o) for o in p.outs)
        if dvcfile is not None:
            outs.update(on_dvcfile(dvcfile))
        stack.extend(s for s in subdirs if s not in outs)
    found.sort(key=lambda p: p.path)
    return found


def pointer_for(repo, target: str) -> tuple[Pointer, str | None]:
    """The pointer a target names -- `x.dvc` itself, the data path `x` it tracks, or a path
    inside a tracked directory, as DVC accepts -- and, for the last, that inner path."""
    path = repo.resolve(target)
    if path.endswith(POINTER_SUFFIX) and os.path.isfile(path):
        return pointers.load(path, repo.root), None
    candidate = path + POINTER_SUFFIX
    if os.path.isfile(candidate):
        return pointers.load(candidate, repo.root), None
    for p in all_pointers(repo):
        for o in p.outs:
            out = p.out_abspath(o)
            if out == path:
                return p, None
            if path.startswith(out + os.sep):
                return p, path
    raise TargetError(f"'{target}' is not tracked by any .dvc file.", "Track it with 'lode add'.")


def select(repo, targets: list[str] | None) -> list[Pointer]:
    return [p for p, _ in select_parts(repo, targets)]


def select_parts(repo, targets: list[str] | None) -> list[tuple[Pointer, set[str] | None]]:
    """Pointers to act on, each with the inner paths it was named by (None: all of it)."""
    if not targets:
        return [(p, None) for p in all_pointers(repo)]
    seen: dict[str, tuple[Pointer, set[str] | None]] = {}
    for t in targets:
        p, inner = pointer_for(repo, t)
        prev = seen.get(p.path)
        if prev is None:
            seen[p.path] = (p, None if inner is None else {inner})
        elif prev[1] is not None:
            seen[p.path] = (prev[0], None if inner is None else prev[1] | {inner})
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

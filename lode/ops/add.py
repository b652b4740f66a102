"""`lode add` and `lode commit`: hash outputs into the cache and record them in pointers."""

from __future__ import annotations

import os
from dataclasses import dataclass

from lode.errors import TargetError
from lode.store import gitignore, pointers
from lode.store.listing import check_utf8
from lode.store.materialize import link_workspace
from lode.store.outputs import Output, build
from lode.store.pointers import POINTER_SUFFIX, Pointer
from lode.store.targets import enclosing_output, select


@dataclass
class Recorded:
    pointer: str  # repo-relative .dvc path
    output: str  # repo-relative output path
    md5: str
    changed: bool  # pointer rewritten
    gitignore: str | None = None  # repo-relative .gitignore that gained a line


def add(repo, targets: list[str], scm: bool) -> list[Recorded]:
    paths = [_check_target(repo, t) for t in targets]
    results = []
    for path in paths:
        pointer_path = path + POINTER_SUFFIX
        if os.path.exists(pointer_path):
            pointer = pointers.load(pointer_path, repo.root)
            out = next((o for o in pointer.outs if pointer.out_abspath(o) == path), None)
            if out is None:
                raise TargetError(f"{repo.rel(pointer_path)} does not track '{repo.rel(path)}'.")
        else:
            out = Output(os.path.basename(path))
            pointer = Pointer(pointer_path, [out])
        recorded = _record(repo, pointer, out, path)
        if scm and not gitignore.git_ignores(repo.root, path) and gitignore.ensure_ignored(path):
            recorded.gitignore = repo.rel(os.path.join(os.path.dirname(path), ".gitignore"))
        results.append(recorded)
    return results


def commit(repo, targets: list[str] | None) -> list[Recorded]:
    results = []
    for pointer in select(repo, targets):
        for out in pointer.outs:
            if out.cached:
                results.append(_record(repo, pointer, out, pointer.out_abspath(out)))
    return results


def _record(repo, pointer: Pointer, out: Output, path: str) -> Recorded:
    built = build(repo, path, insert=out.cached)
    if out.cached:
        link_workspace(repo, path, built)
    new = out.with_hash(built.md5, built.size, built.nfiles, built.isexec)
    pointer.outs[pointer.outs.index(out)] = new
    changed = pointers.save(pointer)
    return Recorded(repo.rel(pointer.path), repo.rel(path), built.md5, changed)


def _check_target(repo, target: str) -> str:
    path = repo.resolve(target)
    if path.endswith(POINTER_SUFFIX):
        raise TargetError(f"'{target}' is a pointer file; add the data it tracks instead.")
    if not os.path.lexists(path):
        raise TargetError(f"'{target}' does not exist.")
    if os.path.islink(path):
        raise TargetError(f"'{target}' is a symlink; add the file or directory it points to.")
    check_utf8(path)
    if path == repo.root:
        raise TargetError("the repository root cannot be an output; add a directory inside it.")
    parent = enclosing_output(repo, path)
    if parent is not None:
        raise TargetError(
            f"'{target}' is inside '{repo.rel(parent)}', which is already tracked.",
            f"Change '{repo.rel(parent)}' and run 'lode add {repo.rel(parent)}' instead.",
        )
    if os.path.isdir(path):
        for dirpath, _, files in os.walk(path):
            inner = [f for f in files if f.endswith(POINTER_SUFFIX)]
            if inner:
                raise TargetError(
                    f"'{target}' contains tracked data "
                    f"('{repo.rel(os.path.join(dirpath, inner[0]))}'); an output cannot hold "
                    "another one."
                )
    return path

"""`lode gc`: remove cache (and optionally remote) objects that no chosen scope references.

A scope is the workspace, every branch, every tag or every commit; what each references is
read from its `.dvc` files and `dvc.lock` files (straight from Git with GitPython, no
checkout), directories expanded through their manifests. Objects named by any run-cache
entry are kept too, so a run cache never points at nothing.
"""

from __future__ import annotations

import os

from lode import yamlio
from lode.errors import LodeError
from lode.pointers import POINTER_SUFFIX
from lode.remotes import FILES_PREFIX


class GcError(LodeError):
    pass


def _md5s_in(doc, key: str) -> list[str]:
    """Every `md5` of the `outs` lists found in a .dvc document or under a lock's stages."""
    found: list[str] = []
    if not isinstance(doc, dict):
        return found
    if key == "outs":
        items = doc.get("outs") or []
    else:
        stages = doc.get("stages") or {}
        items = [o for s in stages.values() if isinstance(s, dict) for o in s.get("outs") or []]
    for o in items:
        if isinstance(o, dict) and isinstance(o.get("md5"), str):
            found.append(o["md5"])
    return found


def _tree_refs(tree) -> set[str]:
    refs: set[str] = set()
    for path in tree._all_files():  # noqa: SLF001 - the one listing both kinds of file need
        name = os.path.basename(path)
        if name.endswith(POINTER_SUFFIX) or name == "dvc.lock":
            try:
                doc = yamlio.loads(tree.read(path) or "")
            except Exception:  # a broken file references nothing we can know of
                continue
            refs.update(_md5s_in(doc, "outs" if name.endswith(POINTER_SUFFIX) else "stages"))
    return refs


def _run_cache_refs(repo) -> set[str]:
    refs: set[str] = set()
    runs = os.path.join(repo.cache_dir, "runs")
    for d, _, files in os.walk(runs):
        for f in files:
            try:
                with open(os.path.join(d, f), encoding="utf-8") as fh:
                    refs.update(_md5s_in(yamlio.loads(fh.read()), "outs"))
            except Exception:
                continue
    return refs


def referenced(repo, workspace: bool, all_branches: bool, all_tags: bool,
               all_commits: bool) -> set[str]:
    """Every object md5 the scopes reference, directory contents included."""
    from lode.reports.revisions import Scm

    if not (workspace or all_branches or all_tags or all_commits):
        raise GcError(
            "say which references to keep: -w (workspace), -a (branches), -T (tags) or "
            "-A (all commits).",
            "gc deletes everything else from the cache.",
        )
    with Scm(repo) as scm:
        # the workspace is always kept, as DVC keeps it: its data is what you work on
        refs: set[str] = set()
        if all_branches or all_tags or all_commits:
            trees = scm.trees(all_branches=all_branches, all_tags=all_tags,
                              all_commits=all_commits)
        else:
            from lode.reports.revisions import WorkspaceTree

            trees = [WorkspaceTree(repo)]
        for tree in trees:
            refs |= _tree_refs(tree)
    return refs | _run_cache_refs(repo)


def expand_dirs(repo, refs: set[str]) -> set[str]:
    """Add the files of every referenced directory to `refs`; return the manifests that
    are not in the cache (or unreadable), whose files therefore cannot be told apart."""
    unknown = set()
    for md5 in [m for m in refs if m.endswith(".dir")]:
        try:
            refs.update(m for _, m in repo.odb.read_manifest(md5))
        except Exception:
            unknown.add(md5)
    return unknown


def expand_dirs_from(repo, remote, refs: set[str], unknown: set[str]) -> None:
    """Bring the manifests missing from the cache from `remote` and expand them; a remote
    gc that could not read one would delete that directory's files, so it refuses."""
    from lode.remotes.transfer import download_object

    for md5 in sorted(unknown):
        download_object(repo, remote, md5)
    still = expand_dirs(repo, refs)
    if still:
        names = ", ".join(sorted(still)[:3]) + (", ..." if len(still) > 3 else "")
        raise GcError(
            f"{len(still)} referenced directory manifest(s) are neither in the cache nor "
            f"readable on remote '{remote.name}' ({names}); nothing was removed.",
            "Without a manifest gc cannot tell which remote files that directory needs; "
            "narrow the scope or restore the manifest first.",
        )


def unused_local(repo, keep: set[str]) -> list[tuple[str, str, int]]:
    """(md5, path, size) of cache objects not in `keep`."""
    out = []
    for md5, path in repo.odb.iter_objects():
        if md5 not in keep:
            try:
                out.append((md5, path, os.path.getsize(path)))
            except OSError:
                continue
    return out


def remove_local(items: list[tuple[str, str, int]]) -> None:
    for _, path, _ in items:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def unused_remote(remote, keep: set[str]) -> list[str]:
    """Object keys on the remote not in `keep` (run-cache entries under `runs/` are not
    listed: only `files/md5/` is ever collected)."""
    keys = []
    for key in remote.list(FILES_PREFIX):
        parts = key[len(FILES_PREFIX):].split("/")
        if len(parts) == 2 and parts[0] + parts[1] not in keep:
            keys.append(key)
    return keys

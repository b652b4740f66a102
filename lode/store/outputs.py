"""Hash a workspace output (file or directory), optionally inserting its bytes into the cache.

Unchanged files are answered by the stat cache; an unchanged directory by one signature
lookup. Everything else is hashed on a thread pool, copied into the cache in the same
read when `insert` is set.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import stat as stat_mod
import time

from lode.errors import TargetError
from lode.parallel import parallel_map
from lode.store.hashing import md5_file
from lode.store.listing import FileRow, walk_files
from lode.store.manifest import manifest_bytes, manifest_md5
from lode.store.statcache import RACY_NS, Stat, stat_key


class Built:
    """What hashing an output found. `entries` = (relpath, md5) of every file, for a
    directory whose manifest was (re)built; empty when the memo answered."""

    __slots__ = ("md5", "size", "nfiles", "isexec", "entries")

    def __init__(
        self,
        md5: str,
        size: int,
        nfiles: int | None = None,
        isexec: bool = False,
        entries: list[tuple[str, str]] | None = None,
    ) -> None:
        self.md5, self.size, self.nfiles, self.isexec = md5, size, nfiles, isexec
        self.entries = entries or []


def listing_signature(rows: list[FileRow]) -> str:
    """A digest of every (name, inode, size, mtime_ns) of a listing. The walk order of an
    unchanged directory is stable, so no sort: a reordered listing only costs a miss."""
    return hashlib.md5(marshal.dumps([(rel, st) for rel, _, st in rows])).hexdigest()


def build(repo, path: str, insert: bool = False) -> Built:
    """Hash the output at absolute `path`; with `insert`, also store its objects."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise TargetError(f"'{repo.rel(path)}' does not exist.") from None
    if stat_mod.S_ISDIR(st.st_mode):
        return _build_dir(repo, path, insert)
    if not stat_mod.S_ISREG(st.st_mode):
        raise TargetError(f"'{repo.rel(path)}' is neither a file nor a directory.")
    return _build_file(repo, path, st, insert)


def _build_file(repo, path: str, st: os.stat_result, insert: bool) -> Built:
    rel = repo.rel(path)
    key = stat_key(st)
    started = time.time_ns()
    md5 = repo.stat.get(rel, key)
    if insert:
        md5, key = repo.odb.add_file(path, repo.link_types, md5)
    elif md5 is None:
        md5 = md5_file(path)
    repo.stat.put_many([(rel, key, md5)], started)
    return Built(md5, st.st_size, None, bool(st.st_mode & stat_mod.S_IXUSR))


def _build_dir(repo, path: str, insert: bool) -> Built:
    rel_root = repo.rel(path)
    started = time.time_ns()
    rows = walk_files(path, repo.ignore.matcher(path))
    sig = listing_signature(rows)
    memo = repo.stat.get_dir(rel_root, sig)
    if memo is not None and (not insert or repo.odb.dir_complete(memo[0])):
        return Built(memo[0], memo[1], memo[2])

    known = repo.stat.get_prefix(rel_root)
    md5s: list[str | None] = []
    todo: list[int] = []
    for i, (rel, _, st) in enumerate(rows):
        row = known.get(rel.encode("utf-8", "surrogateescape"))
        if row is not None and row[:3] == st:
            md5s.append(row[3])
            if insert:
                todo.append(i)  # make sure the object is in the cache
        else:
            md5s.append(None)
            todo.append(i)

    odb, link_types = (repo.odb, repo.link_types) if insert else (None, None)

    def work(i: int) -> tuple[str, Stat]:
        rel, abspath, st = rows[i]
        if odb is not None:
            return odb.add_file(abspath, link_types, md5s[i])
        return md5_file(abspath), st

    fresh: list[tuple[str, Stat, str]] = []
    done = parallel_map(work, todo, "Hashing " + rel_root, processes=True)
    for i, (md5, st) in zip(todo, done, strict=True):
        if md5s[i] is None or st != rows[i][2]:
            fresh.append((f"{rel_root}/{rows[i][0]}", st, md5))
        md5s[i] = md5
    entries = [(rel, md5) for (rel, _, _), md5 in zip(rows, md5s, strict=True)]
    data = manifest_bytes(entries)  # type: ignore[arg-type]
    md5 = manifest_md5(data)
    if insert:
        repo.odb.add_bytes(md5, data)
    size = sum(st[1] for _, _, st in rows)
    repo.stat.put_many(fresh, started)
    if all(st[2] < started - RACY_NS for _, _, st in rows):
        repo.stat.put_dir(rel_root, sig, md5, size, len(rows))
    return Built(md5, size, len(rows), False, entries)  # type: ignore[arg-type]


def file_md5_cached(repo, path: str) -> str | None:
    """md5 of a workspace file through the stat cache; None when it does not exist."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return _build_file(repo, path, st, insert=False).md5

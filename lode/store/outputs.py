"""One output: its record (what pointers and dvc.lock hold), hashing it in the workspace
(optionally inserting its bytes into the cache), and how it stands against its record.

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
from typing import Any

from lode.errors import PointerError, TargetError
from lode.parallel import parallel_map
from lode.store.hashinfo import HashInfo, check_md5, is_dir_md5
from lode.store.hashing import md5_dos2unix_file, md5_file
from lode.store.listing import FileRow, walk_files
from lode.store.manifest import manifest_bytes, manifest_md5
from lode.store.statcache import RACY_NS, Stat, stat_key

LEGACY_HASH = "md5-dos2unix"
# The meta keys DVC writes between the hash value and `hash:` (docs/formats.md section 4).
_META_KEYS = ("size", "nfiles", "isexec")
_KNOWN_KEYS = {"path", "md5", "hash", "etag", "version_id", *_META_KEYS}


class Output:
    """One output record: where it is, what it hashed to, and the keys lode carries along
    unchanged. A `.dvc` pointer and a dvc.lock stage hold these (`from_dict`, and
    `to_pointer_dict` / `to_lock_dict`, each in its file's key order); hashing a workspace
    output (`build`) answers one too, with the directory's `entries` when it listed them.

    (A plain class, not a dataclass: `dataclasses` imports `inspect`, 8 ms of every start.)
    """

    __slots__ = ("path", "md5", "size", "nfiles", "isexec", "hash_name", "extra", "entries")

    def __init__(
        self,
        path: str,
        md5: str | None = None,
        size: int | None = None,
        nfiles: int | None = None,
        isexec: bool = False,
        hash_name: str = "md5",
        extra: dict[str, Any] | None = None,
        entries: list[tuple[str, str]] | None = None,
    ) -> None:
        self.path, self.md5, self.size, self.nfiles = path, md5, size, nfiles
        self.isexec, self.hash_name, self.extra = isexec, hash_name, extra or {}
        # (relpath, md5) of every file of a directory `build` (re)listed; never written
        self.entries = entries or []

    def _key(self) -> tuple:
        return (self.path, self.md5, self.size, self.nfiles, self.isexec, self.hash_name,
                self.extra)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Output) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Output({self.path!r}, md5={self.md5!r}, size={self.size!r})"

    @property
    def hash_info(self) -> HashInfo | None:
        return HashInfo(self.md5) if self.md5 else None

    @property
    def is_dir(self) -> bool:
        return bool(self.md5 and is_dir_md5(self.md5))

    @property
    def legacy(self) -> bool:
        """A DVC 2.x entry (md5-dos2unix): its objects live in the cache's legacy layout."""
        return self.hash_name == LEGACY_HASH

    @property
    def cached(self) -> bool:
        return self.extra.get("cache", True) is not False

    def with_hash(self, md5: str, size: int, nfiles: int | None, isexec: bool = False) -> Output:
        return Output(self.path, md5, size, nfiles, isexec, "md5", dict(self.extra))

    def to_pointer_dict(self) -> dict[str, Any]:
        """As a `.dvc` file writes it: md5, size, nfiles, isexec, hash (not for a 2.x
        entry), path, then the carried keys."""
        d: dict[str, Any] = {}
        if self.md5:
            d["md5"] = self.md5
            self._meta_into(d)
            if self.hash_name != LEGACY_HASH:
                d["hash"] = self.hash_name
        d["path"] = self.path
        d.update(self.extra)
        return d

    def to_lock_dict(self) -> dict[str, Any]:
        """As dvc.lock records a dep or an out: path, hash, md5, size, nfiles, isexec
        (lode writes only md5 records there, and no carried keys)."""
        d: dict[str, Any] = {"path": self.path, "hash": self.hash_name, "md5": self.md5}
        self._meta_into(d)
        return d

    def _meta_into(self, d: dict[str, Any]) -> None:
        """size, nfiles, isexec, in the order both files write them, when known."""
        if self.size is not None:
            d["size"] = self.size
        if self.nfiles is not None:
            d["nfiles"] = self.nfiles
        if self.isexec:
            d["isexec"] = True

    @classmethod
    def from_dict(cls, d: Any, where: str) -> Output:
        """An output record of a pointer or a lock file, checked: a path string without
        NUL, a valid md5 (if any), sizes that are counts. Confinement of the path against
        the repository is the caller's (it knows the directory the path is relative to)."""
        if not isinstance(d, dict) or not isinstance(d.get("path"), str) or not d["path"]:
            raise PointerError(f"{where}: every entry of 'outs' needs a 'path'.")
        path = d["path"]
        if "\x00" in path:
            raise PointerError(f"{where}: the path {path[:80]!r} holds a NUL byte.")
        md5 = d.get("md5")
        if md5 is not None:
            check_md5(md5, f"{where}: output '{path}'")
        for key in ("size", "nfiles"):
            value = d.get(key)
            if value is not None and (type(value) is not int or value < 0):
                raise PointerError(f"{where}: '{key}' of '{path}' must be a count.")
        hash_name = d.get("hash", LEGACY_HASH if md5 else "md5")
        if not isinstance(hash_name, str):
            raise PointerError(f"{where}: 'hash' of '{path}' must be a name.")
        extra = {k: v for k, v in d.items() if k not in _KNOWN_KEYS}
        return cls(
            path=path,
            md5=md5,
            size=d.get("size"),
            nfiles=d.get("nfiles"),
            isexec=d.get("isexec", False) is True,
            hash_name=hash_name,
            extra=extra,
        )


def listing_signature(rows: list[FileRow]) -> str:
    """A digest of every (name, inode, size, mtime_ns) of a listing. The walk order of an
    unchanged directory is stable, so no sort: a reordered listing only costs a miss."""
    return hashlib.md5(marshal.dumps([(rel, st) for rel, _, st in rows])).hexdigest()


def build(repo, path: str, insert: bool = False) -> Output:
    """Hash the output at absolute `path` (the record's path, as given); with `insert`,
    also store its objects."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise TargetError(f"'{repo.rel(path)}' does not exist.") from None
    if stat_mod.S_ISDIR(st.st_mode):
        return _build_dir(repo, path, insert)
    if not stat_mod.S_ISREG(st.st_mode):
        raise TargetError(f"'{repo.rel(path)}' is neither a file nor a directory.")
    return _build_file(repo, path, st, insert)


def _build_file(repo, path: str, st: os.stat_result, insert: bool) -> Output:
    rel = repo.rel(path)
    key = stat_key(st)
    started = time.time_ns()
    md5 = repo.stat.get(rel, key)
    if insert:
        md5, key = repo.objects.add_file(path, repo.link_types, md5)
    elif md5 is None:
        md5 = md5_file(path)
    repo.stat.put_many([(rel, key, md5)], started)
    return Output(path, md5, st.st_size, None, bool(st.st_mode & stat_mod.S_IXUSR))


def _build_dir(repo, path: str, insert: bool) -> Output:
    rel_root = repo.rel(path)
    started = time.time_ns()
    rows = walk_files(path, repo.ignore.matcher(path))
    sig = listing_signature(rows)
    memo = repo.stat.get_dir(rel_root, sig)
    if memo is not None and (not insert or repo.objects.dir_complete(memo[0])):
        return Output(path, memo[0], memo[1], memo[2])

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

    store, link_types = (repo.objects, repo.link_types) if insert else (None, None)

    def work(i: int) -> tuple[str, Stat]:
        rel, abspath, st = rows[i]
        if store is not None:
            return store.add_file(abspath, link_types, md5s[i])
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
        repo.objects.add_bytes(md5, data)
    size = sum(st[1] for _, _, st in rows)
    repo.stat.put_many(fresh, started)
    if all(st[2] < started - RACY_NS for _, _, st in rows):
        repo.stat.put_dir(rel_root, sig, md5, size, len(rows))
    return Output(path, md5, size, len(rows), False, entries=entries)  # type: ignore[arg-type]


def file_md5_cached(repo, path: str) -> str | None:
    """md5 of a workspace file through the stat cache; None when it does not exist."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return _build_file(repo, path, st, insert=False).md5


def out_state(repo, path: str, out: Output) -> str | None:
    """How the recorded output `out` at absolute `path` stands against the workspace:
    "not in cache", "deleted", "new", "modified", or None when it matches. DVC's
    precedence: a recorded object missing from the cache hides every other state."""
    if out.md5 and out.cached and not _in_cache(repo, out.md5, out.legacy):
        return "not in cache"
    if not os.path.lexists(path):
        return "deleted"
    if not out.md5:
        return "new"
    try:
        built = build(repo, path)
    except TargetError:
        return "modified"
    if built.md5 != out.md5 and out.legacy and not out.is_dir:
        return None if md5_dos2unix_file(path) == out.md5 else "modified"
    return "modified" if built.md5 != out.md5 else None


def _in_cache(repo, md5: str, legacy: bool) -> bool:
    if is_dir_md5(md5):
        return repo.objects.dir_complete(md5, legacy)
    return repo.objects.exists(md5, legacy)

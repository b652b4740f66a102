"""push, fetch: move objects between the cache and a remote, in parallel, with retries.

Existence is asked in one batch (the plugin lists or HEADs as it does best); a directory
manifest goes up only after every file it names is there, so a remote never holds a
`.dir` whose files are missing; every download is checked against its md5 before it
enters the cache. A failure of one object is recorded and the rest still moves; rerunning
an interrupted transfer finishes it.

The engine knows objects and keys, not workspaces: what to move comes in as sets of md5s
(`files`, `dirs`) with `paths` naming where each is used, for messages; a caller holding a
lode.ops.used.Used passes it as it is to `push`/`fetch` (anything with those three
attributes). A remote is anything with lode.plugins.remote.Remote's methods (`Store`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Protocol

from lode.atomic import unlink_quiet
from lode.errors import LodeError, RemoteMissing, TransientError
from lode.parallel import parallel_map
from lode.retry import TRANSFER
from lode.store.hashinfo import check_md5
from lode.store.hashing import md5_file
from lode.store.objects import CorruptObject, MissingObject

FILES_PREFIX = "files/md5/"


def object_key(md5: str) -> str:
    """The remote key of an object: built only from a valid md5, never from a path."""
    check_md5(md5, "an object name")
    return f"{FILES_PREFIX}{md5[:2]}/{md5[2:]}"


class Store(Protocol):
    """What the engine asks of a remote (lode.plugins.remote.Remote implements it)."""

    name: str
    capabilities: object

    def exists_many(self, keys: Iterable[str]) -> set[str]: ...
    def upload(self, local_path: str, key: str) -> None: ...
    def download(self, key: str, local_path: str) -> None: ...
    def read_small(self, key: str) -> bytes | None: ...


class Objects(Protocol):
    """What to move, by md5: lode.ops.used.Used has this shape."""

    files: set[str]
    dirs: set[str]
    paths: dict[str, str]


class TransferResult:
    def __init__(self) -> None:
        self.moved = 0
        self.present = 0  # already where they had to go
        self.failed: list[tuple[str, str, str]] = []  # (md5, path, why)


def _retry(fn: Callable, *args):
    return TRANSFER.call(fn, *args, retry_on=(TransientError,))


def expand(repo, dirs: Iterable[str], paths: dict[str, str]
           ) -> tuple[set[str], list[tuple[str, str]]]:
    """The file objects inside the directories `dirs` whose manifests are in the cache,
    and (md5, why) for each manifest that is not; `paths` gains each file's path."""
    files: set[str] = set()
    problems = []
    for d in dirs:
        try:
            entries = repo.objects.read_manifest(d)
        except MissingObject:
            problems.append((d, "missing from the cache"))
            continue
        except CorruptObject:
            problems.append((d, "corrupt in the cache"))
            continue
        for rel, md5 in entries:
            files.add(md5)
            paths.setdefault(md5, os.path.join(paths[d], rel))
    return files, problems


def exists(remote: Store, keys: list[str]) -> set[str]:
    """The batch existence query, retried like every other remote call."""
    return _retry(remote.exists_many, keys)


def exists_by_dirs(repo, remote: Store, dirs: Iterable[str], files: list[str]) -> set[str]:
    """Which of the `.dir` manifests `dirs` and `files` the remote holds. A manifest goes up
    only after all of its files (push orders it so, and so does DVC), so a manifest found on
    the remote vouches for its files: one HEAD instead of listing 20,000 keys. Files outside
    those directories are asked about one by one in a batch."""
    dirs = list(dirs)
    keys = [object_key(d) for d in dirs]
    present = exists(remote, keys) if keys else set()
    vouched: set[str] = set()
    for d in dirs:
        if object_key(d) in present and repo.objects.exists(d):
            vouched.update(m for _, m in repo.objects.read_manifest(d))
    ask = [object_key(m) for m in files if m not in vouched]
    return present | {object_key(m) for m in vouched} | (exists(remote, ask) if ask else set())


def _run(remote: Store, jobs: int, items: list, fn, desc: str) -> list:
    processes = remote.capabilities.processes  # type: ignore[attr-defined]
    return parallel_map(fn, items, desc, jobs=jobs, processes=processes)


class Breaker:
    """Once one object has failed every retry on a transient error the remote is taken to
    be down: the objects after it are not attempted (each would wait out retries of its
    own, hours for 20,000 of them) and are named as not sent; a rerun finishes the job."""

    def __init__(self) -> None:
        self.why: str | None = None


def attempt(fn, *args, breaker: Breaker | None = None) -> str | None:
    """None on success, else why it failed (one phrase)."""
    if breaker is not None and breaker.why:
        return f"not attempted after the remote failed ({breaker.why})"
    try:
        _retry(fn, *args)
        return None
    except RemoteMissing:
        return "missing from the remote"
    except TransientError as e:
        why = e.message.rstrip(".")
        if breaker is not None:
            breaker.why = why
        return why
    except LodeError as e:
        return e.message.rstrip(".")
    except OSError as e:
        return e.strerror or str(e)


def push(repo, remote: Store, used: Objects, jobs: int) -> TransferResult:
    """Send what `used` names and the remote lacks: files first, a `.dir` after its files."""
    return push_objects(repo, remote, used.files, used.dirs, used.paths, jobs)


def push_objects(repo, remote: Store, files: set[str], dirs: set[str], paths: dict[str, str],
                 jobs: int) -> TransferResult:
    result = TransferResult()
    inner, problems = expand(repo, dirs, paths)
    result.failed += [(m, paths.get(m, ""), why) for m, why in problems]
    local, absent = [], []
    for m in inner | files:
        (local if repo.objects.exists(m) else absent).append(m)
    result.failed += [(m, paths.get(m, ""), "missing from the local cache") for m in absent]
    on_remote = exists_by_dirs(repo, remote, dirs, local)
    todo = sorted(m for m in local if object_key(m) not in on_remote)
    result.present += len(local) - len(todo)

    breaker = Breaker()

    def up(md5: str) -> str | None:
        # Verified here, in the worker, the bytes then hot in the page cache: a hardlinked
        # workspace file edited in place (or a corrupted object) never reaches the remote
        # under a name its bytes no longer have. (The stat cache is not consulted: workers
        # may be forked processes, and an SQLite connection must not cross a fork.)
        path = repo.objects.path(md5)
        try:
            if md5_file(path) != md5:
                return "corrupt in the local cache (its bytes do not match its name); not pushed"
        except FileNotFoundError:
            return "missing from the local cache"
        return attempt(remote.upload, path, object_key(md5), breaker=breaker)

    bad = set()
    whys = _run(remote, jobs, todo, up, f"Pushing to {remote.name}")
    for md5, why in zip(todo, whys, strict=True):
        if why:
            bad.add(md5)
            result.failed.append((md5, paths.get(md5, ""), why))
        else:
            result.moved += 1
    missing_files = bad | {m for m, _, _ in result.failed}
    for d in dirs:
        if object_key(d) in on_remote:
            result.present += 1
            continue
        if not repo.objects.exists(d) or _dir_incomplete(repo, d, missing_files):
            continue  # named above; a partial directory never gets its manifest
        why = attempt(remote.upload, repo.objects.path(d), object_key(d), breaker=breaker)
        if why:
            result.failed.append((d, paths.get(d, ""), why))
        else:
            result.moved += 1
    return result


def _dir_incomplete(repo, d: str, missing: set[str]) -> bool:
    return any(m in missing for _, m in repo.objects.read_manifest(d))


def download_object(repo, remote: Store, md5: str, breaker: Breaker | None = None) -> str | None:
    """Fetch one object into the cache, verified; None, or why it failed."""
    def get() -> None:
        data = remote.read_small(object_key(md5))
        if data is not None:
            if not repo.objects.adopt_bytes(md5, data):
                raise _Corrupt
            return
        tmp = repo.objects.staging_path(md5)
        try:
            remote.download(object_key(md5), tmp)
        except BaseException:
            unlink_quiet(tmp)
            raise
        if not repo.objects.adopt(md5, tmp):
            raise _Corrupt

    try:
        return attempt(get, breaker=breaker)
    except _Corrupt:
        return "corrupt on the remote (its bytes do not match its name); not stored"


class _Corrupt(Exception):
    pass


def fetch(repo, remote: Store, used: Objects, jobs: int) -> TransferResult:
    """Bring every object `used` names into the cache: manifests first, then files."""
    return fetch_objects(repo, remote, used.files, used.dirs, used.paths, jobs)


def fetch_objects(repo, remote: Store, files: set[str], dirs: set[str], paths: dict[str, str],
                  jobs: int) -> TransferResult:
    result, breaker = TransferResult(), Breaker()
    absent = [d for d in dirs if not repo.objects.exists(d)]
    result.present += len(dirs) - len(absent)
    for d in absent:
        why = download_object(repo, remote, d, breaker)
        if why:
            result.failed.append((d, paths.get(d, ""), why))
        else:
            result.moved += 1
    inner, _ = expand(repo, dirs, paths)  # manifests still missing were named just above
    wanted = inner | files
    todo = sorted(m for m in wanted if not repo.objects.exists(m))
    result.present += len(wanted) - len(todo)
    whys = _run(remote, jobs, todo, lambda m: download_object(repo, remote, m, breaker),
                f"Fetching from {remote.name}")
    for md5, why in zip(todo, whys, strict=True):
        if why:
            result.failed.append((md5, paths.get(md5, ""), why))
        else:
            result.moved += 1
    return result

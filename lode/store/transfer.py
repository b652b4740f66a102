"""push, fetch: move objects between the cache and a remote, in parallel, with retries.

Existence is asked in one batch (the plugin lists or HEADs as it does best); a directory
manifest goes up only after every file it names is there, so a remote never holds a
`.dir` whose files are missing; every download is checked against its md5 before it
enters the cache. A failure of one object is recorded and the rest still moves; rerunning
an interrupted transfer finishes it.
"""

from __future__ import annotations

import time

from lode.ops.used import Used, expand
from lode.plugins.remote import Remote, RemoteMissing, TransientError, object_key
from lode.store.hashing import md5_file

RETRIES = 4


class TransferResult:
    def __init__(self) -> None:
        self.moved = 0
        self.present = 0  # already where they had to go
        self.failed: list[tuple[str, str, str]] = []  # (md5, path, why)


def _retry(fn, *args):
    for n in range(RETRIES):
        try:
            return fn(*args)
        except TransientError:
            if n == RETRIES - 1:
                raise
            time.sleep(0.25 * 2**n)


def exists(remote: Remote, keys: list[str]) -> set[str]:
    """The batch existence query, retried like every other remote call."""
    return _retry(remote.exists_many, keys)


def exists_by_dirs(repo, remote: Remote, used: Used, files: list[str]) -> set[str]:
    """Which of the `.dir` manifests and `files` the remote holds. A manifest goes up only
    after all of its files (push orders it so, and so does DVC), so a manifest found on the
    remote vouches for its files: one HEAD instead of listing 20,000 keys. Files outside
    those directories are asked about one by one in a batch."""

    dirs = [object_key(d) for d in used.dirs]
    present = exists(remote, dirs) if dirs else set()
    vouched: set[str] = set()
    for d in used.dirs:
        if object_key(d) in present and repo.odb.exists(d):
            vouched.update(m for _, m in repo.odb.read_manifest(d))
    ask = [object_key(m) for m in files if m not in vouched]
    return present | {object_key(m) for m in vouched} | (exists(remote, ask) if ask else set())


def _run(remote: Remote, jobs: int, items: list, fn, desc: str) -> list:
    from lode.parallel import parallel_map

    return parallel_map(fn, items, desc, jobs=jobs, processes=remote.capabilities.processes)


class Breaker:
    """Once one object has failed every retry on a transient error the remote is taken to
    be down: the objects after it are not attempted (each would wait out retries of its
    own, hours for 20,000 of them) and are named as not sent; a rerun finishes the job."""

    def __init__(self) -> None:
        self.why: str | None = None


def attempt(fn, *args, breaker: Breaker | None = None) -> str | None:
    """None on success, else why it failed (one phrase)."""
    from lode.errors import LodeError

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


def push(repo, remote: Remote, used: Used, jobs: int) -> TransferResult:
    result = TransferResult()
    inner, problems = expand(repo, used)
    result.failed += [(m, used.paths.get(m, ""), why) for m, why in problems]
    files = inner | used.files
    local, absent = [], []
    for m in files:
        (local if repo.odb.exists(m) else absent).append(m)
    result.failed += [(m, used.paths.get(m, ""), "missing from the local cache") for m in absent]
    on_remote = exists_by_dirs(repo, remote, used, local)
    todo = sorted(m for m in local if object_key(m) not in on_remote)
    result.present += len(local) - len(todo)

    breaker = Breaker()

    def up(md5: str) -> str | None:
        # Verified here, in the worker, the bytes then hot in the page cache: a hardlinked
        # workspace file edited in place (or a corrupted object) never reaches the remote
        # under a name its bytes no longer have. (The stat cache is not consulted: workers
        # may be forked processes, and an SQLite connection must not cross a fork.)
        path = repo.odb.path(md5)
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
            result.failed.append((md5, used.paths.get(md5, ""), why))
        else:
            result.moved += 1
    missing_files = bad | {m for m, _, _ in result.failed}
    for d in used.dirs:
        if object_key(d) in on_remote:
            result.present += 1
            continue
        if not repo.odb.exists(d) or _dir_incomplete(repo, d, missing_files):
            continue  # named above; a partial directory never gets its manifest
        why = attempt(remote.upload, repo.odb.path(d), object_key(d), breaker=breaker)
        if why:
            result.failed.append((d, used.paths.get(d, ""), why))
        else:
            result.moved += 1
    return result


def _dir_incomplete(repo, d: str, missing: set[str]) -> bool:

    return any(m in missing for _, m in repo.odb.read_manifest(d))


def download_object(repo, remote: Remote, md5: str, breaker: Breaker | None = None) -> str | None:
    """Fetch one object into the cache, verified; None, or why it failed."""
    def get() -> None:
        data = remote.read_small(object_key(md5))
        if data is not None:
            if not repo.odb.adopt_bytes(md5, data):
                raise _Corrupt
            return
        tmp = repo.odb.staging_path(md5)
        try:
            remote.download(object_key(md5), tmp)
        except BaseException:
            from lode.atomic import unlink_quiet

            unlink_quiet(tmp)
            raise
        if not repo.odb.adopt(md5, tmp):
            raise _Corrupt

    try:
        return attempt(get, breaker=breaker)
    except _Corrupt:
        return "corrupt on the remote (its bytes do not match its name); not stored"


class _Corrupt(Exception):
    pass


def fetch(repo, remote: Remote, used: Used, jobs: int) -> TransferResult:
    """Bring every object `used` names into the cache: manifests first, then files."""
    result, breaker = TransferResult(), Breaker()
    dirs = [d for d in used.dirs if not repo.odb.exists(d)]
    result.present += len(used.dirs) - len(dirs)
    for d in dirs:
        why = download_object(repo, remote, d, breaker)
        if why:
            result.failed.append((d, used.paths.get(d, ""), why))
        else:
            result.moved += 1
    inner, _ = expand(repo, used)  # manifests still missing were named just above
    files = inner | used.files
    todo = sorted(m for m in files if not repo.odb.exists(m))
    result.present += len(files) - len(todo)
    whys = _run(remote, jobs, todo, lambda m: download_object(repo, remote, m, breaker),
                f"Fetching from {remote.name}")
    for md5, why in zip(todo, whys, strict=True):
        if why:
            result.failed.append((md5, used.paths.get(md5, ""), why))
        else:
            result.moved += 1
    return result

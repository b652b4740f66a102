"""The run cache on a remote (`push/pull/fetch --run-cache`): DVC's `runs/<2>/<key>/<value>`
entries beside the objects their outputs name, so a CI runner or a teammate restores a
stage someone else already ran instead of running it again.

An entry goes up only after every object it names, so a remote never offers a run it
cannot restore; a downloaded entry must hash to its own name (the sha256 DVC and lode
give its content) before it enters the cache, and its objects are then fetched verified
like any other.
"""

from __future__ import annotations

import os
import tempfile

from lode.atomic import write_bytes_atomic
from lode.errors import RemoteError
from lode.ops.used import Used, expand
from lode.plugins.remote import Remote
from lode.store.hashinfo import is_sha256
from lode.store.runcache import sound_entry
from lode.store.transfer import attempt, exists

PREFIX = "runs/"
LABEL = "run cache"


def require(remote: Remote) -> None:
    if not remote.capabilities.run_cache:
        raise RemoteError(f"remote '{remote.name}' cannot hold the run cache (it cannot list "
                          "what it holds).", "Use a local directory or S3 remote for "
                          "--run-cache.")


def split_key(key: str) -> tuple[str, str] | None:
    """(run key, entry name) of a remote key `runs/<2>/<64 hex>/<64 hex>`; None for any
    other key a listing returns (it is never used to build a local path)."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] + "/" != PREFIX:
        return None
    _, prefix, run, name = parts
    if not (is_sha256(run) and is_sha256(name) and prefix == run[:2]):
        return None
    return run, name


def parse_entry(key: str, text: str) -> dict | None:
    """The entry if it is one and belongs under its remote key, else None."""
    parts = split_key(key)
    return sound_entry(*parts, text) if parts else None


def _add_outs(used: Used, entry: dict) -> None:
    for out in entry.get("outs") or []:
        if isinstance(out, dict) and isinstance(out.get("md5"), str):
            used.add(out["md5"], f"{LABEL}: {out.get('path', '?')}")


def local_entries(repo, used: Used) -> dict[str, tuple[str, dict]]:
    """key -> (path, entry) of every valid local entry; the objects they name join `used`."""
    base = os.path.join(repo.cache_dir, "runs")
    found = {}
    for d, _, files in os.walk(base):
        for name in files:
            if name.startswith("."):
                continue
            path = os.path.join(d, name)
            key = PREFIX + os.path.relpath(path, base).replace(os.sep, "/")
            try:
                with open(path, encoding="utf-8") as f:
                    entry = parse_entry(key, f.read())
            except (OSError, UnicodeDecodeError):
                continue
            if entry is not None:
                found[key] = (path, entry)
                _add_outs(used, entry)
    return found


def upload_entries(remote: Remote, entries: dict[str, tuple[str, dict]], failed: set[str],
                   repo) -> tuple[int, list[tuple[str, str]]]:
    """Upload the entries the remote lacks, skipping any whose objects did not all make it
    (`failed` md5s); (uploaded, [(key, why)])."""
    require(remote)
    todo = sorted(set(entries) - exists(remote, sorted(entries)))
    moved, problems = 0, []
    for key in todo:
        path, entry = entries[key]
        used = Used()
        _add_outs(used, entry)
        inner, _ = expand(repo, used)
        if (used.files | used.dirs | inner) & failed:
            problems.append((key, "its outputs did not all reach the remote"))
            continue
        why = attempt(remote.upload, path, key)
        if why:
            problems.append((key, why))
        else:
            moved += 1
    return moved, problems


def count(result, moved_problems: tuple[int, list[tuple[str, str]]]) -> None:
    """Add what an entry transfer did, (moved, [(key, why)]), to a TransferResult."""
    moved, problems = moved_problems
    result.moved += moved
    result.failed += [(key, LABEL, why) for key, why in problems]


def download_entries(repo, remote: Remote, used: Used, keys: list[str] | None = None
                     ) -> tuple[int, list[tuple[str, str]]]:
    """Bring the remote's entries missing here into the cache (each checked against its
    name); the objects of every remote entry join `used`. (downloaded, [(key, why)]).
    `keys`: only the entries of these run keys (a pipeline's stages as they are now)."""
    require(remote)
    base = os.path.join(repo.cache_dir, "runs")
    moved, problems = 0, []
    got: dict[str, bytes] = {}

    def get(key: str) -> None:
        got[key] = _read(remote, key)

    prefixes = [PREFIX] if keys is None else [f"{PREFIX}{k[:2]}/{k}/" for k in sorted(keys)]
    listed = [k for p in prefixes for k in remote.list(p)]
    for key in sorted(k for k in listed if split_key(k)):
        dest = os.path.join(base, *key[len(PREFIX):].split("/"))  # three validated names
        if os.path.exists(dest):
            with open(dest, encoding="utf-8") as f:
                entry = parse_entry(key, f.read())
            if entry is not None:
                _add_outs(used, entry)
            continue
        why = attempt(get, key)
        if why:
            problems.append((key, why))
            continue
        data = got.pop(key)
        entry = parse_entry(key, data.decode("utf-8", "replace"))
        if entry is None:
            problems.append((key, "corrupt on the remote (its content does not match its "
                                  "name); not stored"))
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        write_bytes_atomic(dest, data)
        _add_outs(used, entry)
        moved += 1
    return moved, problems


def _read(remote: Remote, key: str) -> bytes:
    data = remote.read_small(key)
    if data is not None:
        return data
    fd, tmp = tempfile.mkstemp(prefix=".lode-run-")
    os.close(fd)
    try:
        remote.download(key, tmp)
        with open(tmp, "rb") as f:
            return f.read()
    finally:
        os.unlink(tmp)

"""Files appear whole or not at all: a reader (or a rerun after a crash) never sees half."""

from __future__ import annotations

import itertools
import os
import re

from lode.errors import MalformedError

_counter = itertools.count()
_prefix: tuple[int, str] = (0, "")


def tmp_name(path: str) -> str:
    """A unique temporary sibling of `path` (same directory, so the rename is atomic).

    Random bytes are drawn once per process (a reused pid must not meet a killed
    process's leftovers), then a counter: 20,000 files do not pay a system call each.
    """
    global _prefix
    if _prefix[0] != os.getpid():
        _prefix = (os.getpid(), f"{os.getpid()}-{os.urandom(4).hex()}")
    d, base = os.path.split(path)
    return os.path.join(d, f".{base}.{_prefix[1]}.{next(_counter)}.tmp")


_TMP = re.compile(r"\.(?P<base>.+)\.\d+-[0-9a-f]{8}\.\d+\.tmp")


def final_name(tmp: str) -> str:
    """The file a temporary name of `tmp_name` stands for (`tmp` itself if it is none)."""
    d, base = os.path.split(tmp)
    m = _TMP.fullmatch(base)
    return os.path.join(d, m["base"]) if m else tmp


def is_tmp_name(name: str) -> bool:
    """Whether a file name is one `tmp_name` makes."""
    return _TMP.fullmatch(name) is not None


def remove_stale_temps(path: str) -> None:
    """Delete what a killed writer left beside `path` (its `tmp_name` siblings). Only for
    a caller holding the repository lock: then no other lode process is writing there,
    and every such file is a leftover, never someone's data."""
    d, base = os.path.split(path)
    prefix = f".{base}."
    try:
        names = [n for n in os.listdir(d) if n.startswith(prefix) and n.endswith(".tmp")]
    except (FileNotFoundError, NotADirectoryError):
        return
    for n in names:
        m = _TMP.fullmatch(n)
        if m and m["base"] == base:
            unlink_quiet(os.path.join(d, n))


def name_failure(e: OSError, path: str) -> OSError:
    """`e` naming `path` (relative to here when it is below) if it names no file: a failed
    write (ENOSPC, EIO) is reported by its file descriptor only."""
    if e.filename is None:
        rel = os.path.relpath(path) if os.path.isabs(path) else path
        e.filename = path if rel.startswith("..") else rel
    return e


def write_bytes_atomic(path: str, data: bytes, mode: int = 0o666) -> os.stat_result:
    """Write `data` to `path`, replacing it atomically; return the new file's stat."""
    tmp = tmp_name(path)
    try:  # the open inside: Ctrl-C lands as the open returns more often than anywhere else
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            _write_all(fd, data)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as e:
        unlink_quiet(tmp)
        raise name_failure(e, path) from None
    except BaseException:
        unlink_quiet(tmp)
        raise
    return st


def create_atomic(path: str, data: bytes, mode: int) -> os.stat_result | None:
    """Create `path` holding `data`, all or nothing, unless it exists; return the new
    file's stat, or None when `path` already existed (nothing written).

    Callers create content-addressed objects or files they mean to replace anyway, so a
    race between the check and the rename can only put identical bytes in place.
    (Unnamed O_TMPFILE inodes named with linkat were tried and dropped: on ext4 each one
    goes through the filesystem-wide orphan list, and with the disk busy, creating 20,000
    files that way took up to six times as long as write-then-rename.)"""
    if os.path.lexists(path):
        return None
    return write_bytes_atomic(path, data, mode)


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_text_atomic(path: str, text: str) -> None:
    """Write `text` as UTF-8; refused, with nothing written, when it is not Unicode text
    (a lone surrogate, e.g. from a file name that is not UTF-8): no reader, lode's or
    DVC's, could read the file back."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as e:
        line = text.count("\n", 0, e.start) + 1
        raise MalformedError(f"cannot write {os.path.relpath(path)}: line {line} would hold "
                             f"{text[e.start]!r}, which is not a Unicode character (a file "
                             "name that is not UTF-8?); nothing was written.") from None
    write_bytes_atomic(path, data)


def unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

"""Write-to-temporary-then-rename, so a reader never sees half a file."""

from __future__ import annotations

import itertools
import os

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


def write_bytes_atomic(path: str, data: bytes, mode: int = 0o666) -> None:
    tmp = tmp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        unlink_quiet(tmp)
        raise


def write_text_atomic(path: str, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8", "surrogateescape"))


def unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

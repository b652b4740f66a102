"""Files appear whole or not at all: a reader (or a rerun after a crash) never sees half."""

from __future__ import annotations

import errno
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


def write_bytes_atomic(path: str, data: bytes, mode: int = 0o666) -> os.stat_result:
    """Write `data` to `path`, replacing it atomically; return the new file's stat."""
    tmp = tmp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            _write_all(fd, data)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        unlink_quiet(tmp)
        raise
    return st


_tmpfile_ok = hasattr(os, "O_TMPFILE")


def create_atomic(path: str, data: bytes, mode: int) -> os.stat_result | None:
    """Create `path` holding `data`, all or nothing, never replacing an existing file;
    return the new file's stat, or None when `path` already existed (nothing written).

    An unnamed O_TMPFILE inode is written and then given its name with linkat, which
    spares the temporary directory entry and the rename that dominate when 20,000 files
    are created; where that is unsupported, write-then-rename (exclusive by a check)."""
    global _tmpfile_ok
    if _tmpfile_ok:
        try:
            fd = os.open(os.path.dirname(path) or ".", os.O_TMPFILE | os.O_WRONLY, mode)
        except OSError:
            _tmpfile_ok = False  # the filesystem cannot; don't ask again
        else:
            try:
                _write_all(fd, data)
                st = os.fstat(fd)
                _linkat_fd(fd, path)
                return st
            except FileExistsError:
                return None
            except OSError as e:
                if e.errno not in (errno.ENOENT, errno.EXDEV, errno.EPERM, errno.ENOSYS):
                    raise
                _tmpfile_ok = False  # no /proc, or linkat refused: fall back for good
            finally:
                os.close(fd)
    if os.path.lexists(path):
        return None
    return write_bytes_atomic(path, data, mode)


def _linkat_fd(fd: int, path: str) -> None:
    libc = _libc()
    src = f"/proc/self/fd/{fd}".encode()
    if libc.linkat(_AT_FDCWD, src, _AT_FDCWD, os.fsencode(path), _AT_SYMLINK_FOLLOW) != 0:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)


_AT_FDCWD, _AT_SYMLINK_FOLLOW = -100, 0x400
_libc_handle = None


def _libc():
    # os.link cannot name an O_TMPFILE inode (it never follows /proc's magic links).
    global _libc_handle
    if _libc_handle is None:
        import ctypes

        _libc_handle = ctypes.CDLL(None, use_errno=True)
    return _libc_handle


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_text_atomic(path: str, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8", "surrogateescape"))


def unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

"""Linking an object out of the cache (or a file into it): reflink, hardlink, symlink,
and which of them this file system refuses, learnt once per run.

Copying is the object store's own (lode.store.objects): a copy is checked against the
object's name as its bytes pass, the other kinds are checked before they are made.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable

from lode.atomic import tmp_name, unlink_quiet
from lode.errors import ConfigError
from lode.store.statcache import Stat, stat_key

FICLONE = 0x40049409  # linux/fs.h
NO_LINK = {errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.ENOSYS, errno.EPERM}
KINDS = ("reflink", "hardlink", "symlink", "copy")


class LinkUnsupported(Exception):
    pass


class Links:
    """The link kinds tried so far that this file system refuses (`broken`), so each
    refusal costs one failed system call per run, not one per file."""

    def __init__(self) -> None:
        self.broken: set[str] = set()

    def reflink(self, src_fd: int, dst_fd: int) -> bool:
        """Clone src's extents into dst; False where reflinks are not supported."""
        if "reflink" in self.broken:
            return False
        try:
            fcntl.ioctl(dst_fd, FICLONE, src_fd)
            return True
        except OSError as e:
            if e.errno in NO_LINK:
                self.broken.add("reflink")
                return False
            raise

    def place(self, kind: str, obj: str, dest: str, isexec: bool) -> Stat:
        """Make `dest` a `kind` ("reflink", "hardlink" or "symlink") of the object file
        `obj`, atomically replacing whatever is there; LinkUnsupported when this file
        system cannot."""
        if kind == "reflink":
            return self._place_reflink(obj, dest, isexec)
        if kind == "hardlink":
            return _place_hardlink(obj, dest)
        if kind == "symlink":
            return _place_symlink(obj, dest)
        raise ValueError(kind)

    def _place_reflink(self, obj: str, dest: str, isexec: bool) -> Stat:
        def make(tmp: str) -> None:
            with open(obj, "rb") as fsrc:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o777 if isexec else 0o666)
                try:
                    if not self.reflink(fsrc.fileno(), fd):
                        raise LinkUnsupported
                finally:
                    os.close(fd)

        return _place(dest, make)


def _place(dest: str, make: Callable[[str], None]) -> Stat:
    tmp = tmp_name(dest)
    try:
        make(tmp)
        os.replace(tmp, dest)
    except BaseException:
        unlink_quiet(tmp)
        raise
    return stat_key(os.stat(dest))


def _place_hardlink(obj: str, dest: str) -> Stat:
    try:
        if os.path.samefile(obj, dest):
            return stat_key(os.stat(dest))
    except OSError:
        pass

    def make(tmp: str) -> None:
        try:
            os.link(obj, tmp)
        except OSError as e:
            if e.errno in NO_LINK or e.errno == errno.EMLINK:
                raise LinkUnsupported from e
            raise

    return _place(dest, make)


def _place_symlink(obj: str, dest: str) -> Stat:
    target = os.path.abspath(obj)
    if os.path.islink(dest) and os.readlink(dest) == target:
        return stat_key(os.stat(dest))
    return _place(dest, lambda tmp: os.symlink(target, tmp))


def parse_link_types(value: str, strict: bool = False) -> list[str]:
    """`cache.type` ('reflink,copy', DVC's comma-separated list) as link kinds, in order;
    ConfigError for an unknown kind, and with `strict` (a value being written) for an
    empty item too."""
    types = [t.strip() for t in value.split(",")]
    if not strict:
        types = [t for t in types if t]
    if not types or any(t not in KINDS for t in types):
        raise ConfigError(
            f"cache.type '{value}' is not valid; use a comma-separated list of "
            "reflink, hardlink, symlink, copy."
        )
    return types

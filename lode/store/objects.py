"""The content-addressed object store `.dvc/cache/files/md5/<2>/<30>`: layout, insertion,
verified reading, and putting an object into the workspace.

Objects are written to a temporary file and renamed into place, read-only (0444). An
object is linked into the workspace only after its bytes were checked against its name:
while copying (free, the bytes pass through anyway), or through the stat cache, which
remembers objects lode already verified. The kinds of link are lode.store.links.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat as stat_mod

from lode.atomic import create_atomic, tmp_name, unlink_quiet, write_bytes_atomic
from lode.errors import MalformedError, TargetError
from lode.store.hashinfo import check_md5, content_md5
from lode.store.hashing import SMALL, copy_with_md5, md5_dos2unix_file, md5_file, read_all
from lode.store.links import NO_LINK, Links, LinkUnsupported
from lode.store.manifest import parse_manifest
from lode.store.statcache import Stat, StatCache, stat_key

OBJ_MODE = 0o444


class CorruptObject(Exception):
    def __init__(self, md5: str, path: str) -> None:
        super().__init__(md5)
        self.md5, self.path = md5, path


class MissingObject(Exception):
    def __init__(self, md5: str, path: str) -> None:
        super().__init__(md5)
        self.md5, self.path = md5, path


class ObjectStore:
    def __init__(self, root: str, stat: StatCache) -> None:
        self.root = root
        self.stat = stat
        self.files_dir = os.path.join(root, "files", "md5")
        self._dirs: set[str] = set()
        self.links = Links()

    # -- layout ------------------------------------------------------------------------
    def path(self, md5: str, legacy: bool = False) -> str:
        """Where the object lives; only ever built from a valid md5 (the parsers check every
        hash they read, so this refusal is the last line, not the first)."""
        check_md5(md5, "an object name")
        base = self.root if legacy else self.files_dir
        return os.path.join(base, md5[:2], md5[2:])

    def exists(self, md5: str, legacy: bool = False) -> bool:
        return os.path.exists(self.path(md5, legacy))

    def _tmp(self) -> str:
        # Bytes copied while hashed have no name yet: stage them at the top of the store.
        self._mkdir(self.files_dir)
        return tmp_name(os.path.join(self.files_dir, "object"))

    def _mkdir(self, d: str) -> None:
        if d not in self._dirs:
            os.makedirs(d, exist_ok=True)
            self._dirs.add(d)

    def _commit_tmp(self, tmp: str, md5: str) -> str:
        dest = self.path(md5)
        self._mkdir(os.path.dirname(dest))
        os.replace(tmp, dest)
        return dest

    # -- insertion ---------------------------------------------------------------------
    def staging_path(self, md5: str) -> str:
        """A temporary name beside the object's final place, for a download."""
        dest = self.path(md5)
        self._mkdir(os.path.dirname(dest))
        return tmp_name(dest)

    def adopt(self, md5: str, tmp: str) -> bool:
        """Move a downloaded file into the store if its bytes match `md5`; a mismatch
        deletes it and returns False (nothing unverified ever enters the cache)."""
        try:
            if md5_file(tmp) != content_md5(md5):
                unlink_quiet(tmp)
                return False
            os.chmod(tmp, OBJ_MODE)
            os.replace(tmp, self.path(md5))
        except BaseException:
            unlink_quiet(tmp)
            raise
        return True

    def adopt_bytes(self, md5: str, data: bytes) -> bool:
        """`adopt` for bytes already in memory."""
        if hashlib.md5(data).hexdigest() != content_md5(md5):
            return False
        dest = self.path(md5)
        self._mkdir(os.path.dirname(dest))
        write_bytes_atomic(dest, data, OBJ_MODE)  # fetched because absent: no check first
        return True

    def add_bytes(self, md5: str, data: bytes) -> None:
        dest = self.path(md5)
        self._mkdir(os.path.dirname(dest))
        create_atomic(dest, data, OBJ_MODE)  # an existing object is simply kept

    def add_file(self, src: str, link_types: list[str], md5: str | None = None) -> tuple[str, Stat]:
        """Put the file's bytes into the store; return (md5, stat of src as hashed).

        With a known md5 whose object exists this touches nothing. Hardlink/symlink
        caches take the file's inode itself (no copy: the workspace file becomes the
        read-only object); otherwise the bytes are reflinked, or copied while hashed.
        """
        if md5 is not None and self.exists(md5):
            return md5, stat_key(os.stat(src))
        if link_types[0] in ("hardlink", "symlink") and "hardlink" not in self.links.broken:
            try:
                return self._add_by_link(src, md5)
            except LinkUnsupported:
                self.links.broken.add("hardlink")
        fd = os.open(src, os.O_RDONLY)
        try:
            st = os.fstat(fd)
            if stat_mod.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), src)
            if st.st_size < SMALL:
                return self._add_small(fd, st.st_size), stat_key(st)
            return self._add_large(src, fd, st, link_types), stat_key(st)
        finally:
            os.close(fd)

    def _add_small(self, src_fd: int, size: int) -> str:
        """Read, hash, then write beside the final name. Staging thousands of small files
        in one shared directory serialises every thread on that directory's lock; spread
        over the 256 prefix directories they proceed in parallel."""
        data = read_all(src_fd, size)
        md5 = hashlib.md5(data).hexdigest()
        self.add_bytes(md5, data)
        return md5

    def _add_large(self, src: str, src_fd: int, st: os.stat_result, link_types: list[str]) -> str:
        tmp = self._tmp()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OBJ_MODE)
            try:
                if "reflink" in link_types and self.links.reflink(src_fd, fd):
                    got = md5_file(src)
                else:
                    got, _ = copy_with_md5(src_fd, fd, st.st_size, dst_name=self.root)
            finally:
                os.close(fd)
            if self.exists(got):
                os.unlink(tmp)
            else:
                self._commit_tmp(tmp, got)
        except BaseException:
            unlink_quiet(tmp)
            raise
        return got

    def _add_by_link(self, src: str, md5: str | None) -> tuple[str, Stat]:
        before = stat_key(os.stat(src))
        got = md5 or md5_file(src)
        if self.exists(got):
            return got, before
        tmp = self._tmp()
        try:
            os.link(src, tmp)
        except OSError as e:
            if e.errno in NO_LINK:
                raise LinkUnsupported from e
            raise
        try:
            if stat_key(os.stat(tmp)) != before:
                raise TargetError(f"'{src}' changed while it was being added; add it again.")
            os.chmod(tmp, OBJ_MODE)
            self._commit_tmp(tmp, got)
        except BaseException:
            unlink_quiet(tmp)
            raise
        return got, stat_key(os.stat(src))

    # -- reading and verifying ---------------------------------------------------------
    def read_verified(self, md5: str, legacy: bool = False) -> bytes:
        """The bytes of a (small) object, checked against its name."""
        path = self.path(md5, legacy)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise MissingObject(md5, path) from None
        if hashlib.md5(data).hexdigest() != content_md5(md5):
            raise CorruptObject(md5, path)
        return data

    def read_manifest(self, md5: str, legacy: bool = False) -> list[tuple[str, str]]:
        """The (relpath, md5) entries of a directory object, verified and validated whole."""
        return parse_manifest(self.read_verified(md5, legacy), f"directory manifest {md5}")

    def is_sound(self, md5: str, path: str | None = None, legacy: bool = False) -> bool:
        """Rehash the object (unless the stat cache vouches for it)."""
        path = path or self.path(md5, legacy)
        try:
            st = stat_key(os.stat(path))
        except FileNotFoundError:
            raise MissingObject(md5, path) from None
        if self.stat.get(path, st) == md5:
            return True
        ok = _matches(md5_file(path), content_md5(md5), path, legacy)
        if ok:
            self.stat.put_trusted([(path, st, md5)])
        return ok

    def dir_complete(self, md5: str, legacy: bool = False) -> bool:
        """The manifest and every object it names are in the store (no rehash, as DVC).

        Remembered against the mtimes of the store's prefix directories: removing an
        object changes its directory's mtime, so 256 stats replace 20,000.
        """
        sig = self._layout_signature()
        key = ("complete-legacy:" if legacy else "complete:") + md5
        if self.stat.memo_holds(key, sig):
            return True
        try:
            entries = self.read_manifest(md5, legacy)
        except (MissingObject, CorruptObject, MalformedError):
            return False
        exists, path = os.path.exists, self.path
        if all(exists(path(m, legacy)) for _, m in entries):
            self.stat.memo_put(key, sig)
            return True
        return False

    def _layout_signature(self) -> str:
        h = hashlib.md5()
        try:
            with os.scandir(self.files_dir) as it:
                for e in sorted(it, key=lambda e: e.name):
                    if len(e.name) == 2:
                        h.update(f"{e.name}:{e.stat().st_mtime_ns};".encode())
        except FileNotFoundError:
            pass
        return h.hexdigest()

    # -- linking out -------------------------------------------------------------------
    def link(
        self, md5: str, dest: str, link_types: list[str], isexec: bool = False, legacy: bool = False
    ) -> Stat:
        """Make `dest` hold the object's bytes (atomically replacing whatever is there) using
        the first link type that works here; return the stat of the new `dest`."""
        obj = self.path(md5, legacy)
        for lt in link_types:
            if lt in self.links.broken:
                continue
            try:
                if lt == "copy":
                    return self._link_copy(md5, obj, dest, isexec, legacy)
                if not self.is_sound(md5, obj, legacy):
                    raise CorruptObject(md5, obj)
                return self.links.place(lt, obj, dest, isexec)
            except LinkUnsupported:
                self.links.broken.add(lt)
        raise LinkUnsupported(f"none of the cache types {', '.join(link_types)} works here")

    def _link_copy(self, md5: str, obj: str, dest: str, isexec: bool, legacy: bool) -> Stat:
        # The hot path of checkout: as few system calls per file as the job allows.
        mode = 0o777 if isexec else 0o666
        try:
            src = os.open(obj, os.O_RDONLY)
        except FileNotFoundError:
            raise MissingObject(md5, obj) from None
        try:
            size = os.fstat(src).st_size
            if size < SMALL:
                data = read_all(src, size)
                if not _matches(hashlib.md5(data).hexdigest(), md5, obj, legacy):
                    raise CorruptObject(md5, obj)
                st_new = create_atomic(dest, data, mode) or write_bytes_atomic(dest, data, mode)
                return stat_key(st_new)
            tmp = tmp_name(dest)
            try:  # the open inside the try, as in lode.atomic
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
                try:
                    got, _ = copy_with_md5(src, fd, size, dst_name=dest)
                    st = stat_key(os.fstat(fd))
                finally:
                    os.close(fd)
                if not _matches(got, md5, obj, legacy):
                    raise CorruptObject(md5, obj)
                os.replace(tmp, dest)
            except BaseException:
                unlink_quiet(tmp)
                raise
        finally:
            os.close(src)
        if size >= SMALL:
            self.stat.put_trusted([(obj, stat_key(os.stat(obj)), md5)])
        return st

    # -- enumeration -------------------------------------------------------------------
    def iter_objects(self):
        """(md5, path) of every object in the DVC-3 layout; temporary files are skipped."""
        try:
            prefixes = sorted(os.listdir(self.files_dir))
        except FileNotFoundError:
            return
        for prefix in prefixes:
            d = os.path.join(self.files_dir, prefix)
            if len(prefix) != 2 or not os.path.isdir(d):
                continue
            for name in sorted(os.listdir(d)):
                if not name.startswith("."):
                    yield prefix + name, os.path.join(d, name)


def _matches(got: str, name: str, obj: str, legacy: bool) -> bool:
    """Whether an object's md5 matches its name; a 2.x object may instead match by
    md5-dos2unix, which is computed only then."""
    return got == name or (legacy and md5_dos2unix_file(obj) == name)

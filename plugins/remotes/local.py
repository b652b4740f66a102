"""A remote that is a directory: a shared drive, an NFS mount, `file:///...`."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterable, Iterator

from lode.atomic import tmp_name, unlink_quiet, write_bytes_atomic
from lode.parallel import default_jobs as per_core
from lode.plugins.remote import FILES_PREFIX, Capabilities, Remote, RemoteError, RemoteMissing
from lode.store.hashing import SMALL, read_all

# Filesystems where each file operation is a network round trip: threads overlap the waits.
NETWORK_FS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "lustre", "gpfs",
    "beegfs", "afs", "ocfs2", "gfs2", "virtiofs", "fuse.sshfs", "fuse.s3fs", "fuse.gcsfuse",
    "fuse.rclone", "fuse.glusterfs", "fuse.cephfs", "fuse.juicefs", "fuse.goofys",
})


def fs_type(path: str, mounts: str = "/proc/self/mounts") -> str:
    """The type of the filesystem holding `path` (its deepest mount point), '' if unknown."""
    path = os.path.realpath(path)  # a remote that does not exist yet still has a parent
    try:
        with open(mounts, encoding="utf-8", errors="replace") as f:
            table = [line.split() for line in f]
    except OSError:
        return ""
    best, kind = "", ""
    for fields in table:
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def default_jobs(network: bool) -> int:
    """On a local disk creating small files is CPU work (system calls, inode allocation):
    one worker process per core (lode.parallel). On a network mount each call waits on a
    round trip, and eight threads in flight hide it."""
    return 8 if network else per_core()


def _read_if_small(path: str) -> bytes | None:
    """The file's bytes when it is under SMALL (one open, one fstat, one read), else None."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        return read_all(fd, size) if size < SMALL else None
    finally:
        os.close(fd)


class LocalRemote(Remote):
    schemes = ("local", "file")
    capabilities = Capabilities(jobs=8)

    def __init__(self, name: str, url: str, config: dict[str, str]) -> None:
        super().__init__(name, url, config)
        path = url[len("file://"):] if url.startswith("file://") else url
        # DVC resolves a relative remote path against the config file's directory (.dvc/)
        base = config.get("_config_dir", os.getcwd())
        self.root = os.path.normpath(os.path.join(base, os.path.expanduser(path)))
        self._dirs: set[str] = set()
        network = fs_type(self.root) in NETWORK_FS
        self.capabilities = Capabilities(jobs=self.configured_jobs(default_jobs(network)),
                                         processes=not network)

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"  # keys use "/", which every supported OS accepts

    def exists_many(self, keys: Iterable[str]) -> set[str]:
        keys = list(keys)
        if len(keys) > 64:  # listing a prefix dir beats one stat per key
            present = set()
            by_dir: dict[str, list[str]] = {}
            for k in keys:
                by_dir.setdefault(k.rsplit("/", 1)[0], []).append(k)
            for d, ks in by_dir.items():
                try:
                    names = set(os.listdir(self._path(d)))
                except (FileNotFoundError, NotADirectoryError):
                    continue
                present.update(k for k in ks if k.rsplit("/", 1)[1] in names)
            return present
        return {k for k in keys if os.path.isfile(self._path(k))}

    def _mkdir(self, d: str) -> None:
        if d not in self._dirs:
            os.makedirs(d, exist_ok=True)
            self._dirs.add(d)

    def upload(self, local_path: str, key: str) -> None:
        dest = self._path(key)
        tmp = None
        try:
            self._mkdir(os.path.dirname(dest))
            data = _read_if_small(local_path)
            if data is not None:
                # no existence check: push sends only what the remote lacks, and an
                # object is its content, so a racing writer can only put the same bytes
                write_bytes_atomic(dest, data, 0o444)  # read-only, as DVC leaves them
                return
            tmp = tmp_name(dest)
            shutil.copyfile(local_path, tmp)
            os.chmod(tmp, 0o444)
            os.replace(tmp, dest)
        except OSError as e:
            if tmp:
                unlink_quiet(tmp)
            if e.errno in (errno.EACCES, errno.EROFS, errno.ENOSPC, errno.EDQUOT):
                raise RemoteError(f"cannot write to remote '{self.name}' ({self.root}): "
                                  f"{e.strerror}.") from None
            raise

    def download(self, key: str, local_path: str) -> None:
        try:
            shutil.copyfile(self._path(key), local_path)
        except FileNotFoundError:
            raise RemoteMissing(f"'{key}' is not on remote '{self.name}'.") from None

    def read_small(self, key: str) -> bytes | None:
        try:
            return _read_if_small(self._path(key))
        except FileNotFoundError:
            raise RemoteMissing(f"'{key}' is not on remote '{self.name}'.") from None

    def list(self, prefix: str = FILES_PREFIX) -> Iterator[str]:
        base = self._path(prefix.rstrip("/"))
        for d, _, files in os.walk(base):
            rel = os.path.relpath(d, self.root).replace(os.sep, "/")
            for f in files:
                if not f.startswith("."):
                    yield f"{rel}/{f}"

    def delete(self, key: str) -> None:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            pass

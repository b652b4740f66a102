"""A remote that is a directory: a shared drive, an NFS mount, `file:///...`."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterable, Iterator

from lode.atomic import create_atomic, tmp_name
from lode.hashing import SMALL
from lode.remotes import FILES_PREFIX, Capabilities, Remote, RemoteError, RemoteMissing


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

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *key.split("/"))

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
        self._mkdir(os.path.dirname(dest))
        if os.path.getsize(local_path) < SMALL:
            # one read, then an anonymous file linked into place: no temporary name
            with open(local_path, "rb") as f:
                create_atomic(dest, f.read(), 0o444)
            return
        tmp = tmp_name(dest)
        try:
            shutil.copyfile(local_path, tmp)
            os.chmod(tmp, 0o444)  # as DVC leaves pushed objects
            os.replace(tmp, dest)
        except OSError as e:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            if e.errno in (errno.EACCES, errno.EROFS, errno.ENOSPC):
                raise RemoteError(f"cannot write to remote '{self.name}' ({self.root}): "
                                  f"{e.strerror}.") from None
            raise

    def download(self, key: str, local_path: str) -> None:
        try:
            shutil.copyfile(self._path(key), local_path)
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

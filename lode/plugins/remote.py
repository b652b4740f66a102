"""Remote storage: one small interface, plugins found through the `lode.remotes` entry-point
group (scheme -> class), so a third party adds a store without touching the core.

Keys are paths relative to the remote's URL in DVC 3's layout: `files/md5/<2>/<30>` for
objects, `runs/...` for the run cache. Retries, parallelism and progress are the transfer
engine's business (lode/remotes/transfer.py), not each plugin's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import ClassVar

from lode.errors import LodeError
from lode.store.hashinfo import check_md5

GROUP = "lode.remotes"
FILES_PREFIX = "files/md5/"


class RemoteError(LodeError):
    """A remote that cannot be reached, configured or written as asked."""


class RemoteMissing(RemoteError):
    """An object the remote does not hold."""


class TransientError(RemoteError):
    """A failure worth retrying (a timeout, a reset connection, a 5xx)."""


def object_key(md5: str) -> str:
    """The remote key of an object: built only from a valid md5, never from a path."""
    check_md5(md5, "an object name")
    return f"{FILES_PREFIX}{md5[:2]}/{md5[2:]}"


class Capabilities:
    """What the core may ask of a remote; the core asks, it never checks the class."""

    def __init__(self, jobs: int = 16, upload: bool = True, delete: bool = True,
                 run_cache: bool = True, processes: bool = False) -> None:
        self.jobs, self.upload, self.delete, self.run_cache = jobs, upload, delete, run_cache
        # Transfers are local file work (small system calls, no waiting): the core may run
        # them in forked processes instead of threads (lode.parallel says why).
        self.processes = processes


class Remote:
    """The interface every remote plugin implements."""

    schemes: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[frozenset[str]] = frozenset({"url"})  # config keys it accepts
    secrets: ClassVar[frozenset[str]] = frozenset()  # keys that belong in config.local only
    capabilities = Capabilities()

    def __init__(self, name: str, url: str, config: dict[str, str]) -> None:
        self.name, self.url, self.config = name, url, config

    def configured_jobs(self, default: int) -> int:
        """The remote's `jobs` option when it is a positive integer, else `default`."""
        raw = str(self.config.get("jobs") or "")
        return int(raw) if raw.isdigit() and int(raw) > 0 else default

    def exists_many(self, keys: Iterable[str]) -> set[str]:
        """The subset of `keys` the remote holds (batched by the plugin as it can)."""
        raise NotImplementedError

    def upload(self, local_path: str, key: str) -> None:
        """Store the file under `key`, atomically where the store allows."""
        raise NotImplementedError

    def download(self, key: str, local_path: str) -> None:
        """Write the object to `local_path` (a temporary file the caller renames);
        RemoteMissing when it is not there."""
        raise NotImplementedError

    def read_small(self, key: str) -> bytes | None:
        """The whole object when it is small (under `lode.store.hashing.SMALL`), else None and the
        caller downloads it to a file. Optional: most objects of a dataset are small, and a
        plugin that hands their bytes over spares a temporary file, a rename and a second
        read for the md5 on every one. RemoteMissing when it is not there."""
        return None

    def list(self, prefix: str = FILES_PREFIX) -> Iterator[str]:
        """Every key under `prefix`."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete every key; a plugin whose store deletes in batches overrides this."""
        for key in keys:
            self.delete(key)

    def close(self) -> None:
        pass


def plugins() -> dict[str, type[Remote]]:
    """scheme -> plugin class, from the installed entry points (imported lazily: each
    plugin imports its client library only when a remote of its scheme is opened)."""
    from importlib.metadata import entry_points

    found: dict[str, type[Remote]] = {}
    for ep in entry_points(group=GROUP):
        found[ep.name] = ep  # type: ignore[assignment]  # loaded on first use
    return found


def plugin_for(url: str) -> type[Remote]:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    entries = plugins()
    ep = entries.get(scheme or "local")
    if ep is None:
        known = ", ".join(sorted(s for s in entries if s != "local"))
        raise RemoteError(
            f"no remote plugin handles '{scheme}://' URLs.",
            f"Installed: a local directory, {known}; a plugin registers in the "
            f"'{GROUP}' entry-point group.",
        )
    try:
        return ep.load() if hasattr(ep, "load") else ep  # type: ignore[union-attr]
    except ImportError as e:
        raise RemoteError(
            f"the plugin for '{scheme or 'local'}' remotes cannot be loaded ({e}).",
            "Reinstall lode, or the package that provides that plugin.",
        ) from None

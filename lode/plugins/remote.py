"""Remote storage: one small interface, plugins found through the `lode.remotes` entry-point
group (scheme -> class), so a third party adds a store without touching the core.

Keys are paths relative to the remote's URL in DVC 3's layout: `files/md5/<2>/<30>` for
objects, `runs/...` for the run cache. Retries, parallelism and progress are the transfer
engine's business (lode/store/transfer.py), not each plugin's.

A plugin declares its options (`Option`, lode.plugins) beyond the ones every remote takes
(`Remote.options`); the secret ones are refused in the tracked `.dvc/config`. Its test
module runs the contract of lode.testing.remote against a real store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import ClassVar

from lode.errors import PluginError, RemoteError, RemoteMissing, TransientError, UnknownPlugin
from lode.plugins import Option, Plugin, Registry
from lode.store.transfer import FILES_PREFIX, object_key

__all__ = ["FILES_PREFIX", "GROUP", "REMOTES", "Capabilities", "Option", "Remote",
           "RemoteError", "RemoteMissing", "TransientError", "object_key", "plugin_for",
           "plugins"]

GROUP = "lode.remotes"


class Capabilities:
    """What the core may ask of a remote; the core asks, it never checks the class."""

    def __init__(self, jobs: int = 16, upload: bool = True, delete: bool = True,
                 run_cache: bool = True, processes: bool = False) -> None:
        self.jobs, self.upload, self.delete, self.run_cache = jobs, upload, delete, run_cache
        # Transfers are local file work (small system calls, no waiting): the core may run
        # them in forked processes instead of threads (lode.parallel says why).
        self.processes = processes


class Remote(Plugin):
    """The interface every remote plugin implements."""

    schemes: ClassVar[tuple[str, ...]] = ()
    # DVC's common remote schema: what every remote accepts, its plugin's own besides
    options = (
        Option("url", "where the remote is"),
        Option("jobs", "transfers at once"),
        Option("verify", "DVC's: verify downloads (lode always does)"),
        Option("push", "DVC's: whether push uses this remote"),
        Option("worktree", "DVC's: a version-aware worktree remote"),
        Option("version_aware", "DVC's: a version-aware remote"),
    )
    capabilities = Capabilities()

    @classmethod
    def problems(cls) -> list[str]:
        found = super().problems()
        if not (isinstance(cls.schemes, tuple) and cls.schemes
                and all(isinstance(s, str) and s for s in cls.schemes)):
            found.append("schemes is not a non-empty tuple of URL schemes")
        return found

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


REMOTES: Registry[Remote] = Registry(GROUP, Remote, "remote plugin")


def plugins() -> list[str]:
    """The schemes of the installed remote plugins ("local": a directory); none imported."""
    return REMOTES.names()


def plugin_for(url: str) -> type[Remote]:
    """The plugin class for `url`'s scheme (a path without one: a local directory), loaded
    on first use: each plugin imports its client library only then."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    try:
        return REMOTES.load(scheme or "local")
    except UnknownPlugin:
        known = ", ".join(s for s in plugins() if s != "local")
        raise RemoteError(
            f"no remote plugin handles '{scheme}://' URLs.",
            f"Installed: a local directory, {known}; a plugin registers in the "
            f"'{GROUP}' entry-point group.",
        ) from None
    except PluginError as e:
        why = str(e.cause) if isinstance(e.cause, ImportError) else e.why
        raise RemoteError(
            f"the plugin for '{scheme or 'local'}' remotes cannot be loaded ({why}).",
            "Reinstall lode, or the package that provides that plugin.",
        ) from None

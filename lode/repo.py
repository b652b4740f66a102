"""The repository context every operation receives: where things are, config, stores."""

from __future__ import annotations

import os
from functools import cached_property

from lode.config import Config
from lode.errors import NotARepoError, TargetError
from lode.flock import RepoLock
from lode.paths import check_no_links
from lode.store.ignore import Ignore
from lode.store.links import parse_link_types
from lode.store.objects import ObjectStore
from lode.store.statcache import StatCache

DVC_DIR = ".dvc"


def find_root(start: str | None = None) -> str:
    path = os.path.abspath(start or os.getcwd())
    while True:
        if os.path.isdir(os.path.join(path, DVC_DIR)):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            raise NotARepoError(
                "this is not a lode/DVC repository (no .dvc directory here or above).",
                "Run 'lode init' at the top of your Git repository first.",
            )
        path = parent


class Repo:
    def __init__(self, root: str) -> None:
        self.root = root
        self.dvc_dir = os.path.join(root, DVC_DIR)
        self.tmp_dir = os.path.join(self.dvc_dir, "tmp")
        self.state_dir = os.path.join(self.tmp_dir, "lode")

    @classmethod
    def find(cls, start: str | None = None) -> Repo:
        return cls(find_root(start))

    @cached_property
    def config(self) -> Config:
        return Config(self.dvc_dir)

    @cached_property
    def scm(self) -> bool:
        """Whether the repository works with Git (core.no_scm unset)."""
        return self.config.get("core", "no_scm", "false").lower() not in ("true", "1", "yes")

    @cached_property
    def cache_dir(self) -> str:
        configured = self.config.get("cache", "dir")
        if not configured:
            return os.path.join(self.dvc_dir, "cache")
        # DVC resolves a relative cache.dir against the .dvc directory.
        return os.path.normpath(os.path.join(self.dvc_dir, os.path.expanduser(configured)))

    @cached_property
    def link_types(self) -> list[str]:
        return parse_link_types(self.config.get("cache", "type") or "reflink,copy")

    @cached_property
    def objects(self) -> ObjectStore:
        """The object store: the cache's `files/md5/` (and the DVC 2 layout beside it)."""
        return ObjectStore(self.cache_dir, self.stat)

    @cached_property
    def stat(self) -> StatCache:
        return StatCache(os.path.join(self.state_dir, "stat.db"))

    @cached_property
    def ignore(self) -> Ignore:
        return Ignore(self.root)

    def lock(self) -> RepoLock:
        return RepoLock(os.path.join(self.tmp_dir, "lock"))

    def close(self) -> None:
        if "stat" in self.__dict__:
            self.stat.close()

    # -- paths -------------------------------------------------------------------------
    def rel(self, path: str) -> str:
        return os.path.relpath(path, self.root)

    def resolve(self, target: str, cwd: str | None = None) -> str:
        """Absolute, normalised path of a user-given target; must stay inside the repository
        and outside `.git` and `.dvc`."""
        path = os.path.normpath(os.path.join(cwd or os.getcwd(), target))
        rel = os.path.relpath(path, self.root)
        if rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
            raise TargetError(f"'{target}' is outside the repository at {self.root}.")
        first = rel.split(os.sep, 1)[0]
        if first in (".git", DVC_DIR):
            raise TargetError(f"'{target}' is inside {first}/, which lode does not track.")
        check_no_links(self.root, path)  # as DVC: nothing is added inside a linked directory
        return path

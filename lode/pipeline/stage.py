"""The stage model: what one dvc.yaml stage declares, with paths resolved against its wdir."""

from __future__ import annotations

import os
from typing import Any


class OutSpec:
    """One declared output (`outs`, `metrics` or `plots`) and its flags."""

    __slots__ = ("path", "kind", "cache", "persist", "options")

    def __init__(
        self,
        path: str,
        kind: str = "outs",
        cache: bool = True,
        persist: bool = False,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.path, self.kind, self.cache, self.persist = path, kind, cache, persist
        self.options = options or {}  # plot options, desc, remote, push, ...

    def __repr__(self) -> str:
        return f"OutSpec({self.path!r}, {self.kind})"


class ParamsSpec:
    """Keys of one parameters file a stage reads; `keys` None means the whole file."""

    __slots__ = ("path", "keys")

    def __init__(self, path: str, keys: list[str] | None) -> None:
        self.path, self.keys = path, keys

    def __repr__(self) -> str:
        return f"ParamsSpec({self.path!r}, {self.keys!r})"


class Stage:
    """A stage after interpolation and generation (`foreach`/`matrix` yield one each)."""

    def __init__(
        self,
        name: str,
        dvcfile: str,
        wdir: str,
        cmd: str | list[str],
        deps: list[str] | None = None,
        params: list[ParamsSpec] | None = None,
        outs: list[OutSpec] | None = None,
        frozen: bool = False,
        always_changed: bool = False,
        desc: str | None = None,
    ) -> None:
        self.name = name
        self.dvcfile = dvcfile  # absolute path of its dvc.yaml
        self.wdir = wdir  # absolute
        self.cmd = cmd
        self.deps = deps or []
        self.params = params or []
        self.outs = outs or []
        self.frozen, self.always_changed, self.desc = frozen, always_changed, desc
        self.resources: dict = {}  # cpus, mem, gpus from `meta.resources`, for executors

    def __repr__(self) -> str:
        return f"Stage({self.name!r})"

    @property
    def commands(self) -> list[str]:
        return self.cmd if isinstance(self.cmd, list) else [self.cmd]

    def abspath(self, path: str) -> str:
        return os.path.normpath(os.path.join(self.wdir, path))

    @property
    def dep_paths(self) -> list[str]:
        return [self.abspath(d) for d in self.deps]

    @property
    def out_paths(self) -> list[str]:
        return [self.abspath(o.path) for o in self.outs]

    def address(self, cwd: str | None = None) -> str:
        """How DVC names the stage: `name` for the dvc.yaml in the current directory,
        `path/to/dvc.yaml:name` otherwise."""
        rel = os.path.relpath(self.dvcfile, cwd or os.getcwd())
        return self.name if rel == "dvc.yaml" else f"{rel}:{self.name}"

    @property
    def run_cacheable(self) -> bool:
        """DVC's rule for restoring instead of running: a command, deps and outs, not
        always changed, nothing persistent, and no plain output kept out of the cache
        (metrics and plots with `cache: false` are fine: the run cache keeps them)."""
        return bool(
            self.cmd and self.deps and self.outs and not self.always_changed
            and not any(o.persist for o in self.outs)
            and not any(o.kind == "outs" and not o.cache for o in self.outs)
        )

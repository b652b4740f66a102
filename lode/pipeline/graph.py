"""All the stages of a repository as one graph: found, checked, ordered, selected."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import TypeVar

from lode.errors import LodeError, TargetError
from lode.pipeline import dvcfile
from lode.pipeline.stage import Stage
from lode.store.lockfile import Lockfile
from lode.store.targets import scan

N = TypeVar("N")


class PipelineError(LodeError):
    """A pipeline that cannot run as declared: a cycle, an output owned twice, ..."""


def _ancestors(path: str, root: str):
    d = os.path.dirname(path)
    while len(d) > len(root):
        yield d
        d = os.path.dirname(d)


class Project:
    """Every dvc.yaml of the repository, parsed; the producer of every output; the edges."""

    def __init__(
        self,
        repo,
        parsed: list[tuple[str, list[Stage], dict]],
        pointer_outs: dict[str, str] | None = None,
    ) -> None:
        self.repo = repo
        self.stages: list[Stage] = [s for _, stages, _ in parsed for s in stages]
        self.docs: dict[str, dict] = {path: doc for path, _, doc in parsed}
        self._pointer_outs = pointer_outs or {}
        self._locks: dict[str, Lockfile] = {}
        self.producer: dict[str, Stage] = {}
        self._check_outputs()
        self.upstream = {s: self._upstream(s) for s in self.stages}
        self._check_cycles()

    # -- validation --------------------------------------------------------------------
    def _check_outputs(self) -> None:
        for stage in self.stages:
            outs = set(stage.out_paths)
            for dep, path in zip(stage.deps, stage.dep_paths, strict=True):
                if path in outs or any(d in outs for d in _ancestors(path, self.repo.root)):
                    raise PipelineError(
                        f"stage '{stage.address()}' declares '{dep}' both as a dependency "
                        "and as (inside) an output.",
                        "A stage cannot rewrite its own input; write to a new path.",
                    )
        for stage in self.stages:
            for out in stage.outs:
                path = stage.abspath(out.path)  # inside the repository: dvcfile.load confines it
                rel = self.repo.rel(path)
                other = self.producer.get(path)
                if other is not None:
                    who = (
                        f"'{other.address()}' and '{stage.address()}'"
                        if other is not stage
                        else f"'{stage.address()}' twice"
                    )
                    raise PipelineError(f"output '{rel}' is declared by {who}.",
                                        "An output must have exactly one stage.")
                if path in self._pointer_outs:
                    raise PipelineError(
                        f"output '{rel}' of stage '{stage.address()}' is already tracked by "
                        f"'{self._pointer_outs[path]}'.",
                        "Remove that .dvc file (lode keeps the data in the cache).",
                    )
                self.producer[path] = stage
        for path, stage in self.producer.items():
            for d in _ancestors(path, self.repo.root):
                outer = self.producer.get(d)
                if outer is not None:
                    raise PipelineError(
                        f"output '{self.repo.rel(path)}' of stage '{stage.address()}' is inside "
                        f"output '{self.repo.rel(d)}' of stage '{outer.address()}'.",
                        "Outputs cannot overlap.",
                    )

    @cached_property
    def _out_ancestors(self) -> dict[str, list[Stage]]:
        index: dict[str, list[Stage]] = {}
        for path, stage in self.producer.items():
            for d in _ancestors(path, self.repo.root):
                index.setdefault(d, []).append(stage)
        return index

    def producers_of(self, path: str) -> list[Stage]:
        """Stages whose outputs are `path`, contain it, or lie inside it."""
        found = [self.producer[d] for d in (path, *_ancestors(path, self.repo.root))
                 if d in self.producer]
        return found + self._out_ancestors.get(path, [])

    def tracked_by(self, path: str) -> str | None:
        """The .dvc file tracking `path` or a directory holding it, if any."""
        for d in (path, *_ancestors(path, self.repo.root)):
            if d in self._pointer_outs:
                return self._pointer_outs[d]
        return None

    def _upstream(self, stage: Stage) -> list[Stage]:
        if stage.frozen:
            return []  # as DVC: a frozen stage cuts its link to what it reads
        ups: list[Stage] = []
        for dep in stage.dep_paths + [stage.abspath(p.path) for p in stage.params]:
            for s in self.producers_of(dep):
                if s is not stage and s not in ups:
                    ups.append(s)
        return ups

    def _check_cycles(self) -> None:
        cycle = find_cycle(self.stages, self.upstream)
        if cycle:
            names = " -> ".join(s.address() for s in cycle)
            raise PipelineError(f"the pipeline has a cycle: {names}.")

    def resolve_targets(self, targets: list[str] | None, cwd: str | None = None) -> list[Stage]:
        """`stage`, `group` (all its foreach/matrix stages), `path/dvc.yaml`,
        `path/dvc.yaml:stage`, or a directory holding a dvc.yaml. No target: the
        dvc.yaml of the current directory, as DVC does."""
        cwd = cwd or os.getcwd()
        if not targets:
            default = os.path.join(cwd, dvcfile.DVCFILE)
            if default not in self.docs:
                raise TargetError(
                    "there is no dvc.yaml in this directory.",
                    "Name a stage or a dvc.yaml, or run from the pipeline's directory.",
                )
            return [s for s in self.stages if s.dvcfile == default]
        chosen: list[Stage] = []
        for t in targets:
            for s in self._target(t, cwd):
                if s not in chosen:
                    chosen.append(s)
        return chosen

    def _split(self, target: str, cwd: str) -> tuple[str, str, str]:
        """(path, ':', name) of a target. DVC accepts stage names holding ':', so a
        `dvc.yaml:` prefix is split at, and a whole target naming a stage of ./dvc.yaml
        is that stage, before the last ':' is taken to separate a path."""
        marker = target.find(dvcfile.DVCFILE + ":")
        if marker >= 0:
            cut = marker + len(dvcfile.DVCFILE)
            return target[:cut], ":", target[cut + 1:]
        here = os.path.join(cwd, dvcfile.DVCFILE)
        if ":" in target and any(s.name == target and s.dvcfile == here for s in self.stages):
            return "", "", target
        return target.rpartition(":")

    def _target(self, target: str, cwd: str) -> list[Stage]:
        path, sep, name = self._split(target, cwd)
        if sep:
            file = os.path.normpath(os.path.join(cwd, path or "."))
            if os.path.basename(file) != dvcfile.DVCFILE:
                file = os.path.join(file, dvcfile.DVCFILE)
        else:
            whole = os.path.normpath(os.path.join(cwd, target))
            inner = os.path.join(whole, dvcfile.DVCFILE)
            if os.path.basename(whole) == dvcfile.DVCFILE or (
                os.path.isdir(whole) and inner in self.docs
            ):
                file, name = (whole if whole.endswith(dvcfile.DVCFILE) else inner), ""
            else:
                file, name = os.path.join(cwd, dvcfile.DVCFILE), target
        if file not in self.docs:
            raise TargetError(f"'{target}' names no stage: there is no {self.repo.rel(file)}.")
        if not name:
            return [s for s in self.stages if s.dvcfile == file]
        here = [s for s in self.stages if s.dvcfile == file]
        exact = [s for s in here if s.name == name]
        group = [s for s in here if s.name.startswith(name + dvcfile.GENERATED)]
        if exact or group:
            return exact or group
        known = ", ".join(s.name for s in here[:8]) or "none"
        raise TargetError(
            f"'{target}' is not a stage of {self.repo.rel(file)}.", f"Its stages: {known}."
        )

    def plan(self, chosen: list[Stage], single: bool = False, downstream: bool = False
             ) -> list[Stage]:
        """The stages to consider, upstream first."""
        if single:
            keep = set(chosen)
        elif downstream:
            below: dict[Stage, list[Stage]] = {}
            for s, ups in self.upstream.items():
                for u in ups:
                    below.setdefault(u, []).append(s)
            keep, todo = set(chosen), list(chosen)
            while todo:
                for s in below.get(todo.pop(), []):
                    if s not in keep:
                        keep.add(s)
                        todo.append(s)
        else:
            keep, todo = set(chosen), list(chosen)
            while todo:
                for u in self.upstream[todo.pop()]:
                    if u not in keep:
                        keep.add(u)
                        todo.append(u)
        return [s for s in self.topological() if s in keep]

    def topological(self) -> list[Stage]:
        order: list[Stage] = []
        done: set[Stage] = set()

        def visit(s: Stage) -> None:
            stack = [(s, iter(self.upstream[s]))]
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    stack.pop()
                    if node not in done:
                        done.add(node)
                        order.append(node)
                elif nxt not in done:
                    stack.append((nxt, iter(self.upstream[nxt])))

        for s in self.stages:
            if s not in done:
                visit(s)
        return order

    # -- lock files --------------------------------------------------------------------
    def recorded_outs(self, stage: Stage) -> list[dict]:
        """The lock records of the stage's cached outputs that have a hash."""
        entry = self.lockfile(stage).get(stage.name) or {}
        cached = {o.path for o in stage.outs if o.cache}
        return [r for r in entry.get("outs") or []
                if isinstance(r, dict) and r.get("path") in cached and r.get("md5")]

    def lockfile(self, stage: Stage) -> Lockfile:
        path = os.path.join(os.path.dirname(stage.dvcfile), dvcfile.LOCKFILE)
        lock = self._locks.get(path)
        if lock is None:
            order = [s.name for s in self.topological() if s.dvcfile == stage.dvcfile]
            lock = self._locks[path] = Lockfile(path, self.repo.rel(path), order)
        return lock


def load_project(repo, pointers: list | None = None) -> Project:
    """Parse every dvc.yaml; a stage's output directories are not searched for more."""
    parsed: list[tuple[str, list[Stage], dict]] = []

    def on_dvcfile(path: str) -> list[str]:
        stages, doc = dvcfile.load(path, repo.root)
        parsed.append((path, stages, doc))
        return [s.abspath(o.path) for s in stages for o in s.outs]

    found = scan(repo, on_dvcfile)
    if pointers is not None:
        pointers.extend(found)
    outs = _pointer_outs(repo, found)
    parsed.sort(key=lambda t: t[0])
    return Project(repo, parsed, outs)


def is_stage_target(project: Project, target: str) -> bool:
    """Whether a command-line target names stages (`dvc.yaml`, `file:stage`, a directory
    holding a dvc.yaml, a stage of ./dvc.yaml) rather than a tracked path."""
    if ":" in target or os.path.basename(target) == "dvc.yaml":
        return True
    if os.path.isfile(os.path.join(target, "dvc.yaml")):
        return True
    if os.path.lexists(target) or os.path.lexists(target + ".dvc"):
        return False
    here = os.path.join(os.getcwd(), "dvc.yaml")
    return any(
        s.dvcfile == here and (s.name == target or s.name.startswith(target + "@"))
        for s in project.stages
    )


def _pointer_outs(repo, found: list) -> dict[str, str]:
    """Output path -> the .dvc file tracking it; a path tracked twice, or inside another
    tracked output, is refused (checking one out would overwrite or delete the other)."""
    outs: dict[str, str] = {}
    for p in found:
        for o in p.outs:
            path, rel = p.out_abspath(o), repo.rel(p.path)
            if path in outs and outs[path] != rel:
                raise PipelineError(f"'{repo.rel(path)}' is tracked by both '{outs[path]}' "
                                    f"and '{rel}'.", "Remove one of them.")
            outs[path] = rel
    for path, rel in outs.items():
        for d in _ancestors(path, repo.root):
            if d in outs:
                raise PipelineError(f"'{repo.rel(path)}' (tracked by '{rel}') is inside "
                                    f"'{repo.rel(d)}' (tracked by '{outs[d]}').",
                                    "Outputs cannot overlap.")
    return outs


def find_cycle(nodes: Iterable[N], upstream: Mapping[N, Iterable[N]]) -> list[N]:
    """One cycle of the graph (`upstream[n]`: what n depends on), upstream first and
    closed (`a, b, a`); [] when there is none. Iterative: a pipeline may be deep."""
    state: dict[N, int] = {}  # 1 on the current path, 2 done
    for start in nodes:
        if state.get(start):
            continue
        stack = [iter(upstream.get(start, ()))]
        path = [start]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return (path[path.index(nxt):] + [nxt])[::-1]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(upstream.get(nxt, ())))
    return []

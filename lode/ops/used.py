"""Which objects a command moves: those the workspace's pointers and dvc.lock files name
(or only the targets'), directories expanded to their files."""

from __future__ import annotations

import os

from lode.pipeline.graph import is_stage_target, load_project
from lode.store import transfer
from lode.store.hashinfo import is_dir_md5
from lode.store.targets import pointer_for


class Used:
    """Object md5s by kind; `paths` names where each came from, for error messages."""

    def __init__(self) -> None:
        self.files: set[str] = set()
        self.dirs: set[str] = set()
        self.paths: dict[str, str] = {}

    def add(self, md5: str, path: str) -> None:
        (self.dirs if is_dir_md5(md5) else self.files).add(md5)
        self.paths.setdefault(md5, path)

    def add_pointer(self, repo, pointer) -> None:
        for out in pointer.outs:
            if out.cached and out.md5 and not out.legacy:
                self.add(out.md5, repo.rel(pointer.out_abspath(out)))

    def add_stages(self, repo, project, stages) -> None:
        for stage in stages:
            for rec in project.recorded_outs(stage):
                self.add(rec["md5"], repo.rel(stage.abspath(rec["path"])))

    def __len__(self) -> int:
        return len(self.files) + len(self.dirs)


def collect(repo, targets: list[str] | None = None) -> Used:
    """The objects named by the targets (a data path, a .dvc file, a stage, a dvc.yaml),
    or by everything in the workspace."""
    pointers: list = []
    project = load_project(repo, pointers)
    stages = project.stages
    if targets:
        stages, chosen = [], []
        for t in targets:
            if is_stage_target(project, t):
                stages += project.resolve_targets([t])
            else:
                chosen.append(pointer_for(repo, t)[0])
        pointers = chosen
    used = Used()
    for p in pointers:
        used.add_pointer(repo, p)
    used.add_stages(repo, project, stages)
    return used


def expand(repo, used: Used) -> tuple[set[str], list[tuple[str, str]]]:
    """The file objects inside the directories of `used` whose manifests are in the cache,
    and (md5, why) for each manifest that is not."""
    return transfer.expand(repo, used.dirs, used.paths)


def for_stages(repo, project, stages) -> tuple[Used, list[str]]:
    """What `repro --pull` fetches: the tracked data the stages read (and the .dvc files
    to check out for it), and the outputs dvc.lock records for them, so that unchanged
    stages restore instead of running."""
    used = Used()
    pointer_targets: list[str] = []
    for stage in stages:
        for dep in stage.dep_paths:
            owner = project.tracked_by(dep)
            if owner and owner not in pointer_targets:
                pointer_targets.append(owner)
    for target in pointer_targets:
        used.add_pointer(repo, pointer_for(repo, os.path.join(repo.root, target))[0])
    used.add_stages(repo, project, stages)
    return used, [os.path.join(repo.root, t) for t in pointer_targets]

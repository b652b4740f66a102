"""`lode status`: how the workspace differs from the pointers and the pipelines' dvc.lock,
in DVC's JSON shape."""

from __future__ import annotations

import os

from lode.pipeline.graph import is_stage_target, load_project
from lode.pipeline.state import stage_status
from lode.store.outputs import out_state
from lode.store.targets import pointer_for


def status(repo, targets: list[str] | None) -> dict[str, list] | None:
    """{pointer or stage: [changes]} with paths relative to the current directory, as
    DVC prints them; None when nothing at all is tracked."""
    pointers: list = []
    project = load_project(repo, pointers)
    if targets:
        stages, seen = [], set()
        pointers = []
        for t in targets:
            if is_stage_target(project, t):
                stages += [s for s in project.resolve_targets([t]) if s not in stages]
            else:
                p, _ = pointer_for(repo, t)
                if p.path not in seen:
                    seen.add(p.path)
                    pointers.append(p)
    else:
        stages = project.topological()
    if not pointers and not stages:
        return None
    report: dict[str, list] = {}
    for stage in stages:
        changes = stage_status(repo, stage, project.lockfile(stage).get(stage.name))
        if changes:
            report[stage.address()] = changes
    for pointer in pointers:
        changed: dict[str, str] = {}
        for out in pointer.outs:
            path = pointer.out_abspath(out)
            state = out_state(repo, path, out)
            if state:
                changed[os.path.relpath(path)] = state
        if changed:
            report[os.path.relpath(pointer.path)] = [{"changed outs": changed}]
    return report

"""`lode status`: how the workspace differs from the pointers and the pipelines' dvc.lock,
in DVC's JSON shape."""

from __future__ import annotations

import os

from lode.errors import TargetError
from lode.store.targets import pointer_for


def is_stage_target(project, target: str) -> bool:
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


def status(repo, targets: list[str] | None) -> dict[str, list] | None:
    """{pointer or stage: [changes]} with paths relative to the current directory, as
    DVC prints them; None when nothing at all is tracked."""
    from lode.pipeline.graph import load_project
    from lode.pipeline.state import stage_status

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


def out_state(repo, path: str, out) -> str | None:
    """DVC's precedence: a recorded object missing from the cache hides every other state."""
    if out.md5 and out.cached and not _in_cache(repo, out.md5, out.legacy):
        return "not in cache"
    if not os.path.lexists(path):
        return "deleted"
    if not out.md5:
        return "new"
    from lode.store.outputs import build

    try:
        built = build(repo, path)
    except TargetError:
        return "modified"
    if built.md5 != out.md5 and out.legacy and not out.is_dir:
        from lode.store.hashing import md5_dos2unix_file

        return None if md5_dos2unix_file(path) == out.md5 else "modified"
    return "modified" if built.md5 != out.md5 else None


def _in_cache(repo, md5: str, legacy: bool) -> bool:
    if md5.endswith(".dir"):
        return repo.odb.dir_complete(md5, legacy)
    return repo.odb.exists(md5, legacy)

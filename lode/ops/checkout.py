"""`lode checkout`: make the workspace match the pointers, from the cache."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from lode.errors import CheckoutError, ModifiedError
from lode.pipeline.graph import is_stage_target, load_project
from lode.store.hashinfo import is_dir_md5
from lode.store.materialize import execute, plan_dir, plan_file
from lode.store.targets import select_parts


@dataclass
class CheckoutResult:
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)


def _stage_plans(repo, targets: list[str] | None, relink: bool):
    """Plans for the cached outputs dvc.lock records (all stages, or the stage targets),
    and the pointers for the other targets (every pointer when there are no targets; the
    scan that found the pipelines found them too)."""
    pointers: list = []
    project = load_project(repo, pointers)
    stages, parts = project.stages, [(p, None) for p in pointers]
    if targets:
        stage_targets = [t for t in targets if is_stage_target(project, t)]
        rest = [t for t in targets if t not in stage_targets]
        stages = project.resolve_targets(stage_targets) if stage_targets else []
        parts = select_parts(repo, rest) if rest else []
    plans = []
    for stage in stages:
        for rec in project.recorded_outs(stage):
            path = stage.abspath(rec["path"])
            if is_dir_md5(rec["md5"]):
                plans.append(plan_dir(repo, path, rec["md5"], relink))
            else:
                plans.append(plan_file(repo, path, rec["md5"], bool(rec.get("isexec")), relink))
    return plans, parts


def checkout(repo, targets: list[str] | None, force: bool = False, relink: bool = False):
    plans, parts = _stage_plans(repo, targets, relink)
    for pointer, inner in parts:
        for out in pointer.outs:
            if not out.cached or not out.md5:
                continue
            path = pointer.out_abspath(out)
            only = _inner_rels(path, inner)
            if only == set():
                continue  # the targets name other outputs of this pointer
            if out.is_dir:
                plan = plan_dir(repo, path, out.md5, relink, only=only, legacy=out.legacy)
            else:
                plan = plan_file(repo, path, out.md5, out.isexec, relink, out.legacy)
            plans.append(plan)
    lose = [p for plan in plans for p in plan.lose]
    if lose and not force:
        shown = ", ".join(lose[:5]) + (f" and {len(lose) - 5} more" if len(lose) > 5 else "")
        raise ModifiedError(
            f"checkout would overwrite changes that are not in the cache: {shown}.",
            "Record them with 'lode add'/'lode commit', or rerun with --force to discard them.",
        )
    result = CheckoutResult()
    for plan in plans:
        if plan.changes:
            execute(repo, plan)
            (result.added if plan.created else result.modified).append(repo.rel(plan.path))
        else:
            result.unchanged += 1
        result.failed.extend(plan.failed)
    if result.failed:
        names = [f"{path} ({md5}: {why})" for path, md5, why in result.failed]
        shown = "; ".join(names[:10]) + (f"; and {len(names) - 10} more" if len(names) > 10 else "")
        raise CheckoutError(
            f"{len(names)} file(s) could not be restored: {shown}.",
            names,
            "Everything else was restored; fetch the missing objects (later: 'lode pull').",
        )
    return result


def _inner_rels(path: str, inner: set[str] | None) -> set[str] | None:
    """Posix paths relative to output `path` that the targets named inside it."""
    if inner is None:
        return None
    inside = path + os.sep
    return {os.path.relpath(p, path).replace(os.sep, "/") for p in inner if p.startswith(inside)}

"""`lode export ENGINE`: the pipeline as a plan of plain values (`lode.plugins.exporter`)
that an exporter plugin writes for its engine. Everything that reads the repository is
here: the stages and their order, the Git source workers clone (refused, as for `lode
repro --executor`, when they could not see this workspace's pipeline), the data remote.
"""

from __future__ import annotations

import os

from lode.ops.coordinator import stage_mem_mib
from lode.ops.repro import plan_stages
from lode.ops.source import git_source, tracked_remote
from lode.plugins.exporter import (
    DataRemote,
    Exporter,
    ExportError,
    ExportPlan,
    GitSource,
    StagePlan,
    load,
)
from lode.plugins.notifier import plugins as notifiers


def exporter(name: str, options: dict[str, str]) -> Exporter:
    """The exporter registered as `name`, given its options (which it checks first)."""
    return load(name)(options)


def plan(repo, targets: list[str] | None, *, cwd: str | None = None,
         repo_url: str | None = None, rev: str | None = None, follow_branch: bool = False,
         recipe: str | None = None, force: bool = False, keep_going: bool = False
         ) -> ExportPlan:
    """The plan of `targets` (stage addresses as seen from `cwd`, default the current
    directory; none: ./dvc.yaml), at commit `rev` (default HEAD), or following branch
    `rev` (default the current branch's upstream) with `follow_branch`. `recipe`: the
    recipe whose post-tasks the merge task runs (its targets and force already applied
    by the caller)."""
    if not repo.scm:
        raise ExportError("this project does not use Git (core.no_scm), and the workers "
                          "clone the pipeline from a Git remote.")
    remote = DataRemote(*tracked_remote(repo, None))
    url, sha, branch = git_source(repo.root, repo_url, rev, follow_branch)
    here = os.getcwd()
    os.chdir(cwd or here)
    try:
        project, stages = plan_stages(repo, targets or None)
    finally:
        os.chdir(here)
    stages = [s for s in stages if not s.frozen]  # never run: their lock entry stands
    if not stages:
        raise ExportError("there is no stage to export (every chosen stage is frozen).")
    chosen = set(stages)
    planned = [StagePlan(s.address(repo.root), commands=s.commands,
                         deps=[repo.rel(p) for p in s.dep_paths],
                         outs=[repo.rel(p) for p in s.out_paths],
                         upstream=[u.address(repo.root) for u in project.upstream[s]
                                   if u in chosen],
                         resources=dict(s.resources), mem_mib=stage_mem_mib(s))
               for s in stages]
    # a recipe's post-tasks may notify: the notifiers' webhook URLs are secrets too
    post_env = [v for p in notifiers().values() for v in p.env.values()] if recipe else []
    return ExportPlan(stages=planned, source=GitSource(url, sha, branch), remote=remote,
                      project=os.path.basename(repo.root), recipe=recipe, post_env=post_env,
                      force=force, keep_going=keep_going)

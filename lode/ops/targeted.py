"""Transfers for one pipeline rather than the whole workspace: pull what its stages read
(and what lets unchanged stages restore instead of running), push what they made, and
ask whether a commit's data is all on the remote.

Used by `lode repro --pull` and by a recipe's pull, push and git_push steps.
"""

from __future__ import annotations

import os

from lode.ops import runs_transfer as runs
from lode.ops.checkout import checkout
from lode.ops.remotes import open_remote
from lode.ops.used import Used, for_stages
from lode.pipeline.revisions import Scm
from lode.pipeline.run import Runner, StageFailed
from lode.plugins.remote import Remote
from lode.store.runcache import inputs_key
from lode.store.targets import pointer_for
from lode.store.transfer import TransferResult, exists, fetch, object_key
from lode.store.transfer import push as push_objects


def run_keys(repo, project, stages) -> list[str]:
    """The run-cache keys of the stages whose inputs are all here now: the entries a
    remote may hold to restore them."""
    runner = Runner(repo, project)
    keys = []
    for stage in stages:
        if not stage.run_cacheable:
            continue
        try:
            keys.append(inputs_key(runner.inputs(stage), [o.path for o in stage.outs]))
        except StageFailed:  # an input made upstream: unknown until that stage runs
            continue
    return keys


def pull(repo, remote: Remote, project, stages, jobs: int, run_cache: bool = False
         ) -> TransferResult:
    """Fetch the tracked data the stages read and the outputs dvc.lock records for them,
    check both out (a stage whose outputs are back is up to date), then, with
    `run_cache`, the remote's run-cache entries for the stages as they now stand."""
    used, pointer_files = for_stages(repo, project, stages)
    result = fetch(repo, remote, used, jobs) if len(used) else TransferResult()
    # a stage's outputs come back only where none is here: present ones may be the
    # user's changes, which repro judges (and checkout would refuse to overwrite)
    targets = pointer_files + sorted(
        f"{s.dvcfile}:{s.name}" for s in stages if project.recorded_outs(s) and not any(
            os.path.lexists(s.abspath(r["path"])) for r in project.recorded_outs(s)))
    if targets:
        missing = {m for m, _, _ in result.failed}
        if not missing:
            checkout(repo, targets)
        else:  # check out what did arrive; the missing objects are already reported
            checkout(repo, [t for t in targets if not _needs(repo, project, t, missing)])
    if run_cache and remote.capabilities.run_cache:
        extra = Used()
        got = runs.download_entries(repo, remote, extra, run_keys(repo, project, stages))
        if len(extra):
            more = fetch(repo, remote, extra, jobs)
            result.moved += more.moved
            result.present += more.present
            result.failed += more.failed
        runs.count(result, got)
    return result


def _needs(repo, project, target: str, missing: set[str]) -> bool:
    """Whether checking out `target` would need one of the `missing` objects."""
    if target.endswith(".dvc"):
        pointer = pointer_for(repo, target)[0]
        return any(o.md5 in missing for o in pointer.outs)
    dvcfile, name = target.rsplit(":", 1)
    stage = next(s for s in project.stages if s.dvcfile == dvcfile and s.name == name)
    return any(r["md5"] in missing for r in project.recorded_outs(stage))


def push(repo, remote: Remote, project, stages, jobs: int, run_cache: bool = False
         ) -> TransferResult:
    """What a pipeline publishes: the outputs dvc.lock records for the stages and the
    tracked data they read (a commit of the pipeline needs both on the remote)."""
    used = for_stages(repo, project, stages)[0]
    entries = runs.local_entries(repo, used) if run_cache and \
        remote.capabilities.run_cache else {}
    result = push_objects(repo, remote, used, jobs)
    if entries:
        runs.count(result, runs.upload_entries(remote, entries,
                                               {m for m, _, _ in result.failed}, repo))
    return result


def missing_from(repo, remote: Remote, used: Used) -> list[tuple[str, str]]:
    """(md5, path) of the objects of `used` the remote lacks, asked in one batch: each
    directory by its manifest (a manifest goes up after all its files, so it vouches for
    them) and each file outside a directory by its own key."""
    keys = {object_key(m): m for m in (*used.dirs, *used.files)}
    present = exists(remote, sorted(keys)) if keys else set()
    return sorted((md5, used.paths.get(md5, "?")) for key, md5 in keys.items()
                  if key not in present)


def fetch_outputs(repo, refs: list[str]) -> list[str]:
    """Fetch the cached metric and plot outputs these revisions (Git revisions, or
    'workspace') record and the cache lacks, from the default remote, for the reports
    that read them; one warning per object that could not be fetched."""
    used = Used()
    with Scm(repo) as scm:
        for ref in dict.fromkeys(refs):
            tree = scm.tree(ref)
            for _, stages, _ in tree.pipelines:
                for stage in stages:
                    for out in stage.outs:
                        if out.kind == "outs" or not out.cache:
                            continue
                        rec = tree.output_record(stage, out)
                        if rec and isinstance(rec.get("md5"), str):
                            used.add(rec["md5"], repo.rel(stage.abspath(out.path)))
    if not len(used):
        return []
    remote = open_remote(repo)
    try:
        result = fetch(repo, remote, used, remote.capabilities.jobs)
    finally:
        remote.close()
    return [f"cannot fetch {path} ({md5[:8]}) from '{remote.name}': {why}"
            for md5, path, why in result.failed]

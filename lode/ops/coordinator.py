"""`lode repro --executor NAME`: the coordinator. It decides what runs exactly as a local
repro does, hands each out-of-date stage to the executor (after the stages it reads
from), waits, and merges the results into this workspace in pipeline order.

Workers see only the commit and the data remote, so before anything is submitted the
workspace must be that commit, on the Git remote workers clone from (see source.py), and
the data remote must hold every input the stages read and do not make: those are pushed
first.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile

from lode.atomic import write_text_atomic
from lode.config import executor_options
from lode.ops.remotes import open_remote
from lode.ops.settle import settle
from lode.ops.source import git_source, tracked_remote
from lode.ops.used import Used
from lode.ops.worker import entry_used, inputs_used, result_doc
from lode.pipeline.dvcfile import mem_mib
from lode.pipeline.run import StageFailed
from lode.pipeline.stage import Stage
from lode.plugins.executor import Ended, Executor, ExecutorError, Job, load
from lode.store.outputs import build
from lode.store.transfer import push

# options the coordinator reads itself (any executor); the rest belong to the executor:
# repo, the Git URL workers clone (default: the branch's upstream remote, else origin);
# remote, the data remote (default: core.remote)
COMMON = ("repo", "remote")
POLL = 1.0  # seconds an executor may block waiting for an end


def options(repo, given: list[str], name: str | None) -> tuple[str, dict[str, str]]:
    """The executor's name and options: the `executor.*` config (kept in DVC's [feature]
    section), then `--executor-opt K=V`."""
    cfg = {**executor_options(repo.config.level("repo")),
           **executor_options(repo.config.level("local"))}
    configured = cfg.pop("name", None)
    chosen = name or configured or "local"
    if configured and chosen != configured:
        cfg = {}  # the configured options are another executor's
    for item in given:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ExecutorError(f"'--executor-opt {item}' is not KEY=VALUE.")
        cfg[key.strip()] = value
    return chosen, cfg


def choose(repo, given: list[str], name: str | None,
           extra: dict[str, str] | None = None) -> tuple[str, dict[str, str]] | None:
    """(name, options) of the executor to use; None for the local runner."""
    name, opts = options(repo, given, name)
    opts.update(extra or {})
    if load(name).in_place:
        if opts:
            raise ExecutorError(f"executor '{name}' takes no options (given: "
                                f"{', '.join(sorted(opts))}).")
        return None
    return name, opts


def _job_name(stage: Stage, root: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", stage.address(root)).strip("-")[:60] or "stage"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name)
    return name


# -- before submitting ---------------------------------------------------------------------
def _push_inputs(repo, project, remote, submitted: list[Stage]) -> None:
    """Everything the submitted stages read that none of them makes: tracked data, the
    outputs of up-to-date stages (`cache: false` ones too, which workers place), and the
    `persist` outputs they continue from."""
    used, chosen = Used(), set(submitted)
    for stage in submitted:
        keep = {o.path for o in stage.outs if o.persist}
        if keep:  # the worker continues from them, as a local run would
            entry = project.lockfile(stage).get(stage.name) or {}
            entry_used(repo, stage, {"outs": [r for r in entry.get("outs") or []
                                              if r.get("path") in keep]}, used)
        _, producers = inputs_used(repo, project, stage, used)
        for up in producers:
            if up in chosen:
                continue
            for spec in up.outs:
                if not spec.cache and os.path.exists(up.abspath(spec.path)):
                    build(repo, up.abspath(spec.path), insert=True)
            entry_used(repo, up, project.lockfile(up).get(up.name), used)
    if not len(used):
        return
    result = push(repo, remote, used, remote.capabilities.jobs)
    if result.failed:
        md5, path, why = result.failed[0]
        raise ExecutorError(f"{len(result.failed)} input(s) the workers need cannot reach "
                            f"'{remote.name}', e.g. {path} ({md5[:8]}): {why}.")


# -- running -------------------------------------------------------------------------------
def _failure(stage: Stage, end: Ended, log: str | None) -> StageFailed:
    message = end.error or "it failed without a word."
    message = message.split(" failed: ", 1)[-1] if message.startswith("stage '") else message
    if end.log_tail.strip():
        lines = end.log_tail.rstrip().splitlines()[-20:]
        message += "\n  Its last output:\n" + "\n".join(f"    {ln}" for ln in lines)
    if log:
        message += f"\n  All of it: {os.path.relpath(log)}"
    return StageFailed(stage, message)


def _keep_log(repo, job: Job, end: Ended) -> str | None:
    """A remote stage's output, where a local run would have shown it: the latest run of
    each stage under .dvc/tmp/lode/logs/ (a worker's own files are gone with it)."""
    if not end.log:
        return None
    path = os.path.join(repo.state_dir, "logs", f"{job.name}.log")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_text_atomic(path, end.log)
    return path


def run(repo, project, stages: list[Stage], name: str, opts: dict[str, str], plan,
        keep_going: bool = False) -> None:
    """Run the plan's out-of-date stages through executor `name` and merge what they made
    into this workspace; outcomes and errors go to `plan`, as a local run leaves them."""
    common = {k: v for k, v in opts.items() if k in COMMON}
    opts = {k: v for k, v in opts.items() if k not in COMMON}
    cls = load(name)
    running = _to_run(project, stages, plan)
    if not running or plan.errors:
        return
    workdir = tempfile.mkdtemp(prefix="run-", dir=_spool(repo))
    try:
        executor: Executor = cls(opts, workdir)  # refuses unknown options first
        if not repo.scm:
            raise ExecutorError("this project does not use Git (core.no_scm), and workers "
                                "run a Git commit.")
        url, sha, _ = git_source(repo.root, common.get("repo"), None,
                                 fallback=repo.root if executor.shares_filesystem else None)
        tracked_remote(repo, common.get("remote"))
        remote = open_remote(repo, common.get("remote"))
        try:
            _push_inputs(repo, project, remote, running)
            jobs = _jobs(repo, project, running, sha, url, common.get("remote"), plan)
            executor.start()
            try:
                for job in jobs.values():
                    executor.check_resources(job)
                results = _drive(executor, jobs, plan, keep_going)
            finally:
                executor.close()
            outcomes, errors = settle(repo, project, plan.runner, remote, results)
            plan.outcomes.update(outcomes)
            for err in errors:
                plan.outcomes[err.stage] = "failed"
            plan.errors += errors
        finally:
            remote.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _to_run(project, stages: list[Stage], plan) -> list[Stage]:
    """The stages to submit: out of date, or below one that is; the others skipped."""
    running: list[Stage] = []
    for stage in stages:
        if stage.frozen:
            if plan.up_to_date(stage):
                plan.skipped(stage)
            else:
                plan.outcomes[stage] = "failed"
                plan.errors.append(StageFailed(stage, "it is frozen and an output is "
                                                      "missing."))
        elif not plan.up_to_date(stage) or any(u in running for u in project.upstream[stage]):
            running.append(stage)
        else:
            plan.skipped(stage)
    return running


def _jobs(repo, project, running: list[Stage], sha: str, url: str, remote: str | None,
          plan) -> dict[Stage, Job]:
    """One job per stage; the entries of up-to-date upstream stages go along, as this
    workspace records them (perhaps not yet committed)."""
    jobs: dict[Stage, Job] = {}
    taken: set[str] = set()
    chosen = set(running)
    for stage in running:
        done = [(u, project.lockfile(u).get(u.name)) for u in project.upstream[stage]
                if u not in chosen]
        job = Job(stage.address(repo.root), _job_name(stage, repo.root, taken), sha, url,
                  remote=remote, resources=stage.resources, mem_mib=stage_mem_mib(stage),
                  force=plan.force,
                  run_cache=plan.runner.run_cache is not None,
                  upstream_results=[json.dumps(result_doc(u.address(repo.root), sha,
                                                          "restored", e))
                                    for u, e in done if e])
        job.upstream_stages = [u for u in project.upstream[stage] if u in chosen]
        jobs[stage] = job
    return jobs


def stage_mem_mib(stage: Stage) -> int | None:
    """The stage's `mem` resource in MiB, for executors and exporters (which never parse
    it themselves); dvc.yaml's reader has refused a value that does not parse."""
    mem = stage.resources.get("mem")
    return None if mem is None else mem_mib(mem)


def _spool(repo) -> str:
    path = os.path.join(repo.state_dir, "executors")
    os.makedirs(path, exist_ok=True)
    return path


def _drive(executor: Executor, jobs: dict[Stage, Job], plan, keep_going: bool
           ) -> list[tuple[Stage, dict]]:
    """Submit every job (upstream first), then collect the ends; a failure cancels what
    is still active unless `keep_going`."""
    ids: dict[str, Stage] = {}
    for stage, job in jobs.items():
        job.upstream = [k for k, s in ids.items() if s in job.upstream_stages]
        ids[executor.submit(job)] = stage
        plan.listener("submitted", stage, f"{plan.reason(stage)}; to {executor.name}")
    active = set(ids)
    results: list[tuple[Stage, dict]] = []
    failed: set[Stage] = set()
    try:
        while active:
            for end in executor.check(sorted(active), POLL):
                active.discard(end.job_id)
                stage = ids[end.job_id]
                log = _keep_log(plan.repo, jobs[stage], end)
                if end.ok:
                    results.append((stage, end.result))
                    plan.listener(end.result["status"], stage, end.result.get("seconds", 0.0))
                    continue
                if end.upstream_failed or any(u in failed for u in jobs[stage].upstream_stages):
                    failed.add(stage)  # never started: its upstream failed
                    continue
                failed.add(stage)
                plan.outcomes[stage] = "failed"
                plan.errors.append(_failure(stage, end, log))
                if not keep_going and active:
                    executor.cancel(sorted(active))
                    active.clear()
    except BaseException:
        if active:
            executor.cancel(sorted(active))
        raise
    return results

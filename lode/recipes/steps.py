"""The steps of a recipe. Each takes the run's context and its Step, does its work,
and returns the line to print; a failure is raised (a LodeError: one sentence)."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable

from lode import shell
from lode.errors import CacheError
from lode.ops import repro as pipeline
from lode.ops import targeted
from lode.ops.coordinator import choose
from lode.ops.remotes import open_remote
from lode.ops.reports import metrics
from lode.ops.used import collect
from lode.pipeline.events import line_listener
from lode.plugins.notifier import notify as deliver
from lode.recipes import RecipeError, gitops
from lode.recipes.context import RunContext
from lode.recipes.message import deltas, describe, render
from lode.recipes.spec import Step
from lode.store.outputs import out_state
from lode.store.targets import all_pointers


def _names(paths: list[str], limit: int = 8) -> str:
    more = len(paths) - limit
    return ", ".join(paths[:limit]) + (f" (and {more} more)" if more > 0 else "")


def _needs_git(ctx: RunContext, step: Step) -> None:
    if not ctx.repo.scm:
        raise RecipeError(f"step '{step.name}' needs Git, and this repository has "
                          "core.no_scm set.")


def clean_workspace(ctx: RunContext, step: Step) -> str:
    """Refuse to start from changes that exist in no commit: what the run publishes must
    be reproducible from the commit it makes."""
    _needs_git(ctx, step)
    modified, untracked = gitops.changes(ctx.git, step.options["untracked"])
    problems = []
    if modified:
        problems.append(f"modified tracked files: {_names(modified)}")
    if untracked:
        problems.append(f"untracked files: {_names(untracked)}")
    if step.options["data"]:
        data = _modified_data(ctx.repo)
        if data:
            problems.append(f"tracked data changed since its .dvc file: {_names(data)}")
    if problems:
        raise RecipeError(f"the workspace is not clean ({'; '.join(problems)}).",
                          "Commit or stash the changes first ('lode add' for data): the "
                          "recipe publishes a commit, so it must start from one.")
    ctx.commit = gitops.head(ctx.git)
    return f"workspace clean at {ctx.commit[:8] if ctx.commit else 'an empty history'}"


def _modified_data(repo) -> list[str]:
    found = []
    for pointer in all_pointers(repo):
        for out in pointer.outs:
            path = pointer.out_abspath(out)
            if out_state(repo, path, out) in ("modified", "new"):
                found.append(repo.rel(path))
    return found


def _remote(ctx: RunContext, name: str | None):
    return open_remote(ctx.repo, name)


def _check_transfer(result, verb: str, remote) -> str:
    if result.failed:
        first = "; ".join(f"{path or '?'} ({md5[:12]}): {why}"
                          for md5, path, why in result.failed[:3])
        raise CacheError(f"{len(result.failed)} object(s) could not be {verb} "
                         f"('{remote.name}'): {first}.", [m for m, _, _ in result.failed])
    return (f"{result.moved} file(s) {verb}" +
            (f", {result.present} already there" if result.present else "") +
            f" ('{remote.name}')")


def _transfer(ctx: RunContext, step: Step, verb: str) -> str:
    move = targeted.pull if verb == "fetched" else targeted.push
    project, stages = ctx.plan(reload=verb == "pushed")  # push: the lock as repro left it
    remote = _remote(ctx, step.options["remote"])
    try:
        result = move(ctx.repo, remote, project, stages, remote.capabilities.jobs,
                      run_cache=bool(step.options["run_cache"]))
    finally:
        remote.close()
    return _check_transfer(result, verb, remote)


def pull(ctx: RunContext, step: Step) -> str:
    """Only what the chosen stages read and do not make, what dvc.lock records for them,
    and the run-cache entries that can restore them."""
    return _transfer(ctx, step, "fetched")


def repro(ctx: RunContext, step: Step) -> str:
    project, stages = ctx.plan(reload=True)
    if not stages:
        return "no pipeline stages"
    result = pipeline.run(ctx.repo, project, stages, force=ctx.recipe.force,
                          listener=line_listener(), executor=_executor(ctx))
    ctx.stages = {s.address(ctx.repo.root): o for s, o in result.outcomes.items()}
    if result.failed:
        raise result.failed[0]
    ctx.metrics = metrics_deltas(ctx)
    return f"{len(ctx.stages)} stage(s): {result.summary()}"


def _executor(ctx: RunContext) -> tuple[str, dict[str, str]] | None:
    """The recipe's executor, else the configured one; None for the local runner."""
    name, opts = ctx.recipe.executor or (None, {})
    return choose(ctx.repo, [], name, opts)


def metrics_deltas(ctx: RunContext) -> list[dict]:
    """Every metric, as committed at HEAD and as the run left it."""
    if not ctx.repo.scm:
        return []
    try:
        return deltas(metrics.diff(ctx.repo, "HEAD", all=True, cwd=ctx.repo.root).data)
    except Exception as e:  # a report is worth having, never worth failing the run for
        print(f"WARNING: cannot compare metrics with HEAD: {e}", file=sys.stderr)
        return []


def _pipeline_files(ctx: RunContext) -> list[str]:
    """What a run of the stages may change that Git tracks: dvc.lock, the .gitignore
    files beside cached outputs, the outputs kept out of the cache (metrics, plots)."""
    project, stages = ctx.plan()
    paths: set[str] = set()
    for stage in stages:
        paths.add(os.path.join(os.path.dirname(stage.dvcfile), "dvc.lock"))
        for out in stage.outs:
            path = stage.abspath(out.path)
            if out.cache:
                paths.add(os.path.join(os.path.dirname(path), ".gitignore"))
            elif os.path.lexists(path):
                paths.add(path)
        for dep in stage.dep_paths:
            owner = project.tracked_by(dep)
            if owner:
                paths.add(os.path.join(ctx.repo.root, owner))
    return sorted(ctx.repo.rel(p) for p in paths if os.path.lexists(p))


def commit(ctx: RunContext, step: Step) -> str:
    _needs_git(ctx, step)
    changed = gitops.changed_among(ctx.git, _pipeline_files(ctx))
    ctx.branch = gitops.branch(ctx.git)
    if not changed:
        ctx.commit = gitops.head(ctx.git)
        return "nothing to commit: the pipeline's files are as committed"
    message = render(step.options["message"], {
        "recipe": ctx.recipe.name, "metrics": describe(ctx.metrics),
        "stages": ", ".join(k for k, v in ctx.stages.items() if v in ("ran", "restored"))
        or "none", "host": os.uname().nodename, "run_id": ctx.run_id or "-"})
    ctx.commit = gitops.commit_paths(ctx.git, changed, message)
    return f"committed {ctx.commit[:8]} on {ctx.branch or 'a detached HEAD'}: " \
           f"{message.splitlines()[0]} ({len(changed)} file(s): {_names(changed, 5)})"


def push(ctx: RunContext, step: Step) -> str:
    """The outputs the run recorded and the tracked data the stages read."""
    return _transfer(ctx, step, "pushed")


def git_push(ctx: RunContext, step: Step) -> str:
    """Publish the commit, but only once every object it names is on the data remote:
    a teammate's `lode pull` of it must never come up short."""
    _needs_git(ctx, step)
    where, branch = gitops.push_target(ctx.git, step.options["remote"], step.options["branch"])
    # the data check reads the workspace's pointers and locks: they must be the commit's
    differ = [p for p in gitops.changes(ctx.git, untracked=False)[0]
              if p.endswith((".dvc", "dvc.lock", "dvc.yaml"))]
    if differ:
        raise RecipeError(f"not pushing to Git: {_names(differ)} differ from the commit, so "
                          "what it references cannot be checked.", "Commit them first.")
    remote = _remote(ctx, step.options["data_remote"])
    try:
        # every cached object the pointers and locks name (a metric kept out of the
        # cache lives in Git)
        missing = targeted.missing_from(ctx.repo, remote, collect(ctx.repo))
    finally:
        remote.close()
    if missing:
        raise RecipeError(
            f"not pushing to Git: {len(missing)} object(s) the commit references are not on "
            f"the data remote '{remote.name}': "
            f"{_names([f'{p} ({m[:8]})' for m, p in missing], 5)}.",
            "Push them first ('lode push'), then rerun.")
    gitops.push(ctx.git, where, branch)
    ctx.commit = gitops.head(ctx.git)
    ctx.branch = branch
    return f"pushed {ctx.commit[:8] if ctx.commit else 'HEAD'} to {where}/{branch}"


def notify(ctx: RunContext, step: Step) -> str:
    if "success" not in (step.options["on"] or []):
        return "no notification on success"
    return send(ctx, step, "succeeded")


def send(ctx: RunContext, step: Step, outcome: str) -> str:
    """Send the run's event; a notifier's failure is a warning, never the run's."""
    via = step.options["via"]
    if isinstance(via, str):
        via = [via]
    problems = deliver(ctx.repo, ctx.event(outcome), via)
    for problem in problems:
        print(f"WARNING: {problem}", file=sys.stderr)
    return f"notified ({outcome})" + (f", {len(problems)} problem(s)" if problems else "")


def run_command(ctx: RunContext, step: Step) -> str:
    code = shell.run(step.action, ctx.repo.root)
    if code != 0:
        why = ("was " if code < 0 else "") + shell.describe_exit(code)
        raise RecipeError(f"step '{step.name}': '{step.action}' {why}.")
    return f"'{step.action}' succeeded"


def run_python(ctx: RunContext, step: Step) -> str:
    """A callable (from dodo.py) or 'module:function' importable from the repository
    root; it gets the run's context when it takes an argument. False or an exception
    fails the step."""
    func = step.action if callable(step.action) else _import(ctx.repo.root, step)
    try:
        takes = len(inspect.signature(func).parameters) > 0
    except (TypeError, ValueError):
        takes = False
    try:
        result = func(ctx) if takes else func()
    except Exception as e:
        raise RecipeError(f"step '{step.name}' raised {type(e).__name__}: {e}") from e
    if result is False:
        raise RecipeError(f"step '{step.name}' returned False.")
    return f"{getattr(func, '__name__', step.name)} done"


def _import(root: str, step: Step) -> Callable:
    module, _, attr = str(step.action).partition(":")
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        func = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise RecipeError(f"step '{step.name}': cannot load '{step.action}' ({e}).") from None
    if not callable(func):
        raise RecipeError(f"step '{step.name}': '{step.action}' is not callable.")
    return func


BUILTIN: dict[str, Callable[[RunContext, Step], str]] = {
    "clean_workspace": clean_workspace, "pull": pull, "repro": repro, "commit": commit,
    "push": push, "git_push": git_push, "notify": notify,
    "cmd": run_command, "python": run_python,
}

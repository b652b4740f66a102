"""`lode repro`: plan the stages, then let doit run the out-of-date ones (in parallel
where the graph allows); a run with nothing to do never loads doit."""

from __future__ import annotations

import os

from lode.pipeline.graph import Project, load_project
from lode.pipeline.stage import Stage
from lode.pipeline.tasks import Listener, Plan


class ReproResult:
    """Each stage's outcome ("ran", "restored", "skipped", "frozen", "failed") and the
    files a commit should take. (Not a dataclass: importing dataclasses costs 12 ms.)"""

    def __init__(self, outcomes: dict[Stage, str]) -> None:
        self.outcomes = outcomes
        self.failed: list = []  # StageFailed errors, in the order they happened
        self.gitignores: list[str] = []
        self.lockfiles: list[str] = []

    @property
    def changed(self) -> bool:
        return any(v in ("ran", "restored") for v in self.outcomes.values())

    def summary(self) -> str:
        """`1 skipped, 2 ran`: how many stages ended each way, in order of appearance."""
        counts: dict[str, int] = {}
        for v in self.outcomes.values():
            counts[v] = counts.get(v, 0) + 1
        return ", ".join(f"{n} {k}" for k, n in counts.items())


def plan_stages(repo, targets: list[str] | None, single: bool = False,
                downstream: bool = False) -> tuple[Project, list[Stage]]:
    project = load_project(repo)
    chosen = project.resolve_targets(targets)
    return project, project.plan(chosen, single=single, downstream=downstream)


def check_inputs(project: Project, stages: list[Stage]) -> None:
    """Refuse before running anything: a dependency nothing provides, a missing param."""
    from lode.pipeline.graph import PipelineError
    from lode.pipeline.state import params_values

    for stage in stages:
        if stage.frozen:
            continue
        for dep in stage.deps:
            path = stage.abspath(dep)
            if not os.path.lexists(path) and not project.producers_of(path):
                pointer = project.tracked_by(path)
                if pointer:
                    raise PipelineError(
                        f"stage '{stage.address()}' depends on '{dep}', tracked by {pointer} "
                        "but missing from the workspace.",
                        "Restore it with 'lode checkout' (or fetch it from the remote).",
                    )
                raise PipelineError(
                    f"stage '{stage.address()}' depends on '{dep}', which does not exist and "
                    "no stage produces it."
                )
        _, missing = params_values(stage)
        for file, keys in missing.items():
            made = project.producers_of(stage.abspath(file))
            if made:
                continue
            if keys is None:
                raise PipelineError(
                    f"stage '{stage.address()}' reads parameters file '{file}', which does "
                    "not exist."
                )
            raise PipelineError(
                f"stage '{stage.address()}' reads {', '.join(map(repr, keys))}, missing from "
                f"'{file}'.",
                "Add the key to the file or remove it from the stage's 'params'.",
            )


def dry_run(repo, project: Project, stages: list[Stage], force: bool) -> list[tuple[Stage, str]]:
    """What would run and why, without running anything. A stage below one that would run
    is reported as running too ("after upstream")."""
    plan = Plan(repo, project, stages, force=force)
    would: list[tuple[Stage, str]] = []
    running: set[Stage] = set()
    for stage in stages:
        if stage.frozen:
            up = plan.up_to_date(stage)
            would.append((stage, "frozen" if up else "frozen, an output is missing: fails"))
        elif not plan.up_to_date(stage):
            would.append((stage, plan.reason(stage)))
            running.add(stage)
        elif any(u in running for u in project.upstream[stage]):
            would.append((stage, "after upstream stages run"))
            running.add(stage)
        else:
            would.append((stage, "up to date"))
    return would


def repro(
    repo,
    project: Project,
    stages: list[Stage],
    force: bool = False,
    jobs: int = 1,
    keep_going: bool = False,
    run_cache: bool = True,
    scm: bool = True,
    listener: Listener | None = None,
    executor: tuple[str, dict[str, str]] | None = None,
) -> ReproResult:
    """`executor`: (name, options) of an executor other than the local one."""
    plan = Plan(repo, project, stages, force=force, run_cache=run_cache, scm=scm,
                listener=listener)
    result = ReproResult(plan.outcomes)
    if executor is None and all(plan.up_to_date(s) for s in stages):
        # nothing to do: report, and do not pay for importing doit
        for stage in stages:
            plan.skipped(stage)
        return result
    try:
        if executor is not None:
            from lode.executors import coordinate

            coordinate.repro(repo, project, stages, *executor, plan, keep_going)
        else:
            _run_doit(plan, jobs, keep_going)
    finally:
        result.gitignores = plan.runner.finish()
        result.lockfiles = sorted(plan.runner.lockfiles)
    result.failed = plan.errors
    return result


def _run_doit(plan: Plan, jobs: int, keep_going: bool) -> int:
    from doit.cmd_base import TaskLoader2
    from doit.doit_cmd import DoitMain
    from doit.reporter import ZeroReporter
    from doit.task import dict_to_task

    from lode.pipeline.tasks import doit_config

    class Reporter(ZeroReporter):
        def skip_uptodate(self, task):
            plan.skipped(task.meta["_stage"])

        def runtime_error(self, msg):
            from lode.pipeline.graph import PipelineError

            raise PipelineError(f"doit could not run the pipeline: {msg.strip()}")

    class Loader(TaskLoader2):
        def setup(self, opt_values):
            pass

        def load_doit_config(self):
            return {**doit_config(plan.repo), "reporter": Reporter}

        def load_tasks(self, cmd, pos_args):
            tasks = []
            for stage, d in zip(plan.stages, plan.task_dicts(), strict=True):
                d["name"] = d.pop("basename")
                d["meta"]["_stage"] = stage
                tasks.append(dict_to_task(d))
            return tasks

    argv = ["run"]
    if jobs > 1:
        argv += ["-n", str(jobs), "-P", "thread"]
    if keep_going:
        argv.append("--continue")
    argv += [plan.task_name(s) for s in plan.stages]
    return DoitMain(Loader(), config_filenames=()).run(argv)

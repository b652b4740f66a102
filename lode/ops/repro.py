"""`lode repro`: plan the stages, then run the out-of-date ones: here, by doit (in
parallel where the graph allows), or through an executor (`lode.ops.coordinator`) when
one other than the local runner is chosen; a local run with nothing to do never loads
doit."""

from __future__ import annotations

import os

from lode.errors import LodeError
from lode.ops import coordinator
from lode.parallel import default_jobs
from lode.pipeline.graph import PipelineError, Project, load_project
from lode.pipeline.run import StageFailed
from lode.pipeline.stage import Stage
from lode.pipeline.state import params_values
from lode.pipeline.tasks import Listener, Plan, doit_config


class ReproResult:
    """Each stage's outcome ("ran", "restored", "skipped", "frozen", "failed", "not run":
    after a failure) and the files a commit should take. (Not a dataclass: importing
    dataclasses costs 12 ms.)"""

    def __init__(self, outcomes: dict[Stage, str]) -> None:
        self.outcomes = outcomes
        self.failed: list = []  # StageFailed errors, in the order they happened
        self.not_run: list[tuple[Stage, str]] = []  # (stage, the failed stage it waited for)
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
    """`executor`: (name, options) of an executor other than the local one (as
    `coordinator.choose` returns it; None runs the stages here)."""
    plan = Plan(repo, project, stages, force=force, run_cache=run_cache, scm=scm,
                listener=listener)
    result = ReproResult(plan.outcomes)
    if executor is None and all(plan.up_to_date(s) for s in stages):
        # nothing to do: report, and do not pay for importing doit
        for stage in stages:
            plan.skipped(stage)
        return result
    try:
        if executor is None:
            _run_doit(plan, jobs, keep_going)
        else:
            coordinator.run(repo, project, stages, *executor, plan, keep_going)
    finally:
        result.gitignores = plan.runner.finish()
        result.lockfiles = sorted(plan.runner.lockfiles)
    result.not_run = _account(plan, stages, project)
    result.failed = plan.errors
    return result


def run(repo, project: Project, stages: list[Stage], *, force: bool = False,
        jobs: int | None = None, keep_going: bool = False, run_cache: bool = True,
        listener: Listener | None = None,
        executor: tuple[str, dict[str, str]] | None = None) -> ReproResult:
    """The repro every caller runs (`lode repro`, a recipe's repro step): the inputs
    checked, then the stages run here (`jobs` at once, default one per core) or on
    `executor`, with `.gitignore` entries beside their cached outputs when the repository
    is in Git. The caller holds the repository lock."""
    check_inputs(project, stages)
    return repro(repo, project, stages, force=force, jobs=jobs or default_jobs(),
                 keep_going=keep_going, run_cache=run_cache, scm=repo.scm,
                 listener=listener, executor=executor)


def _run_doit(plan: Plan, jobs: int, keep_going: bool) -> None:
    """Run the plan's tasks through doit. What doit refuses (a task definition, its
    command line, its database) is a PipelineError; a stage that doit failed without
    lode's action saying why is recorded in the plan as failed."""
    from doit.cmd_base import TaskLoader2, get_loader
    from doit.doit_cmd import DoitMain
    from doit.reporter import ZeroReporter
    from doit.task import dict_to_task

    stage_of: dict[str, Stage] = {}

    class Reporter(ZeroReporter):
        def skip_uptodate(self, task):
            plan.skipped(stage_of[task.name])

        def skip_ignore(self, task):
            stage = stage_of[task.name]
            plan.outcomes[stage] = "failed"
            plan.errors.append(StageFailed(
                stage, "doit has it marked ignored ('doit ignore') and did not run it.",
                f"Clear the mark with 'doit forget {task.name}'."))

        def add_failure(self, task, fail_info):
            stage = stage_of.get(task.name)
            if stage is None or plan.outcomes.get(stage) == "failed":
                return  # lode's action failed it and said why
            if type(fail_info).__name__ == "UnmetDependency":
                return  # an upstream stage failed: reported with the stages not run
            msg = " ".join(fail_info.get_msg().split()) or type(fail_info).__name__
            plan.outcomes[stage] = "failed"
            plan.errors.append(StageFailed(stage, f"doit could not run it: {msg[:300]}"))

        def runtime_error(self, msg):
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
                stage_of[d["name"]] = stage
                tasks.append(dict_to_task(d))
            return tasks

    # No task names on doit's command line: the loader loads the plan's tasks only and
    # doit runs them all, so no stage name is ever read as an option, a variable or a
    # pattern.
    argv = []
    if jobs > 1:
        argv += ["-n", str(jobs), "-P", "thread"]
    if keep_going:
        argv.append("--continue")
    main = DoitMain(Loader(), config_filenames=())
    cmds = main.get_cmds()
    run = cmds.get_plugin("run")(task_loader=get_loader(main.config, main.task_loader, cmds),
                                 config=main.config, bin_name="doit", cmds=cmds, opt_vals={})
    try:
        code = run.parse_execute(argv)
    except LodeError:
        raise
    except Exception as e:  # doit's refusals (a task, an option, its database) and its bugs
        why = " ".join(str(e).split()) or type(e).__name__
        raise PipelineError(f"doit refused to run the pipeline: {why}") from e
    if code and not plan.errors:
        raise PipelineError(f"doit stopped the pipeline (exit {code}) without saying which "
                            "stage failed.", "Rerun with 'lode -v repro' to see more.")


def _account(plan: Plan, stages: list[Stage], project: Project) -> list[tuple[Stage, str]]:
    """Every stage of the plan ends with an outcome. One that has none did not run: after
    a failure that is expected (below the failed stage, or anywhere without -k), and it
    is returned with why; without any failure it is a failure of its own."""
    not_run: list[tuple[Stage, str]] = []
    first = next((s for s, o in plan.outcomes.items() if o == "failed"), None)
    for stage in stages:
        if stage in plan.outcomes:
            continue
        if first is None:
            plan.outcomes[stage] = "failed"
            plan.errors.append(StageFailed(stage, "it did not run, and nothing said why."))
            first = stage
            continue
        ups = _upstream_closure(project, stage)
        below = next((u for u in ups if plan.outcomes.get(u) == "failed"), None)
        why = f"after '{below.address()}' failed" if below is not None else \
            f"the run stopped when '{first.address()}' failed"
        plan.outcomes[stage] = "not run"
        not_run.append((stage, why))
    return not_run


def _upstream_closure(project: Project, stage: Stage) -> list[Stage]:
    seen: list[Stage] = []
    todo = list(project.upstream[stage])
    while todo:
        s = todo.pop()
        if s not in seen:
            seen.append(s)
            todo.extend(project.upstream[s])
    return seen

"""Stages as doit tasks: one task per stage, `task_dep` from the graph, an `uptodate`
check against dvc.lock, and an action that runs (or restores) the stage.

The same task dicts serve `lode repro` (through a TaskLoader2) and plain `doit` (through
the `dodo.py` that `lode init` writes), so both run exactly the same thing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

from lode.pipeline.run import Runner, StageFailed
from lode.pipeline.stage import Stage
from lode.pipeline.state import stage_status

# (event, stage, detail): "running" (why), "submitted" (why, and to which executor),
# "ran"/"restored" (seconds), "skipped", "frozen"
Listener = Callable[[str, Stage, object], None]


def describe(report: list) -> str:
    """`changed deps: data/raw.csv; changed params: train.C; changed command`."""
    parts = []
    for item in report:
        if isinstance(item, str):
            parts.append(item)
            continue
        for kind, changes in item.items():
            paths, params = [], []
            for path, state in changes.items():
                if isinstance(state, dict):
                    params += list(state)
                else:
                    paths.append(path if state == "modified" else f"{path} ({state})")
            if paths:
                parts.append(f"{kind}: {', '.join(paths)}")
            if params:
                parts.append(f"changed params: {', '.join(params)}")
    return "; ".join(parts)


class StageCheck:
    """doit `uptodate` entry. Its str() is what `doit info` prints: why the stage runs."""

    def __init__(self, plan: Plan, stage: Stage) -> None:
        self.plan, self.stage = plan, stage
        self.reason = "not checked yet"

    def __call__(self, task=None, values=None) -> bool:
        up = self.plan.up_to_date(self.stage)
        self.reason = "up to date" if up else self.plan.reason(self.stage)
        return up

    def __str__(self) -> str:
        return f"stage '{self.stage.address()}': {self.reason}"


class Plan:
    """The stages of one run and what they share: the runner, the options, the listener."""

    def __init__(
        self,
        repo,
        project,
        stages: list[Stage],
        force: bool = False,
        run_cache: bool = True,
        scm: bool = True,
        listener: Listener | None = None,
        lock: Callable[[], None] | None = None,
    ) -> None:
        self.repo, self.project, self.stages = repo, project, stages
        self.force = force
        self.runner = Runner(repo, project, run_cache=run_cache, scm=scm)
        self.listener = listener or (lambda *a: None)
        self._lock = lock
        self.outcomes: dict[Stage, str] = {}
        self.errors: list[StageFailed] = []
        self._reports: dict[Stage, list] = {}

    def task_name(self, stage: Stage) -> str:
        return stage.address(self.repo.root)

    def status(self, stage: Stage) -> list:
        entry = self.project.lockfile(stage).get(stage.name)
        report = stage_status(self.repo, stage, entry)
        if entry is None:
            report = ["never ran", *report]
        self._reports[stage] = report
        return report

    def reason(self, stage: Stage) -> str:
        if self.force:
            return "forced"
        report = self._reports.get(stage)
        report = report if report is not None else self.status(stage)
        if report and report[0] == "never ran":
            return "never ran"
        return describe(report) or "up to date"

    def up_to_date(self, stage: Stage) -> bool:
        if stage.frozen:  # never run; only a missing output makes it "run" (and fail)
            return all(os.path.lexists(p) for p in stage.out_paths)
        if self.force:
            return False
        return not self.status(stage)

    def run(self, stage: Stage):
        """The doit action: run one stage; a failure is a value doit reports, not a crash."""
        from doit.exceptions import TaskFailed

        if self._lock is not None:
            self._lock()
        reason = self.reason(stage)
        started = time.monotonic()
        try:
            outcome = self.runner.run(
                stage, self.force, lambda: self.listener("running", stage, reason)
            )
        except Exception as e:  # an OSError or a lode error while caching: still this stage's
            err = e if isinstance(e, StageFailed) else StageFailed(stage, str(e) or repr(e))
            self.outcomes[stage] = "failed"
            self.errors.append(err)
            return TaskFailed(err.message)
        self.outcomes[stage] = outcome
        if self._lock is not None:  # plain doit: no end-of-run hook, so settle each stage
            self.runner.finish()
        self.listener(outcome, stage, time.monotonic() - started)
        return None

    def skipped(self, stage: Stage) -> None:
        kind = "frozen" if stage.frozen else "skipped"
        self.outcomes[stage] = kind
        self.listener(kind, stage, None)

    def task_dicts(self) -> Iterator[dict]:
        chosen = set(self.stages)
        for stage in self.stages:
            ups = [u for u in self.project.upstream[stage] if u in chosen]
            yield {
                "basename": self.task_name(stage),
                "doc": stage.desc or f"{' && '.join(stage.commands)}",
                "actions": [(self.run, [stage])],
                "uptodate": [StageCheck(self, stage)],
                "task_dep": [self.task_name(u) for u in ups],
                "meta": {"dvcfile": os.path.relpath(stage.dvcfile, self.repo.root),
                         "wdir": os.path.relpath(stage.wdir, self.repo.root)},
                "verbosity": 2,
            }


def doit_config(repo) -> dict:
    """doit's own state: under .dvc/tmp/lode/, SQLite chosen explicitly (left alone doit
    falls back to dbm.dumb here, unsafe under concurrency and flushed only at exit)."""
    os.makedirs(repo.state_dir, exist_ok=True)
    return {
        "backend": "sqlite3",
        "dep_file": os.path.join(repo.state_dir, "doit.sqlite3"),
        "verbosity": 2,
    }

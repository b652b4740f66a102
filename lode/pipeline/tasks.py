"""Stages as doit tasks: one task per stage, `task_dep` from the graph, an `uptodate`
check against dvc.lock, and an action that runs (or restores) the stage.

The same task dicts serve `lode repro` (through a TaskLoader2) and plain `doit` (through
the `dodo.py` that `lode init` writes), so both run exactly the same thing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from lode.errors import LodeError
from lode.pipeline.dvcfile import DVCFILE
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


# What a doit task name may not hold as is: ':' separates a group from its subtasks (a
# recipe's steps are `recipe:step`), doit refuses '=' (and reads `a=b` on its command line
# as a variable), '*' makes a word a pattern, a leading '-' an option, and '%' is the
# escape itself; control characters would break `doit list`'s lines.
_DOIT_SPECIAL = frozenset(":=*%")


def doit_escape(text: str) -> str:
    """`text` with the characters doit gives a meaning percent-encoded (UTF-8 bytes, as
    in a URL); every other character, `@`, `.`, `-`, `/`, letters of any script, stays."""
    out = []
    for i, ch in enumerate(text):
        if ch in _DOIT_SPECIAL or not ch.isprintable() or (i == 0 and ch == "-"):
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass")))
        else:
            out.append(ch)
    return "".join(out)


def doit_task_name(stage: Stage, root: str) -> str:
    """The stage's doit task: its name for the root dvc.yaml, `sub/dvc.yaml:name` for
    another, each part escaped. One-to-one: an escaped part never holds ':', so only
    the separator does, and two stages never share a task."""
    rel = os.path.relpath(stage.dvcfile, root)
    name = doit_escape(stage.name)
    return name if rel == DVCFILE else f"{doit_escape(rel)}:{name}"


class StageCheck:
    """doit `uptodate` entry. Its str() is what `doit info` prints: why the stage runs."""

    def __init__(self, plan: Plan, stage: Stage) -> None:
        self.plan, self.stage = plan, stage
        self.reason = "not checked yet"

    def __call__(self, task=None, values=None) -> bool:
        try:
            up = self.plan.up_to_date(self.stage)
            self.reason = "up to date" if up else self.plan.reason(self.stage)
        except LodeError as e:  # e.g. an unreadable dvc.lock: the run says it, in a sentence
            self.reason = f"cannot be checked: {e}"
            return False
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
        return doit_task_name(stage, self.repo.root)

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

        started = time.monotonic()
        try:
            if self._lock is not None:
                self._lock()
            reason = self.reason(stage)
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
            name, address = self.task_name(stage), stage.address(self.repo.root)
            doc = stage.desc or f"{' && '.join(stage.commands)}"
            yield {
                "basename": name,
                "doc": doc if name == address else f"(stage '{address}') {doc}",
                "actions": [(self.run, [stage])],
                "uptodate": [StageCheck(self, stage)],
                "task_dep": [self.task_name(u) for u in ups],
                "meta": {"dvcfile": os.path.relpath(stage.dvcfile, self.repo.root),
                         "wdir": os.path.relpath(stage.wdir, self.repo.root)},
                "verbosity": 2,
            }


class StateError(LodeError):
    """lode's doit database cannot be used and cannot be rebuilt."""


DOIT_DB = "doit.sqlite3"
# SQLite's companions of a database file: a stale one would be replayed into the new one
_DB_COMPANIONS = ("-journal", "-wal", "-shm")


def _db_problem(path: str) -> str | None:
    """Why doit could not use the database at `path` (None: it can, or there is none):
    not a regular file, not SQLite, corrupt, or rows doit would choke on mid-run."""

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None

    if stat.S_ISLNK(st.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISREG(st.st_mode):
        return "it is not a regular file"
    if st.st_size == 0:
        return None  # SQLite makes an empty file a database
    try:
        # read-only, so that checking never writes (and never follows a journal into it)
        conn = sqlite3.connect(f"{Path(path).as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error as e:
        return str(e)
    try:
        if conn.execute("pragma quick_check").fetchone() != ("ok",):
            return "its pages are corrupt"
        tables = {r[0] for r in conn.execute("select name from sqlite_master")}
        if "doit" not in tables:
            return None  # doit creates its table
        for task_id, data in conn.execute("select task_id, task_data from doit"):
            if not isinstance(task_id, str) or not isinstance(json.loads(data), dict):
                return "it holds a row doit cannot read"
    except sqlite3.OperationalError as e:
        if "locked" in str(e):
            raise StateError(f"{path} is in use by another doit process; let it finish.") \
                from None
        return str(e)
    except (sqlite3.Error, ValueError, TypeError) as e:
        return str(e) or type(e).__name__
    finally:
        conn.close()
    return None


def usable_state_db(repo, warn: Callable[[str], None] | None = None) -> str:
    """The path of doit's database, usable: one doit cannot read (garbage, truncated, a
    directory, a link, unreadable) is removed, and doit starts a new one. It only holds
    doit's own notes (dvc.lock holds what ran), so nothing is lost but `doit ignore`
    marks; `warn` hears what was done."""
    os.makedirs(repo.state_dir, exist_ok=True)
    path = os.path.join(repo.state_dir, DOIT_DB)
    problem = _db_problem(path)
    if problem is None:
        return path
    rel = os.path.relpath(path, repo.root)
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)  # only an empty one: lode never made what is inside
        else:
            os.unlink(path)
        for suffix in _DB_COMPANIONS:
            if os.path.lexists(path + suffix) and not os.path.isdir(path + suffix):
                os.unlink(path + suffix)
    except OSError as e:
        raise StateError(f"lode's doit database {rel} cannot be read ({problem}) nor "
                         f"removed ({e.strerror}).", f"Remove {rel} and run again.") from None
    (warn or _warn)(f"WARNING: lode's doit database {rel} could not be read ({problem}); "
                    "rebuilt it (it only caches doit's state: dvc.lock records what ran).")
    return path


def _warn(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def doit_config(repo, warn: Callable[[str], None] | None = None) -> dict:
    """doit's own state: under .dvc/tmp/lode/, SQLite chosen explicitly (left alone doit
    falls back to dbm.dumb here, unsafe under concurrency and flushed only at exit), and
    checked first, so that a broken one is rebuilt rather than a traceback."""
    return {
        "backend": "sqlite3",
        "dep_file": usable_state_db(repo, warn),
        "verbosity": 2,
    }

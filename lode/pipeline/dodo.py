"""The stages' half of the doit entry point: what a project's `dodo.py` imports so that
plain `doit` runs its dvc.yaml stages (`doit list` shows them, `doit info STAGE` says why
one would run, `doit STAGE` runs it and what it needs, the same tasks `lode repro` runs):

    from lode.pipeline.dodo import DOIT_CONFIG, task_stages  # noqa: F401

Nothing here looks for the repository at import: `DOIT_CONFIG` and `task_stages` find it
when doit reads them, from the directory doit runs in (the dodo.py's, or `--dir`).
`config` and `stage_tasks` take the repository explicitly; the recipes' entry point
(lode.recipes.dodo, one layer up) combines them with the recipes' tasks, for plain doit
and for `lode run`. The pipeline layer cannot import the recipes, hence two modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from lode.errors import LodeError
from lode.flock import hold_until_exit
from lode.pipeline.graph import load_project
from lode.pipeline.tasks import Plan, doit_config
from lode.repo import Repo, find_root


def _invalid(e: LodeError):
    """doit prints an InvalidDodoFile as one ERROR line, not a traceback."""
    from doit.exceptions import InvalidDodoFile

    return InvalidDodoFile(str(e))


def find_repo() -> Repo:
    """The repository doit runs in (doit has moved into the dodo.py's directory)."""
    try:
        return Repo.find()
    except LodeError as e:
        raise _invalid(e) from None


def config(repo: Repo) -> dict:
    """doit's configuration, its database checked first (a broken one is rebuilt, with a
    warning); what cannot be fixed is doit's one ERROR line, not a traceback."""
    try:
        return doit_config(repo)
    except LodeError as e:
        raise _invalid(e) from None


def run_lock(repo: Repo) -> Callable[[], None]:
    """What a task calls before it changes anything: the first one takes the repository
    lock for the rest of the run (`doit list` and `doit info` never take it)."""
    return lambda: hold_until_exit(repo.lock())


def stage_tasks(repo: Repo, lock: Callable[[], None] | None = None) -> Iterator[dict]:
    """Every stage of every dvc.yaml in `repo`, one doit task each."""
    try:
        project = load_project(repo)
        plan = Plan(repo, project, project.topological(), scm=repo.scm, lock=lock)
    except LodeError as e:
        raise _invalid(e) from None
    yield from plan.task_dicts()


class FoundConfig(dict):
    """`DOIT_CONFIG` as a dodo.py imports it: a dict (doit insists), filled with the
    configuration of the repository doit runs in when doit first reads it, and again
    should it be read from another repository."""

    def __init__(self) -> None:
        super().__init__()
        self._root: str | None = None

    def _filled(self) -> FoundConfig:
        try:
            root = find_root()
        except LodeError as e:
            raise _invalid(e) from None
        if root != self._root:
            dict.clear(self)
            dict.update(self, config(Repo(root)))
            self._root = root
        return self

    def __getitem__(self, key):
        return dict.__getitem__(self._filled(), key)

    def __iter__(self):
        return dict.__iter__(self._filled())

    def __len__(self) -> int:
        return dict.__len__(self._filled())

    def __contains__(self, key) -> bool:
        return dict.__contains__(self._filled(), key)

    def __eq__(self, other) -> bool:
        return dict.__eq__(self._filled(), other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return dict.__repr__(self._filled())

    def get(self, key, default=None):
        return dict.get(self._filled(), key, default)

    def keys(self):
        return dict.keys(self._filled())

    def values(self):
        return dict.values(self._filled())

    def items(self):
        return dict.items(self._filled())

    def copy(self) -> dict:
        return dict(dict.items(self._filled()))


DOIT_CONFIG = FoundConfig()


# doit orders task generators by the line they are defined at, across modules: this one
# stays above lode.recipes.dodo's task_recipes, so the stages come first, as they did.
def task_stages():
    """Every stage of every dvc.yaml in the repository, one doit task each."""
    repo = find_repo()
    yield from stage_tasks(repo, run_lock(repo))

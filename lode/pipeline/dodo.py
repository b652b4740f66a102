"""What a project's `dodo.py` imports so that plain `doit` runs its dvc.yaml stages:
`doit list` shows them, `doit info STAGE` says why one would run, `doit STAGE` runs it
and what it needs, the same tasks `lode repro` runs.

    from lode.pipeline.dodo import DOIT_CONFIG, task_stages  # noqa: F401
"""

from __future__ import annotations

import atexit
import threading

from doit.exceptions import InvalidDodoFile

from lode.errors import LodeError
from lode.pipeline.graph import load_project
from lode.pipeline.tasks import Plan, doit_config
from lode.repo import Repo

_repo = Repo.find()


def _config() -> dict:
    """doit's configuration, its database checked first (a broken one is rebuilt, with a
    warning); what cannot be fixed is doit's one ERROR line, not a traceback."""
    try:
        return doit_config(_repo)
    except LodeError as e:
        raise InvalidDodoFile(str(e)) from None


DOIT_CONFIG = _config()
_held: list = []
_taking = threading.Lock()  # `doit -n 2 -P thread`: two first stages at once


def _lock() -> None:
    """Take the repository lock on the first stage that runs, for the rest of the run
    (`doit list` and `doit info` never take it)."""
    with _taking:
        if not _held:
            lock = _repo.lock()
            lock.__enter__()
            _held.append(lock)
            atexit.register(lock.__exit__, None, None, None)


def task_stages():
    """Every stage of every dvc.yaml in the repository, one doit task each."""
    try:
        project = load_project(_repo)
        plan = Plan(_repo, project, project.topological(), scm=_repo.scm, lock=_lock)
    except LodeError as e:  # doit prints this as one ERROR line, not a traceback
        raise InvalidDodoFile(str(e)) from None
    yield from plan.task_dicts()

"""`lode init`: the `.dvc/` scaffolding exactly as `dvc init` writes it."""

from __future__ import annotations

import os

from lode import git
from lode.atomic import write_text_atomic
from lode.errors import InitError

DVC_GITIGNORE = "/config.local\n/tmp\n/cache\n"
DVCIGNORE = (
    "# Add patterns of files dvc should ignore, which could improve\n"
    "# the performance. Learn more at\n"
    "# https://dvc.org/doc/user-guide/dvcignore\n"
)


def git_toplevel(path: str) -> str | None:
    d = os.path.abspath(path)
    while True:
        if os.path.exists(os.path.join(d, ".git")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


DODO = '''"""doit entry point: `doit list` shows this project's dvc.yaml stages and the
recipes of recipes.yaml; `doit STAGE` runs a stage as `lode repro` does, `doit RECIPE` a
recipe as `lode run` does (written by `lode init`)."""

from lode.pipeline.dodo import DOIT_CONFIG, task_stages  # noqa: F401
from lode.recipes.dodo import task_recipes  # noqa: F401
'''


def write_dodo(root: str) -> str | None:
    """Add the dodo.py that exposes the pipeline to doit; None when one exists already
    (a project's own dodo.py is never overwritten)."""
    path = os.path.join(root, "dodo.py")
    if os.path.exists(path):
        return None
    write_text_atomic(path, DODO)
    return "dodo.py"


def init(root: str, no_scm: bool = False, force: bool = False) -> list[str]:
    """Create `.dvc/`; return the paths written (relative to root)."""
    dvc_dir = os.path.join(root, ".dvc")
    if os.path.exists(dvc_dir) and not force:
        raise InitError(
            f"'{root}' is already initialised (.dvc exists).",
            "Use 'lode init -f' to rewrite the scaffolding (the cache is kept).",
        )
    top = git_toplevel(root)
    if not no_scm:
        if top is None:
            raise InitError(
                f"'{root}' is not inside a Git repository.",
                "Run 'git init' first, or 'lode init --no-scm' to use lode without Git.",
            )
        if os.path.abspath(top) != os.path.abspath(root):
            raise InitError(
                f"'{root}' is not the top of its Git repository ({top}).",
                "Run 'lode init' there, or use --no-scm.",
            )
    os.makedirs(os.path.join(dvc_dir, "tmp"), exist_ok=True)
    written = []
    files = {
        os.path.join(dvc_dir, ".gitignore"): DVC_GITIGNORE,
        os.path.join(dvc_dir, "config"): "[core]\n    no_scm = True\n" if no_scm else "",
    }
    ignore = os.path.join(root, ".dvcignore")
    if not os.path.exists(ignore):
        files[ignore] = DVCIGNORE
    for path, text in files.items():
        write_text_atomic(path, text)
        written.append(os.path.relpath(path, root))
    dodo = write_dodo(root)
    if dodo:
        written.append(dodo)
    if not no_scm:
        repo = git.open_repo(root)
        try:
            repo.index.add([os.path.join(root, p) for p in written])
        finally:
            repo.close()
    return written

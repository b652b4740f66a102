"""Team recipes: a pipeline run wrapped in pre-tasks (clean workspace, targeted pull, the
team's own checks) and post-tasks (commit, data push, git push, notify), declared in
`recipes.yaml` or `dodo.py` and run by doit."""

from __future__ import annotations

from lode.errors import LodeError


class RecipeError(LodeError):
    """A recipe that cannot be read or run: unknown name, bad step, failing step."""

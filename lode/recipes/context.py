"""What one run of a recipe knows as its steps go by: which steps ran and how, the
metrics, the commit; and the event a notifier is sent."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from lode.pipeline.graph import load_project
from lode.recipes.gitops import open_repo
from lode.recipes.spec import Recipe


class RunContext:
    def __init__(self, repo, recipe: Recipe, run_id: str | None = None) -> None:
        self.repo, self.recipe = repo, recipe
        self.run_id = run_id or os.environ.get("LODE_RUN_ID") or None
        self.started = time.monotonic()
        self.steps: list[list[str]] = []  # [name, "ok" | "failed"]
        self.failed_step: str | None = None
        self.error: str | None = None
        self.metrics: list[dict[str, Any]] = []
        self.commit: str | None = None
        self.branch: str | None = None
        self.stages: dict[str, str] = {}  # stage address -> ran/restored/skipped/...
        self._git = None
        self._project = None

    @property
    def git(self):
        """The GitPython repository (opened once per run)."""
        if self._git is None:
            self._git = open_repo(self.repo.root)
        return self._git

    def plan(self, reload: bool = False):
        """(project, stages) the recipe's targets choose (paths from the repository root),
        upstream first."""
        if self._project is None or reload:
            self._project = load_project(self.repo)
        project = self._project
        if not self.recipe.targets:  # no targets: every pipeline of the repository
            return project, project.topological()
        stages = project.resolve_targets(self.recipe.targets, cwd=self.repo.root)
        return project, project.plan(stages)

    def close(self) -> None:
        if self._git is not None:
            self._git.close()
            self._git = None

    def event(self, outcome: str) -> dict[str, Any]:
        return {
            "recipe": self.recipe.name,
            "outcome": outcome,
            "failed_step": self.failed_step,
            "error": self.error,
            "duration": round(time.monotonic() - self.started, 2),
            "project": os.path.basename(self.repo.root),
            "metrics": self.metrics,
            "commit": self.commit,
            "branch": self.branch,
            "host": socket.gethostname(),
            "run_id": self.run_id,
            "steps": [list(s) for s in self.steps],
        }

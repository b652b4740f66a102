"""The doit entry point: lode's task generators for one repository, the pipeline's
stages and the team's recipes, as plain `doit` and `lode run` load them.

What a project's `dodo.py` imports (written by `lode init`):

    from lode.pipeline.dodo import DOIT_CONFIG, task_stages  # noqa: F401
    from lode.recipes.dodo import task_recipes  # noqa: F401

Recipes come from `recipes.yaml`, and from Python with `recipe(...)` (a step may then be
a callable):

    from lode.recipes.dodo import recipe
    recipe("nightly", desc="…", pre=["clean_workspace", check_gpu], post=["commit"])

`DoitEntry(repo)` builds the generators for a repository given explicitly (`lode run`
passes its run id too); the module-level `task_recipes`, like lode.pipeline.dodo's
`task_stages` and `DOIT_CONFIG`, finds the repository only when doit calls it. The entry
point lives here, in the recipes layer, because it combines both halves: the stages'
tasks stay in lode.pipeline.dodo (which cannot import the recipes), the recipes' here.

The one piece of process-wide state is what `recipe(...)` declared: a dodo.py declares
by calling it, as it declares doit's tasks by defining functions.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator

from lode.errors import LodeError
from lode.pipeline import dodo as stages
from lode.pipeline.graph import load_project
from lode.pipeline.tasks import doit_config, doit_task_name
from lode.recipes import RecipeError
from lode.recipes.spec import Recipe, build, load
from lode.recipes.tasks import RecipeTasks

# A placeholder no stage's doit task can be called (theirs never hold a ':' after a part
# that is not a dvc.yaml path) and no recipe (letters, digits, - and _); '_' hides it from
# `doit list`.
NO_RECIPES = "_lode:no_recipes"
DODO = "dodo.py"

_declared: dict[str, Recipe] = {}  # recipe(...)'s, in the order declared


def recipe(name: str, desc: str = "", targets: list[str] | None = None, force: bool = False,
           pre: list | None = None, post: list | None = None,
           executor: str | dict | None = None) -> Recipe:
    """Declare a recipe from Python (in dodo.py); the same fields as recipes.yaml."""
    made = build(name, {"desc": desc, "targets": targets, "force": force, "pre": pre or [],
                        "post": post or [], "executor": executor}, source=DODO)
    _declared[name] = made
    return made


class DoitEntry:
    """The task generators doit loads for `repo`: its stages, then its recipes; the
    repository lock is taken by the first task that runs, for the rest of the run."""

    def __init__(self, repo, run_id: str | None = None) -> None:
        self.repo, self.run_id = repo, run_id
        self.lock = stages.run_lock(repo)
        self.made: RecipeTasks | None = None  # the recipe tasks doit last loaded

    def task_stages(self) -> Iterator[dict]:
        """Every stage of every dvc.yaml in the repository, one doit task each."""
        yield from stages.stage_tasks(self.repo, self.lock)

    def task_recipes(self) -> Iterator[dict]:
        """The team's recipes, one doit task group each."""
        try:
            recipes = self.recipes()
            self._check_names(recipes)
        except LodeError as e:  # doit prints this as one ERROR line, not a traceback
            from doit.exceptions import InvalidDodoFile

            raise InvalidDodoFile(str(e)) from None
        if not recipes:  # doit would list an empty generator as a task named "recipes"
            yield {"basename": NO_RECIPES, "actions": [], "doc": "no recipes.yaml yet"}
            return
        self.made = RecipeTasks(self.repo, recipes, lock=self.lock, run_id=self.run_id)
        yield from self.made.task_dicts()

    def recipes(self) -> dict[str, Recipe]:
        """recipes.yaml's, then dodo.py's; a name in both is refused."""
        found = load(self.repo.root)
        twice = sorted(set(found) & set(_declared))
        if twice:
            raise RecipeError(f"recipe {', '.join(twice)} is declared in recipes.yaml and in "
                              "dodo.py; keep one.")
        return {**found, **_declared}

    def steps_not_run(self, name: str) -> list[str] | None:
        """The steps of recipe `name` that the last doit run of these tasks did not bring
        to success; None when doit never loaded the recipes."""
        if self.made is None or name not in self.made.recipes:
            return None
        return self.made.not_run(self.made.recipes[name])

    def namespace(self) -> dict:
        """What doit loads for `lode run`: the project's dodo.py when it has one (its
        recipe(...) calls declare recipes, its own tasks join), completed with this entry
        point's generators, which also stand in for the ones it imported from lode."""
        try:
            mine = {"DOIT_CONFIG": doit_config(self.repo), "task_stages": self.task_stages,
                    "task_recipes": self.task_recipes}
        except LodeError as e:  # its database, say: the sentence is lode's own
            raise RecipeError(str(e)) from None
        namespace = dict(mine)
        path = os.path.join(self.repo.root, DODO)
        if os.path.exists(path):
            lode_own = {"DOIT_CONFIG": stages.DOIT_CONFIG, "task_stages": stages.task_stages,
                        "task_recipes": task_recipes}
            for key, value in inspect.getmembers(_load_dodo(path, self.repo.root)):
                namespace[key] = mine[key] if value is lode_own.get(key) else value
        return namespace

    def _check_names(self, recipes: dict[str, Recipe]) -> None:
        names = {doit_task_name(s, self.repo.root) for s in load_project(self.repo).stages}
        clash = sorted(names & set(recipes))
        if clash:
            raise RecipeError(f"recipe {', '.join(clash)} has the name of a pipeline stage; "
                              "doit needs one name per task: rename the recipe.")


def _load_dodo(path: str, root: str):
    """The project's dodo.py, imported as doit imports it (from its directory, which is
    where we come back from)."""
    from doit.loader import get_module

    here = os.getcwd()
    try:
        return get_module(path, cwd=root)
    except Exception as e:  # the project's own code: say where, once
        raise RecipeError(f"dodo.py cannot be loaded: {type(e).__name__}: {e}") from None
    finally:
        os.chdir(here)


# Below lode.pipeline.dodo's task_stages by line: doit orders generators by their line.
def task_recipes():
    """The team's recipes, one doit task group each."""
    yield from DoitEntry(stages.find_repo()).task_recipes()

"""What a project's `dodo.py` imports so that plain `doit` runs its recipes:

    from lode.pipeline.dodo import DOIT_CONFIG, task_stages  # noqa: F401
    from lode.recipes.dodo import task_recipes  # noqa: F401

Recipes come from `recipes.yaml`, and from Python with `recipe(...)` (a step may then be
a callable):

    from lode.recipes.dodo import recipe
    recipe("nightly", desc="…", pre=["clean_workspace", check_gpu], post=["commit"])
"""

from __future__ import annotations

from lode.pipeline.dodo import _lock, _repo
from lode.pipeline.tasks import doit_task_name
from lode.recipes.spec import Recipe
from lode.recipes.tasks import RecipeTasks

REGISTERED: dict[str, Recipe] = {}
# A placeholder no stage's doit task can be called (theirs never hold a ':' after a part
# that is not a dvc.yaml path) and no recipe (letters, digits, - and _); '_' hides it from
# `doit list`.
NO_RECIPES = "_lode:no_recipes"
_run_id: list[str] = []  # set by `lode run` for the run it starts
_made: list[RecipeTasks] = []  # the task makers doit used, for `lode run` to check


def recipe(name: str, desc: str = "", targets: list[str] | None = None, force: bool = False,
           pre: list | None = None, post: list | None = None,
           executor: str | dict | None = None) -> Recipe:
    """Declare a recipe from Python (in dodo.py); the same fields as recipes.yaml."""
    from lode.recipes.spec import build

    made = build(name, {"desc": desc, "targets": targets, "force": force, "pre": pre or [],
                        "post": post or [], "executor": executor}, source="dodo.py")
    REGISTERED[name] = made
    return made


def all_recipes() -> dict[str, Recipe]:
    """recipes.yaml's, then dodo.py's; a name in both is refused."""
    from lode.recipes import RecipeError
    from lode.recipes.spec import load

    found = load(_repo.root)
    twice = sorted(set(found) & set(REGISTERED))
    if twice:
        raise RecipeError(f"recipe {', '.join(twice)} is declared in recipes.yaml and in "
                          "dodo.py; keep one.")
    return {**found, **REGISTERED}


def task_recipes():
    """The team's recipes, one doit task group each."""
    from doit.exceptions import InvalidDodoFile

    from lode.errors import LodeError

    try:
        recipes = all_recipes()
        _check_names(recipes)
    except LodeError as e:  # doit prints this as one ERROR line, not a traceback
        raise InvalidDodoFile(str(e)) from None
    if not recipes:  # doit would list an empty generator as a task named "recipes"
        yield {"basename": NO_RECIPES, "actions": [], "doc": "no recipes.yaml yet"}
        return
    tasks = RecipeTasks(_repo, recipes, lock=_lock, run_id=_run_id[0] if _run_id else None)
    _made[:] = [tasks]
    yield from tasks.task_dicts()


def steps_not_run(name: str) -> list[str] | None:
    """The steps of recipe `name` that the last doit run in this process did not bring to
    success; None when doit never loaded the recipes."""
    if not _made or name not in _made[0].recipes:
        return None
    return _made[0].not_run(_made[0].recipes[name])


def _check_names(recipes: dict[str, Recipe]) -> None:
    from lode.pipeline.graph import load_project
    from lode.recipes import RecipeError

    stages = {doit_task_name(s, _repo.root) for s in load_project(_repo).stages}
    clash = sorted(stages & set(recipes))
    if clash:
        raise RecipeError(f"recipe {', '.join(clash)} has the name of a pipeline stage; "
                          "doit needs one name per task: rename the recipe.")

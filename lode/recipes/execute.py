"""`lode run RECIPE`: the same doit tasks `doit RECIPE` runs, loaded from the project's
dodo.py when it has one (so recipes declared there in Python are found), else from
lode's own task generators."""

from __future__ import annotations

import os

from lode.recipes import RecipeError
from lode.recipes.spec import Recipe


def _namespace(repo) -> dict:
    """The task generators doit sees: the project's dodo.py, completed with lode's."""
    from doit.exceptions import InvalidDodoFile

    os.chdir(repo.root)  # doit and lode.pipeline.dodo find the project from here
    try:
        from lode.pipeline import dodo as stages
        from lode.recipes import dodo as recipes
    except InvalidDodoFile as e:  # its database, say: the sentence is lode's own
        raise RecipeError(str(e)) from None

    namespace = {"DOIT_CONFIG": stages.DOIT_CONFIG, "task_stages": stages.task_stages,
                 "task_recipes": recipes.task_recipes}
    path = os.path.join(repo.root, "dodo.py")
    if os.path.exists(path):
        import inspect

        from doit.loader import get_module

        try:
            module = get_module(path, cwd=repo.root)
        except Exception as e:  # the project's own code: say where, once
            raise RecipeError(f"dodo.py cannot be loaded: {type(e).__name__}: {e}") from None
        namespace.update(dict(inspect.getmembers(module)))
    return namespace


def recipes(repo) -> dict[str, Recipe]:
    _namespace(repo)  # imports dodo.py, where recipes may be declared (from the root:
    from lode.recipes.dodo import all_recipes  # lode.recipes.dodo finds the project there)

    return all_recipes()


def list_recipes(repo) -> list[tuple[str, str]]:
    return [(name, r.desc) for name, r in recipes(repo).items()]


def find(repo, name: str) -> Recipe:
    found = recipes(repo)
    if name not in found:
        known = ", ".join(found) or "none (write them in recipes.yaml)"
        raise RecipeError(f"unknown recipe '{name}'; the recipes are: {known}.")
    return found[name]


def run_recipe(repo, name: str, doit_args: list[str] | None = None,
               run_id: str | None = None) -> int:
    """Run the recipe through doit; doit's exit code (0 success, 1 a step failed, 2 and 3
    doit could not run it)."""
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    from lode.recipes import dodo

    find(repo, name)
    namespace = _namespace(repo)
    if run_id:
        dodo._run_id[:] = [run_id]
    args = list(doit_args or [])
    # a word that follows no option is a task name to doit: one more thing to run
    stray = [a for i, a in enumerate(args) if not a.startswith("-")
             and (i == 0 or not args[i - 1].startswith("-") or "=" in args[i - 1])]
    if stray:  # doit would take it for one more task to run
        raise RecipeError(f"'{stray[0]}' is not a doit option; run one recipe at a time, "
                          f"with doit's options after '--' (e.g. lode run {name} -- -v 2).")
    if name.startswith("-"):  # doit would read it as an option
        raise RecipeError(f"recipe '{name}' cannot be run: a name that starts with '-' is "
                          "an option to doit; rename it.")
    code = DoitMain(ModuleTaskLoader(namespace), config_filenames=()).run(["run", *args, name])
    missing = dodo.steps_not_run(name)
    if code == 0 and missing:  # doit skipped steps it has marked ignored, and said 0
        raise RecipeError(f"recipe '{name}' did not run to its end: doit did not run its "
                          f"step '{missing[0]}' (marked with 'doit ignore'?).",
                          f"Clear the mark with 'doit forget {name}:{missing[0]}'.")
    return code


def run_post(repo, name: str, stages: dict[str, str]) -> list[str]:
    """A recipe's post-tasks after its stages ran elsewhere (an exported workflow's merge
    task): commit, push, git_push, notify, as `lode run` would have run them."""
    from lode.recipes.steps import _metrics
    from lode.recipes.tasks import RecipeTasks

    recipe = find(repo, name)
    tasks = RecipeTasks(repo, {name: recipe})
    ctx = tasks.context(recipe)
    ctx.stages = stages
    ctx.metrics = _metrics(ctx)
    for step in recipe.post:
        if tasks.run_step(recipe, step) is not None:
            raise RecipeError(f"recipe '{name}' failed at step '{step.name}': "
                              f"{ctx.error or 'see above'}.")
    return [f"recipe '{name}': post-tasks {', '.join(s.name for s in recipe.post)} done"
            if recipe.post else f"recipe '{name}' has no post-tasks"]


def notify_skipped(repo, recipe: str, reason: str, run_id: str | None = None) -> None:
    """Tell the team a scheduled run did not start (the previous one still runs); never
    raises: a notification is not worth failing for."""
    import sys

    from lode.recipes.context import RunContext
    from lode.recipes.spec import OPTIONS, Step
    from lode.recipes.steps import send

    try:
        found = find(repo, recipe)
        step = found.step("notify") or Step("notify", "notify", dict(OPTIONS["notify"]))
        ctx = RunContext(repo, found, run_id)
        ctx.error = reason
        send(ctx, step, "skipped")
    except Exception as e:
        print(f"WARNING: could not send the 'skipped' notification: {e}", file=sys.stderr)

"""`lode run RECIPE`: the same doit tasks `doit RECIPE` runs, loaded through the entry
point (lode.recipes.dodo) from the project's dodo.py when it has one (so recipes
declared there in Python are found), else from lode's own task generators. Also a
recipe's post-tasks after its stages ran elsewhere, and the 'skipped' notification."""

from __future__ import annotations

import os
import sys

from lode.errors import UsageError
from lode.recipes import RecipeError
from lode.recipes.context import RunContext
from lode.recipes.dodo import DoitEntry
from lode.recipes.spec import OPTIONS, Recipe, Step
from lode.recipes.steps import metrics_deltas, send
from lode.recipes.tasks import RecipeTasks


def recipes(repo) -> dict[str, Recipe]:
    entry = DoitEntry(repo)
    entry.namespace()  # imports dodo.py, where recipes may be declared
    return entry.recipes()


def list_recipes(repo) -> list[tuple[str, str]]:
    return [(name, r.desc) for name, r in recipes(repo).items()]


def _pick(found: dict[str, Recipe], name: str) -> Recipe:
    if name not in found:
        known = ", ".join(found) or "none (write them in recipes.yaml)"
        raise RecipeError(f"unknown recipe '{name}'; the recipes are: {known}.")
    return found[name]


def find(repo, name: str) -> Recipe:
    return _pick(recipes(repo), name)


def check_doit_args(name: str, args: list[str]) -> None:
    """UsageError for a word among doit's options that doit would take for one more task
    to run (a word that follows no option): `lode run` runs one recipe at a time."""
    stray = [a for i, a in enumerate(args) if not a.startswith("-")
             and (i == 0 or not args[i - 1].startswith("-") or "=" in args[i - 1])]
    if stray:
        raise UsageError(f"'{stray[0]}' is not a doit option; run one recipe at a time, "
                         f"with doit's options after '--' (e.g. lode run {name} -- -v 2).")


def run_recipe(repo, name: str, doit_args: list[str] | None = None,
               run_id: str | None = None) -> int:
    """Run the recipe through doit; doit's exit code (0 success, 1 a step failed, 2 and 3
    doit could not run it)."""
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    entry = DoitEntry(repo, run_id=run_id)
    namespace = entry.namespace()
    _pick(entry.recipes(), name)
    args = list(doit_args or [])
    check_doit_args(name, args)
    if name.startswith("-"):  # doit would read it as an option
        raise RecipeError(f"recipe '{name}' cannot be run: a name that starts with '-' is "
                          "an option to doit; rename it.")
    os.chdir(repo.root)  # the steps run from the project's root, as under `doit`
    code = DoitMain(ModuleTaskLoader(namespace), config_filenames=()).run(["run", *args, name])
    missing = entry.steps_not_run(name)
    if code == 0 and missing:  # doit skipped steps it has marked ignored, and said 0
        raise RecipeError(f"recipe '{name}' did not run to its end: doit did not run its "
                          f"step '{missing[0]}' (marked with 'doit ignore'?).",
                          f"Clear the mark with 'doit forget {name}:{missing[0]}'.")
    return code


def run_post(repo, name: str, stages: dict[str, str]) -> list[str]:
    """A recipe's post-tasks after its stages ran elsewhere (an exported workflow's merge
    task, `lode stage merge --recipe`): commit, push, git_push, notify, as `lode run`
    would have run them."""
    recipe = find(repo, name)
    os.chdir(repo.root)  # as `lode run` runs them
    tasks = RecipeTasks(repo, {name: recipe})
    ctx = tasks.context(recipe)
    ctx.stages = stages
    ctx.metrics = metrics_deltas(ctx)
    for step in recipe.post:
        if tasks.run_step(recipe, step) is not None:
            raise RecipeError(f"recipe '{name}' failed at step '{step.name}': "
                              f"{ctx.error or 'see above'}.")
    return [f"recipe '{name}': post-tasks {', '.join(s.name for s in recipe.post)} done"
            if recipe.post else f"recipe '{name}' has no post-tasks"]


def notify_skipped(repo, recipe: str, reason: str, run_id: str | None = None) -> None:
    """Tell the team a scheduled run did not start (the previous one still runs); never
    raises: a notification is not worth failing for."""
    try:
        found = find(repo, recipe)
        step = found.step("notify") or Step("notify", "notify", dict(OPTIONS["notify"]))
        ctx = RunContext(repo, found, run_id)
        ctx.error = reason
        send(ctx, step, "skipped")
    except Exception as e:
        print(f"WARNING: could not send the 'skipped' notification: {e}", file=sys.stderr)

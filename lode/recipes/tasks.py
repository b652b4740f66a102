"""Recipes as doit tasks: `compute_metrics` is a group whose subtasks are its steps
(`compute_metrics:clean_workspace`, …, `compute_metrics:repro`, …), each depending on
the one before, so `doit compute_metrics` runs them in order and a failing step stops
the chain. The failing step itself sends the failure notification: doit runs nothing
after it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from lode.errors import LodeError
from lode.pipeline.events import emit
from lode.recipes.context import RunContext
from lode.recipes.spec import Recipe, Step
from lode.recipes.steps import BUILTIN, send


class RecipeTasks:
    def __init__(self, repo, recipes: dict[str, Recipe], lock: Callable[[], None] | None = None,
                 run_id: str | None = None) -> None:
        self.repo, self.recipes, self._lock = repo, recipes, lock
        self.run_id = run_id
        self._contexts: dict[str, RunContext] = {}
        # the steps that ran to success, per recipe: doit skips a step it has marked
        # ignored (`doit ignore`) and the ones after it, and still exits 0
        self.done: dict[str, list[str]] = {}

    def context(self, recipe: Recipe) -> RunContext:
        """One per recipe and process, made when its first step runs (that is when the
        clock starts)."""
        if recipe.name not in self._contexts:
            self._contexts[recipe.name] = RunContext(self.repo, recipe, self.run_id)
        return self._contexts[recipe.name]

    def run_step(self, recipe: Recipe, step: Step):
        """The doit action of one step: its line on success, TaskFailed on failure."""
        from doit.exceptions import TaskError, TaskFailed

        if self._lock is not None:
            self._lock()
        ctx = self.context(recipe)
        started = time.monotonic()
        try:
            line = BUILTIN[step.kind](ctx, step)
        except KeyboardInterrupt:  # Ctrl-C, or `lode stop`'s TERM: the team hears of it too
            self._failed(ctx, step, "interrupted (Ctrl-C or 'lode stop')")
            self._finish(recipe)
            raise
        except Exception as e:
            self._failed(ctx, step, str(e) if isinstance(e, LodeError)
                         else f"{type(e).__name__}: {e}")
            # the error itself is doit's to print (once, at the end of its report)
            emit(f"{recipe.name} failed at step '{step.name}' after "
                 f"{time.monotonic() - ctx.started:.1f} s; the steps after it did not run.", 2)
            self._finish(recipe)
            if isinstance(e, LodeError):
                return TaskFailed(ctx.error)
            return TaskError(ctx.error, e)  # doit prints the traceback: a bug to report
        ctx.steps.append([step.name, "ok"])
        self.done.setdefault(recipe.name, []).append(step.name)
        emit(f"   {line} ({time.monotonic() - started:.1f} s)")
        if step.name == recipe.steps[-1].name:  # `steps` is built anew on each call
            commit = f"; commit {ctx.commit[:8]}" if ctx.commit else ""
            emit(f"{recipe.name} succeeded in {time.monotonic() - ctx.started:.1f} s{commit}.")
            self._finish(recipe)
        return None

    def not_run(self, recipe: Recipe) -> list[str]:
        """The recipe's steps that did not run to success in this process, in order."""
        done = set(self.done.get(recipe.name, []))
        return [s.name for s in recipe.steps if s.name not in done]

    def _failed(self, ctx: RunContext, step: Step, error: str) -> None:
        ctx.steps.append([step.name, "failed"])
        ctx.failed_step, ctx.error = step.name, error
        notifier = ctx.recipe.step("notify")
        if notifier is not None and "failure" in (notifier.options["on"] or []):
            send(ctx, notifier, "failed")

    def _finish(self, recipe: Recipe) -> None:
        ctx = self._contexts.pop(recipe.name, None)
        if ctx is not None:
            ctx.close()

    def task_dicts(self) -> Iterator[dict]:
        for recipe in self.recipes.values():
            steps = recipe.steps
            yield {"basename": recipe.name, "name": None,
                   "doc": recipe.desc or f"recipe: {' → '.join(s.name for s in steps)}"}
            previous = None
            for step in steps:
                yield {
                    "basename": recipe.name,
                    "name": step.name,
                    "doc": _doc(recipe, step),
                    "actions": [(self.run_step, [recipe, step])],
                    "task_dep": [f"{recipe.name}:{previous}"] if previous else [],
                    "uptodate": [False],  # a recipe's steps always run
                    "verbosity": 2,
                }
                previous = step.name


def _doc(recipe: Recipe, step: Step) -> str:
    if step.kind == "repro":
        what = ", ".join(recipe.targets) if recipe.targets else "every stage"
        return f"repro {what}" + (" (force)" if recipe.force else "")
    if step.kind == "cmd":
        return f"shell: {step.action}"
    if step.kind == "python":
        return f"python: {getattr(step.action, '__name__', step.action)}"
    options = ", ".join(f"{k}={v}" for k, v in step.options.items() if v not in (None, []))
    return step.kind + (f" ({options})" if options else "")

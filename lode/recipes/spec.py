"""What a recipe is, read from `recipes.yaml` or declared from Python in `dodo.py`.

    recipes:
      compute_metrics:
        desc: Reproduce the pipeline and publish the metrics.
        targets: [dvc.yaml]          # as `lode repro` takes them (default: ./dvc.yaml)
        force: false
        executor: dask               # or {name: slurm, partition: gpu}; default: [executor]
        pre: [clean_workspace, pull, {name: lint, cmd: "ruff check ."}]
        post: [commit, push, git_push, {notify: {via: [slack]}}]

A step is a built-in's name, `{builtin: {options}}`, or a user step `{name, cmd}` (a shell
command) or `{name, python: "module:function"}`; from Python, a callable is a step too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from lode import yamlio
from lode.recipes import RecipeError

RECIPES_FILE = "recipes.yaml"
PRE = ("clean_workspace", "pull")
POST = ("commit", "push", "git_push", "notify")
# the options each built-in accepts, with their defaults
OPTIONS: dict[str, dict[str, Any]] = {
    "clean_workspace": {"untracked": False, "data": True},
    "pull": {"remote": None, "run_cache": True},
    "commit": {"message": "[lode] {recipe}: {metrics}"},
    "push": {"remote": None, "run_cache": True},
    "git_push": {"remote": None, "branch": None, "data_remote": None},
    "notify": {"via": None, "on": ["success", "failure"]},
}
RECIPE_KEYS = {"desc", "targets", "force", "executor", "pre", "post"}
# step names a user step may not take: they would shadow the built-ins and `repro`
RESERVED = {*OPTIONS, "repro"}


class Step:
    """One link of a recipe's chain: `kind` is a built-in's name, "cmd" or "python"."""

    def __init__(self, name: str, kind: str, options: dict[str, Any] | None = None,
                 action: str | Callable | None = None) -> None:
        self.name, self.kind = name, kind
        self.options = options or {}
        self.action = action

    def __repr__(self) -> str:
        return f"Step({self.name!r}, {self.kind!r})"


class Recipe:
    def __init__(self, name: str, desc: str = "", targets: list[str] | None = None,
                 force: bool = False, pre: list[Step] | None = None,
                 post: list[Step] | None = None, source: str = RECIPES_FILE) -> None:
        self.name, self.desc, self.targets, self.force = name, desc, targets, force
        # (name, options) for the repro step; None: the [executor] config, else local
        self.executor: tuple[str, dict[str, str]] | None = None
        self.pre, self.post = pre or [], post or []
        self.source = source

    @property
    def steps(self) -> list[Step]:
        """The whole chain, in order: pre-tasks, the pipeline, post-tasks."""
        return [*self.pre, Step("repro", "repro"), *self.post]

    def step(self, kind: str) -> Step | None:
        return next((s for s in self.steps if s.kind == kind), None)


def _where(source: str, recipe: str, section: str | None = None) -> str:
    return f"{source}: recipe '{recipe}'" + (f", {section}" if section else "")


def parse_step(raw: Any, where: str, allowed: tuple[str, ...]) -> Step:
    """One step from its YAML (or Python) form."""
    if callable(raw):
        name = getattr(raw, "__name__", "python_step")
        return Step(name, "python", action=raw)
    if isinstance(raw, str):
        raw = {raw: None}
    if not isinstance(raw, dict) or not raw:
        raise RecipeError(f"{where}: a step must be a name or a mapping, not {raw!r}.")
    if "name" in raw:
        return _user_step(raw, where)
    if len(raw) != 1:
        raise RecipeError(f"{where}: a built-in step is one key ({', '.join(raw)} given); a "
                          "step of your own needs 'name' and 'cmd' or 'python'.")
    (kind, options), = raw.items()
    if kind not in OPTIONS:
        raise RecipeError(f"{where}: unknown step '{kind}'. Built-in steps: "
                          f"{', '.join(OPTIONS)}; or give your own with name and cmd.")
    if kind not in allowed:
        raise RecipeError(f"{where}: '{kind}' is a {'pre' if kind in PRE else 'post'}-task.")
    options = options if options is not None else {}
    if not isinstance(options, dict):
        raise RecipeError(f"{where}: the options of '{kind}' must be a mapping.")
    unknown = set(options) - set(OPTIONS[kind])
    if unknown:
        raise RecipeError(f"{where}: '{kind}' has no option {', '.join(sorted(unknown))} "
                          f"(it takes {', '.join(OPTIONS[kind])}).")
    return Step(kind, kind, {**OPTIONS[kind], **options})


def _user_step(raw: dict, where: str) -> Step:
    name = raw["name"]
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise RecipeError(f"{where}: a step's name must be letters, digits, - and _.")
    if name in RESERVED:
        raise RecipeError(f"{where}: '{name}' is a built-in step; name yours differently.")
    kinds = [k for k in ("cmd", "python") if k in raw]
    extra = set(raw) - {"name", "cmd", "python"}
    if len(kinds) != 1 or extra:
        raise RecipeError(f"{where}: step '{name}' needs exactly one of 'cmd' (a shell "
                          "command) or 'python' (module:function), and nothing else.")
    action = raw[kinds[0]]
    if kinds[0] == "python" and not callable(action) and (
            not isinstance(action, str) or ":" not in action):
        raise RecipeError(f"{where}: step '{name}': 'python' must be 'module:function'.")
    if kinds[0] == "cmd" and (not isinstance(action, str) or not action.strip()):
        raise RecipeError(f"{where}: step '{name}': 'cmd' must be a command line.")
    return Step(name, kinds[0], action=action)


def build(name: str, body: Any, source: str = RECIPES_FILE) -> Recipe:
    """A Recipe from its mapping; every mistake is one sentence naming where it is."""
    where = _where(source, name)
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum() \
            or name.startswith("-"):  # doit, lode run and cron would read it as an option
        raise RecipeError(f"{source}: recipe names are letters, digits, - and _, not starting "
                          f"with - ('{name}' is not).")
    body = body or {}
    if not isinstance(body, dict):
        raise RecipeError(f"{where}: must be a mapping (desc, targets, force, pre, post).")
    unknown = set(body) - RECIPE_KEYS
    if unknown:
        raise RecipeError(f"{where}: unknown field {', '.join(sorted(unknown))} (fields: "
                          f"{', '.join(sorted(RECIPE_KEYS))}).")
    targets = body.get("targets")
    if isinstance(targets, str):
        targets = [targets]
    if targets is not None and not (isinstance(targets, list)
                                    and all(isinstance(t, str) for t in targets)):
        raise RecipeError(f"{where}: targets must be a list of stages or dvc.yaml paths.")
    steps = {}
    for section, allowed in (("pre", PRE), ("post", POST)):
        raw = body.get(section) or []
        if not isinstance(raw, list):
            raise RecipeError(f"{where}: '{section}' must be a list of steps.")
        steps[section] = [parse_step(s, f"{_where(source, name, section)} step {i + 1}",
                                     allowed) for i, s in enumerate(raw)]
        names = [s.name for s in steps[section]]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise RecipeError(f"{where}: step {', '.join(sorted(dup))} appears twice in "
                              f"'{section}'.")
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise RecipeError(f"{where}: force is true or false.")
    recipe = Recipe(name, str(body.get("desc") or ""), targets or None, force,
                    steps["pre"], steps["post"], source)
    recipe.executor = _executor(body.get("executor"), where)
    return recipe


def _executor(raw: Any, where: str) -> tuple[str, dict[str, str]] | None:
    """`executor: NAME` or `{name: NAME, OPTION: VALUE...}`: who runs the repro step."""
    if raw is None:
        return None
    if isinstance(raw, str) and raw:
        return raw, {}
    if isinstance(raw, dict) and isinstance(raw.get("name"), str) and all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool)
            for k, v in raw.items()):
        return raw["name"], {str(k): str(v) for k, v in raw.items() if k != "name"}
    raise RecipeError(f"{where}: executor is a name (e.g. dask) or a mapping with a name "
                      "and the executor's options.")


def parse(text: str, source: str = RECIPES_FILE) -> dict[str, Recipe]:
    try:
        doc = yamlio.loads(text, source) if text.strip() else {}
    except yamlio.YamlError as e:  # it names the file, the line and the problem
        raise RecipeError(e.message) from None
    if not isinstance(doc, dict) or set(doc) - {"recipes"}:
        raise RecipeError(f"{source} must be a mapping with one key, 'recipes'.")
    recipes = doc.get("recipes") or {}
    if not isinstance(recipes, dict):
        raise RecipeError(f"{source}: 'recipes' must map recipe names to recipes.")
    return {name: build(name, body, source) for name, body in recipes.items()}


def load(root: str) -> dict[str, Recipe]:
    """The recipes of `recipes.yaml` at the repository root ({} when there is none)."""
    path = os.path.join(root, RECIPES_FILE)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise RecipeError(f"cannot read {RECIPES_FILE}: {e.strerror or e}.") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise RecipeError(f"{RECIPES_FILE} is not UTF-8 text (line {line}).") from None
    return parse(text)

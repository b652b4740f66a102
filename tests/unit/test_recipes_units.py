"""Recipes without processes: reading recipes.yaml, the commit message, the task chain."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lode.recipes import RecipeError
from lode.recipes.message import deltas, describe, render
from lode.recipes.spec import OPTIONS, parse
from lode.recipes.tasks import RecipeTasks

GOOD = """
recipes:
  compute_metrics:
    desc: Reproduce and publish.
    targets: train
    pre:
      - clean_workspace
      - {pull: {run_cache: false}}
      - {name: lint, cmd: "ruff check ."}
    post:
      - {commit: {message: "metrics: {metrics}"}}
      - push
      - git_push
      - {notify: {via: [slack], on: [failure]}}
  retrain:
    force: true
"""


def test_a_recipe_reads_into_steps_with_their_options():
    recipes = parse(GOOD)
    r = recipes["compute_metrics"]
    assert r.desc == "Reproduce and publish." and r.targets == ["train"] and not r.force
    assert [s.name for s in r.steps] == ["clean_workspace", "pull", "lint", "repro", "commit",
                                         "push", "git_push", "notify"]
    assert r.pre[1].options == {"remote": None, "run_cache": False}
    assert r.pre[0].options == OPTIONS["clean_workspace"]
    assert (r.pre[2].kind, r.pre[2].action) == ("cmd", "ruff check .")
    assert r.step("notify").options == {"via": ["slack"], "on": ["failure"]}
    retrain = recipes["retrain"]
    assert retrain.force and [s.name for s in retrain.steps] == ["repro"]


@pytest.mark.parametrize("text, message", [
    ("recipes:\n  x:\n    pre: [push]\n", "'push' is a post-task"),
    ("recipes:\n  x:\n    post: [clean_workspace]\n", "'clean_workspace' is a pre-task"),
    ("recipes:\n  x:\n    pre: [pul]\n", "unknown step 'pul'"),
    ("recipes:\n  x:\n    post: [{commit: {msg: hi}}]\n", "'commit' has no option msg"),
    ("recipes:\n  x:\n    pre: [{name: a, cmd: x, python: 'm:f'}]\n", "exactly one of 'cmd'"),
    ("recipes:\n  x:\n    pre: [{name: a, python: nocolon}]\n", "'module:function'"),
    ("recipes:\n  x:\n    pre: [{name: pull, cmd: x}]\n", "'pull' is a built-in step"),
    ("recipes:\n  x:\n    pre: [pull, pull]\n", "step pull appears twice"),
    ("recipes:\n  x:\n    forse: true\n", "unknown field forse"),
    ("recipes:\n  x:\n    force: yes please\n", "force is true or false"),
    ("recipes:\n  'a b': {}\n", "recipe names are letters"),
    ("stages: {}\n", "one key, 'recipes'"),
    ("recipes: [\n", "not valid YAML"),
])
def test_mistakes_are_one_sentence_naming_the_place(text, message):
    with pytest.raises(RecipeError) as e:
        parse(text)
    assert message in str(e.value)
    assert "recipes.yaml" in str(e.value)


def test_metric_deltas_name_what_moved():
    diff = {"metrics.json": {"roc_auc": {"old": 0.861, "new": 0.874, "diff": 0.013},
                             "accuracy": {"old": 0.8, "new": 0.8, "diff": 0}},
            "eval/extra.json": {"roc_auc": {"old": None, "new": 0.5}}}
    items = deltas(diff)
    assert [d["path"] for d in items] == ["eval/extra.json", "metrics.json", "metrics.json"]
    # a name in two files is told apart by its file; unchanged metrics are left out
    assert describe(items) == ("eval/extra.json:roc_auc - → 0.5, "
                               "metrics.json:roc_auc 0.861 → 0.874")
    assert describe(items[2:]) == "metrics unchanged"
    assert describe([]) == "no metrics"
    many = [{"path": "m", "name": f"k{i}", "old": i, "new": i + 1} for i in range(6)]
    assert describe(many).endswith("k3 3 → 4 (+2 more)")
    assert describe([{"path": "m", "name": "x", "old": 1 / 3, "new": 2 / 3}]) == \
        "x 0.33333 → 0.66667"


def test_the_message_template_refuses_unknown_fields():
    fields = {"recipe": "r", "metrics": "a 1 → 2"}
    assert render("[lode] {recipe}: {metrics}", fields) == "[lode] r: a 1 → 2"
    with pytest.raises(RecipeError, match=r"names \{metric\}"):
        render("{metric}", fields)
    with pytest.raises(RecipeError, match="empty message"):
        render("  ", fields)


def test_steps_are_subtasks_chained_in_order():
    recipes = parse(GOOD)
    dicts = list(RecipeTasks(None, recipes).task_dicts())
    groups = [d for d in dicts if d["name"] is None]
    assert [g["basename"] for g in groups] == ["compute_metrics", "retrain"]
    chain = [d for d in dicts if d["basename"] == "compute_metrics" and d["name"]]
    assert [d["task_dep"] for d in chain] == [
        [], ["compute_metrics:clean_workspace"], ["compute_metrics:pull"],
        ["compute_metrics:lint"], ["compute_metrics:repro"], ["compute_metrics:commit"],
        ["compute_metrics:push"], ["compute_metrics:git_push"]]
    assert all(d["uptodate"] == [False] for d in chain)
    assert chain[2]["doc"] == "shell: ruff check ."


def test_the_dodo_modules_look_for_no_repository_until_doit_reads_them(tmp_path):
    """Imported outside any repository they load; DOIT_CONFIG is the configuration of
    the repository doit reads it in."""
    (tmp_path / "repo" / ".dvc").mkdir(parents=True)
    script = (
        "import os\n"
        "from lode.pipeline.dodo import DOIT_CONFIG, task_stages\n"
        "from lode.recipes.dodo import task_recipes\n"
        "os.chdir('repo')\n"
        "print(isinstance(DOIT_CONFIG, dict), DOIT_CONFIG['backend'],\n"
        "      os.path.relpath(DOIT_CONFIG['dep_file']), sorted(DOIT_CONFIG) == "
        "sorted({**DOIT_CONFIG}))\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "sqlite3",
                                   os.path.join(".dvc", "tmp", "lode", "doit.sqlite3"), "True"]

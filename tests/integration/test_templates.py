"""`lode templates` and `lode init --template churn DIR`: the real CLI, real Git, a bare
repository as the Git remote, the churn pipeline run by `lode repro` in the new project."""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .pipeline_helpers import (
    REPO_ROOT,
    assert_one_error,
    churn_python,
    doit_runner,
    ran,
)

TEMPLATE_FILES = [
    ".dvc/.gitignore", ".dvc/config", ".dvcignore", ".gitignore", "README.md", "dodo.py",
    "dvc.yaml", "eval.py", "load.py", "params.yaml", "recipes.yaml", "requirements.txt",
    "train.py",
]


def listing(path: Path) -> dict[str, bytes | None]:
    """Every entry under path (directories as None), to prove a refusal wrote nothing."""
    out: dict[str, bytes | None] = {}
    for p in sorted(path.rglob("*")):
        out[p.relative_to(path).as_posix()] = None if p.is_dir() else p.read_bytes()
    return out


@pytest.fixture
def bare(git, tmp_path) -> Path:
    path = tmp_path / "remote.git"
    git("init", "-q", "--bare", "-b", "main", str(path), cwd=tmp_path)
    return path


def test_templates_lists_churn_with_its_description(lode, tmp_path):
    proc = lode("templates", cwd=tmp_path)
    name, _, description = proc.stdout.splitlines()[0].partition(" ")
    assert name == "churn"
    assert "compute_metrics" in description


def test_the_templates_are_package_data():
    churn = importlib.resources.files("lode_templates") / "churn"
    for name in ("dvc.yaml", "recipes.yaml", "dodo.py", ".gitignore", "template.yaml"):
        assert (churn / name).is_file(), name


def test_a_built_lode_carries_the_templates(lode, tmp_path):
    """setuptools' build_py assembles what a wheel holds: the package data must be in it,
    and a lode imported from that build (not from the checkout) scaffolds the project."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, src / name)
    for name in ("lode", "plugins", "templates"):
        shutil.copytree(REPO_ROOT / name, src / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    lib = tmp_path / "lib"
    subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py",
         "--build-lib", str(lib)],
        cwd=src, check=True, capture_output=True, timeout=120,
    )
    churn = lib / "lode_templates" / "churn"
    assert sorted(p.name for p in churn.iterdir()) == sorted(
        [n for n in TEMPLATE_FILES if "/" not in n and n != ".dvcignore"] + ["template.yaml"]
    )
    env = {"PYTHONPATH": str(lib)}
    where = subprocess.run([sys.executable, "-c", "import lode; print(lode.__file__)"],
                           env={**lode.env, **env}, cwd=tmp_path, capture_output=True, text=True,
                           check=True)
    assert where.stdout.startswith(str(lib))
    assert lode("templates", cwd=tmp_path, env=env).stdout.startswith("churn ")
    lode("init", "--template", "churn", "proj", cwd=tmp_path, env=env)
    made = tmp_path / "proj" / "recipes.yaml"
    assert made.read_bytes() == (churn / "recipes.yaml").read_bytes()


def test_init_template_makes_one_clean_commit_with_remotes(lode, git, tmp_path, bare):
    proc = lode("init", "--template", "churn", "proj", "--git-remote", bare, cwd=tmp_path)
    proj = tmp_path / "proj"
    storage = tmp_path / "proj.storage"
    assert "cd proj && lode run compute_metrics" in proc.stdout
    assert str(storage) in proc.stdout

    assert git("rev-list", "--count", "HEAD", cwd=proj).stdout.strip() == "1"
    assert git("branch", "--show-current", cwd=proj).stdout.strip() == "main"
    assert git("log", "-1", "--format=%s", cwd=proj).stdout.strip() == \
        "Scaffold the churn project from lode's template"
    assert git("status", "--porcelain", "--untracked-files=all", cwd=proj).stdout == ""
    assert git("ls-files", cwd=proj).stdout.split() == TEMPLATE_FILES
    assert not (proj / "template.yaml").exists()
    assert git("remote", "get-url", "origin", cwd=proj).stdout.strip() == str(bare)
    assert git("ls-remote", str(bare), cwd=tmp_path).stdout == ""  # nothing pushed

    config = (proj / ".dvc" / "config").read_text()
    assert config == f"[core]\n    remote = storage\n['remote \"storage\"']\n    url = {storage}\n"
    assert storage.is_dir() and not any(storage.iterdir())
    assert lode("remote", "list", cwd=proj).stdout.split() == ["storage", str(storage)]
    # the template's own dodo.py (stages and recipes), not the plain one of `lode init`
    shipped = importlib.resources.files("lode_templates") / "churn" / "dodo.py"
    assert (proj / "dodo.py").read_bytes() == shipped.read_bytes()
    # built beside DIR and moved into place: nothing else is left there
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj", "proj.storage", "remote.git"]


def test_the_new_project_reproduces_and_is_then_up_to_date(lode, git, tmp_path):
    churn_python(lode)
    lode("init", "--template", "churn", "proj", cwd=tmp_path)
    proj = tmp_path / "proj"
    proc = lode("repro", cwd=proj, timeout=300)
    assert ran(proc) == ["load", "train", "eval"]
    assert lode("status", cwd=proj).stdout.strip() == "Data and pipelines are up to date."
    # the outputs were git-ignored from the start: only the lock and the metrics are new
    assert sorted(git("status", "--porcelain", cwd=proj).stdout.splitlines()) == [
        "?? confusion.csv", "?? dvc.lock", "?? metrics.json",
    ]


def test_doit_lists_the_stages_and_the_recipes(lode, tmp_path):
    if importlib.util.find_spec("lode.recipes.dodo") is None:  # imported, it needs a project
        pytest.skip("lode.recipes.dodo is not written yet")
    lode("init", "--template", "churn", "proj", cwd=tmp_path)
    names = [line.split()[0] for line in
             doit_runner(lode)("list", cwd=tmp_path / "proj").stdout.splitlines()]
    for name in ("compute_metrics", "retrain", "load", "train", "eval"):
        assert name in names


def test_an_empty_directory_is_filled_in_place(lode, git, tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    proc = lode("init", "--template", "churn", ".", "--data-remote", "../shared", cwd=proj)
    assert "cd . && lode run compute_metrics" in proc.stdout
    assert git("status", "--porcelain", cwd=proj).stdout == ""
    # as with `lode remote add`: a relative directory is typed from here, stored from .dvc/
    assert "url = ../../shared\n" in (proj / ".dvc" / "config").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]  # no default storage


def test_a_nonempty_directory_is_refused(lode, tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "notes.txt").write_text("mine\n")
    before = listing(tmp_path)
    error = assert_one_error(lode("init", "--template", "churn", "proj", cwd=tmp_path,
                                  check=False))
    assert "is not empty" in error
    assert listing(tmp_path) == before


def test_an_unknown_template_is_refused_naming_the_known_ones(lode, tmp_path):
    error = assert_one_error(lode("init", "--template", "nope", "proj", cwd=tmp_path,
                                  check=False))
    assert error == "ERROR: there is no template 'nope' (templates: churn)."
    assert list(tmp_path.iterdir()) == []


def test_a_git_remote_with_commits_is_refused(lode, git, make_git_repo, tmp_path, bare):
    other = make_git_repo(tmp_path / "other")
    git("push", "-q", str(bare), "main", cwd=other)
    before = listing(tmp_path)
    error = assert_one_error(lode("init", "--template", "churn", "proj", "--git-remote", bare,
                                  cwd=tmp_path, check=False))
    assert "has commits already" in error
    assert listing(tmp_path) == before


@pytest.mark.parametrize("argv, words", [
    (["init", "--template", "churn"], "needs the project's directory"),
    (["init", "proj"], "go with --template only"),
    (["init", "--template", "churn", "--no-scm", "proj"], "does not go with --no-scm"),
])
def test_misused_options_are_refused(lode, tmp_path, argv, words):
    error = assert_one_error(lode(*argv, cwd=tmp_path, check=False))
    assert words in error
    assert list(tmp_path.iterdir()) == []


def test_a_failure_midway_leaves_nothing_behind(lode, tmp_path):
    """Without a Git identity the first commit fails, after the files, the repository and
    `.dvc/` were made: none of it may remain, nor the default storage directory."""
    env = {k: v for k, v in lode.env.items() if not k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))}
    env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="user.useConfigOnly",
               GIT_CONFIG_VALUE_0="true")
    runner = type(lode)(lode.argv, env, "lode")
    error = assert_one_error(runner("init", "--template", "churn", "proj", cwd=tmp_path,
                                    check=False))
    assert "Git does not know who you are" in error
    assert list(tmp_path.iterdir()) == []
    assert not os.path.exists(tmp_path / "proj.storage")

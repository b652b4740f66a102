"""A command line that misuses its options exits 2 with one sentence, as argparse's own
refusals do; nothing runs and nothing is written. Other failures keep their codes."""

from __future__ import annotations

import pytest

from tests.integration.pipeline_helpers import assert_one_error


@pytest.fixture
def project(lode, git_repo):
    lode("init", "-q", cwd=git_repo)
    (git_repo / "recipes.yaml").write_text("recipes:\n  train:\n    post: [notify]\n")
    return git_repo


def listing(root):
    """The repository's files; of lode's scratch space (.dvc/tmp) only the run records."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if ".git" not in p.parts and (".dvc/tmp" not in p.as_posix()
                                                or "/runs/" in p.as_posix()))


@pytest.mark.parametrize("argv, words", [
    (["status", "--no-such-flag"], "unrecognized arguments"),  # argparse's own
    (["repro", "--executor-opt", "nokey"], "'nokey' is not KEY=VALUE"),  # an argparse type
    (["config"], "name the option"),
    (["remote", "modify", "origin", "url"], "give a value"),
    (["init", "proj"], "go with --template only"),
    (["init", "--template", "churn"], "needs the project's directory"),
    (["run", "train", "--detach", "--run-id", "abc"], "--run-id is lode's own"),
    (["runs", "-n", "0"], "-n takes a positive number"),
    (["stop", "someid", "--timeout", "-1"], "--timeout takes seconds"),
    (["schedule"], "name the recipe to schedule"),
    (["schedule", "train", "--remove", "--cron", "0 3 * * *"], "--remove takes no --cron"),
    (["schedule", "train"], "say when with --cron"),
    (["run", "train", "b"], "is not a doit option"),
    (["gc"], "say which references to keep"),
])
def test_misused_options_exit_2_with_one_sentence(lode, project, argv, words):
    before = listing(project)
    proc = lode(*argv, cwd=project, check=False)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr
    if "lode: error:" in proc.stderr or ": error: argument" in proc.stderr:
        assert words in proc.stderr.splitlines()[-1]  # argparse: usage, then its sentence
    else:
        assert words in assert_one_error(proc)
    assert listing(project) == before


def test_other_failures_keep_their_exit_codes(lode, project, tmp_path):
    """Not a usage error: a config error is DVC's 251, no repository is 253, a missing
    target is 1."""
    assert lode("config", "core.no_such_option", "x", cwd=project, check=False).returncode == 251
    bad = lode("config", "cache.type", "reflink,,copy", cwd=project, check=False)
    assert bad.returncode == 251 and "cache.type 'reflink,,copy' is not valid" in bad.stderr
    assert lode("status", cwd=tmp_path, check=False).returncode == 253
    assert lode("add", "missing.csv", cwd=project, check=False).returncode == 1

"""Recipes end to end, with real parts: the churn project scaffolded from lode's template,
a bare Git repository as the Git remote, a local-directory data remote, and a loopback
HTTP server standing in for Slack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.recipes.conftest import closed_port_url

pytest.importorskip("sklearn", reason="the churn pipeline needs the demo extra")


def _git(proj: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=proj, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture
def project(lode, git, tmp_path) -> Path:
    """The churn project with a bare Git remote that holds its first commit."""
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    proj = tmp_path / "churn"
    lode("init", "--template", "churn", str(proj), "--git-remote", str(bare), cwd=tmp_path)
    git("push", "-q", "origin", "main", cwd=proj)
    return proj


def _remote_head(proj: Path) -> str:
    return _git(proj.parent / "origin.git", "rev-parse", "main")


def _storage_files(proj: Path) -> list[str]:
    root = Path(f"{proj}.storage")
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _commit_params(git, proj: Path, old: str, new: str) -> None:
    params = proj / "params.yaml"
    params.write_text(params.read_text().replace(old, new))
    git("commit", "-q", "-am", f"params: {new}", cwd=proj)


def test_compute_metrics_publishes_data_commit_and_notification(lode, git, project,
                                                                 slack_server, tmp_path):
    slack = slack_server()
    env = {"LODE_SLACK_WEBHOOK_URL": slack.url}
    before = _git(project, "rev-parse", "HEAD")
    proc = lode("run", "compute_metrics", cwd=project, env=env)
    assert "compute_metrics succeeded" in proc.stdout
    # one commit, the standard message, only the pipeline's files
    assert _git(project, "rev-list", "--count", f"{before}..HEAD") == "1"
    message = _git(project, "log", "-1", "--format=%s")
    assert message.startswith("[lode] compute_metrics: accuracy - → 0.")
    files = set(_git(project, "show", "--name-only", "--format=", "HEAD").splitlines())
    assert {"dvc.lock", "metrics.json", "confusion.csv"} <= files <= {
        "dvc.lock", "metrics.json", "confusion.csv", ".gitignore", "data/.gitignore"}
    assert _git(project, "status", "--porcelain") == ""
    # the Git remote has it, and so has the data remote
    assert _remote_head(project) == _git(project, "rev-parse", "HEAD")
    assert any(f.startswith("files/md5/") for f in _storage_files(project))
    # one success post, with the metrics and the commit, and never the webhook URL
    posts = slack.wait_posts(1)
    assert len(posts) == 1
    text = json.dumps(posts[0])
    assert "compute_metrics" in text and "roc_auc" in text
    assert _git(project, "rev-parse", "--short=8", "HEAD") in text
    assert slack.url not in proc.stdout + proc.stderr

    # a teammate's fresh clone gets the same workspace from the two remotes
    clone = tmp_path / "teammate"
    git("clone", "-q", str(tmp_path / "origin.git"), str(clone), cwd=tmp_path)
    lode("pull", cwd=clone)
    assert "up to date" in lode("status", cwd=clone).stdout
    for name in ("model.pkl", "data/train.csv", "metrics.json"):
        assert (clone / name).read_bytes() == (project / name).read_bytes()

    # a changed parameter: the commit message carries the metric deltas
    _commit_params(git, project, "C: 0.5", "C: 0.05")
    lode("run", "compute_metrics", cwd=project, env=env)
    message = _git(project, "log", "-1", "--format=%s")
    old = json.loads(_git(project, "show", "HEAD~2:metrics.json"))
    new = json.loads((project / "metrics.json").read_text())
    assert new["roc_auc"] != old["roc_auc"]
    assert f"roc_auc {old['roc_auc']:g} → {new['roc_auc']:g}" in message
    assert _remote_head(project) == _git(project, "rev-parse", "HEAD")
    assert len(slack.wait_posts(2)) == 2

    # run again with nothing changed: no commit, and that is no error
    head = _git(project, "rev-parse", "HEAD")
    proc = lode("run", "compute_metrics", cwd=project, env=env)
    assert "nothing to commit" in proc.stdout
    assert _git(project, "rev-parse", "HEAD") == head


def test_a_dirty_workspace_stops_before_anything_runs(lode, project, slack_server):
    slack = slack_server()
    (project / "params.yaml").write_text((project / "params.yaml").read_text() + "\n# x\n")
    head = _git(project, "rev-parse", "HEAD")
    proc = lode("run", "compute_metrics", cwd=project, check=False,
                env={"LODE_SLACK_WEBHOOK_URL": slack.url})
    assert proc.returncode == 1
    assert "the workspace is not clean (modified tracked files: params.yaml)" in proc.stdout
    assert "Traceback" not in proc.stderr
    assert not (project / "dvc.lock").exists() and not (project / "data").exists()
    assert _git(project, "rev-parse", "HEAD") == head == _remote_head(project)
    posts = slack.wait_posts(1)
    assert len(posts) == 1 and "clean_workspace" in json.dumps(posts[0])


def test_a_failing_stage_commits_nothing_pushes_nothing_and_notifies(
        lode, git, project, slack_server):
    slack = slack_server()
    train = project / "train.py"
    train.write_text("import sys\nsys.exit('the GPU is on fire')\n" + train.read_text())
    git("commit", "-q", "-am", "break train", cwd=project)
    head = _git(project, "rev-parse", "HEAD")
    remote_head = _remote_head(project)
    # plain doit runs the same tasks as `lode run`
    proc = subprocess.run([sys.executable, "-m", "doit", "compute_metrics"], cwd=project,
                          capture_output=True, text=True, timeout=180,
                          env={**lode.env, "LODE_SLACK_WEBHOOK_URL": slack.url})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "stage 'train' failed" in proc.stdout + proc.stderr
    assert "compute_metrics:commit" not in proc.stdout  # the chain stopped at repro
    assert _git(project, "rev-parse", "HEAD") == head
    assert _remote_head(project) == remote_head
    assert _storage_files(project) == []
    posts = slack.wait_posts(1)
    assert len(posts) == 1
    text = json.dumps(posts[0])
    assert "repro" in text and "stage 'train' failed" in text


def test_a_failed_data_push_leaves_the_git_remote_untouched(lode, git, project, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the remote's parent should be\n")
    lode("remote", "add", "-d", "-f", "storage", str(blocker / "store"), cwd=project)
    git("commit", "-q", "-am", "a data remote that cannot be written", cwd=project)
    remote_head = _remote_head(project)
    proc = lode("run", "compute_metrics", cwd=project, check=False)
    assert proc.returncode == 1
    assert "compute_metrics failed at step 'pull'" in proc.stderr or \
        "compute_metrics failed at step 'push'" in proc.stderr
    assert _remote_head(project) == remote_head


def test_git_push_refuses_a_commit_whose_data_is_not_on_the_remote(lode, git, project):
    recipes = project / "recipes.yaml"
    recipes.write_text(recipes.read_text() + (
        "  forgetful:\n"
        "    desc: forgets the data push, as people do\n"
        "    post: [commit, git_push]\n"))
    git("commit", "-q", "-am", "a recipe without push", cwd=project)
    remote_head = _remote_head(project)
    proc = lode("run", "forgetful", cwd=project, check=False)
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr
    assert "not pushing to Git" in out and "model.pkl" in out and "Push them first" in out
    assert _remote_head(project) == remote_head
    # once the data is pushed, the same commit goes out
    lode("push", cwd=project)
    proc = lode("run", "forgetful", cwd=project)
    assert _remote_head(project) == _git(project, "rev-parse", "HEAD")


def test_an_unreachable_slack_url_does_not_fail_the_run(lode, project):
    url = closed_port_url()
    proc = lode("run", "compute_metrics", cwd=project, env={"LODE_SLACK_WEBHOOK_URL": url},
                timeout=240)
    assert "compute_metrics succeeded" in proc.stdout
    assert "WARNING: slack notification failed" in proc.stderr
    assert url not in proc.stdout + proc.stderr
    assert _remote_head(project) == _git(project, "rev-parse", "HEAD")


def test_recipes_in_dodo_py_with_python_steps(lode, git, project):
    (project / "checks.py").write_text(
        "import pathlib\n\n"
        "def record(ctx):\n"
        "    pathlib.Path('checked.txt').write_text(ctx.recipe.name)\n\n"
        "def refuse():\n"
        "    return False\n")
    dodo = project / "dodo.py"
    dodo.write_text(dodo.read_text() + (
        "from lode.recipes.dodo import recipe\n"
        "from checks import record, refuse\n\n"
        "recipe('checked', desc='a check, then the pipeline', pre=[record])\n"
        "recipe('refused', pre=[refuse], post=['commit'])\n"))
    (project / ".gitignore").write_text((project / ".gitignore").read_text() + "checked.txt\n")
    git("add", "-A", cwd=project)
    git("commit", "-q", "-m", "python recipes", cwd=project)
    listing = subprocess.run([sys.executable, "-m", "doit", "list"], cwd=project, env=lode.env,
                             capture_output=True, text=True, timeout=60).stdout
    assert "checked" in listing and "compute_metrics" in listing and "train" in listing
    assert "checked" in lode("run", cwd=project).stdout
    lode("run", "checked", cwd=project)
    assert (project / "checked.txt").read_text() == "checked"
    assert (project / "dvc.lock").exists()
    proc = lode("run", "refused", cwd=project, check=False)
    assert proc.returncode == 1 and "step 'refuse' returned False" in proc.stdout


@pytest.mark.parametrize("text, message", [
    ("recipes:\n  x:\n    pre: [push]\n", "'push' is a post-task"),
    ("recipes:\n  x:\n    post: [{commit: {msg: hi}}]\n", "'commit' has no option msg"),
    ("recipes:\n  x: [\n", "recipes.yaml is not valid YAML"),
])
def test_a_broken_recipes_file_is_one_sentence(lode, project, text, message):
    (project / "recipes.yaml").write_text(text)
    proc = lode("run", "x", cwd=project, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_an_unknown_recipe_is_named(lode, project):
    proc = lode("run", "nope", cwd=project, check=False)
    assert proc.returncode == 1
    assert "unknown recipe 'nope'; the recipes are: compute_metrics, retrain" in proc.stderr
    assert os.listdir(project / ".dvc" / "tmp") is not None


def test_a_stopped_detached_run_is_notified(lode, git_repo, slack_server):
    import time

    lode("init", cwd=git_repo)
    (git_repo / "recipes.yaml").write_text(
        "recipes:\n  nightly:\n    pre:\n      - {name: wait, cmd: 'sleep 60'}\n"
        "    post: [notify]\n")
    slack = slack_server()
    env = {"LODE_SLACK_WEBHOOK_URL": slack.url}
    run_id = lode("run", "--detach", "nightly", cwd=git_repo, env=env).stdout.strip()
    deadline = time.monotonic() + 30
    while "nightly:wait" not in lode("logs", run_id, cwd=git_repo).stdout:
        assert time.monotonic() < deadline, "the detached run never reached its step"
        time.sleep(0.2)
    lode("stop", run_id, "--timeout", "10", cwd=git_repo)
    posts = slack.wait_posts(1, timeout=30)
    assert len(posts) == 1
    text = json.dumps(posts[0])
    assert "nightly" in text and "wait" in text and "failed" in text

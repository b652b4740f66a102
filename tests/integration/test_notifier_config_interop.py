"""Notifier settings written by `lode config` leave the repository usable by the real DVC 3,
and survive DVC rewriting the file. (DVC refuses a config with a section it does not know,
so they are keys of its `[feature]` section, which it keeps with a warning.)"""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import Runner

pytestmark = pytest.mark.dvc

URL = "http://127.0.0.1:9/x"

SETTINGS = """
import json
from lode.plugins.notifier import settings_for, tracked_secrets
from lode.repo import Repo
repo = Repo.find()
print(json.dumps({"slack": settings_for(repo, "slack"), "problems": tracked_secrets(repo)}))
"""


def lode_settings(env: dict[str, str], repo) -> dict:
    """What lode's notifiers read in `repo`, asked of a fresh process."""
    return json.loads(Runner([sys.executable, "-c", SETTINGS], env, "python")(cwd=repo).stdout)


def test_dvc_accepts_and_keeps_notifier_settings(lode, dvc, git_repo, tmp_path, base_env):
    lode("init", cwd=git_repo)
    lode("config", "--local", "notifier.slack.url", URL, cwd=git_repo)
    lode("config", "notifier.slack.timeout", "3", cwd=git_repo)  # the tracked file too

    status = dvc("status", cwd=git_repo)  # exits 0: the repository is still DVC's
    assert "ERROR" not in status.stderr and "extra keys" not in status.stderr, status.stderr
    listed = dvc("config", "--list", cwd=git_repo).stdout.splitlines()
    assert f"feature.notifier.slack.url={URL}" in listed
    assert "feature.notifier.slack.timeout=3" in listed

    remote = tmp_path / "somewhere"
    dvc("remote", "add", "--local", "-d", "x", remote, cwd=git_repo)  # DVC rewrites the file
    local = (git_repo / ".dvc" / "config.local").read_text()
    assert f"notifier.slack.url = {URL}" in local and "remote = x" in local, local

    listed = lode("config", "-l", "--show-secrets", cwd=git_repo).stdout.splitlines()
    assert f"notifier.slack.url={URL}" in listed and "notifier.slack.timeout=3" in listed
    assert f"remote.x.url={remote}" in listed and "core.remote=x" in listed
    assert not any(line.startswith("feature.") for line in listed), listed
    assert lode_settings(base_env, git_repo) == {"slack": {"url": URL, "timeout": "3"},
                                             "problems": []}

    # lode rewriting the file after DVC keeps what DVC wrote, and DVC still loads it
    lode("config", "--local", "notifier.slack.retries", "1", cwd=git_repo)
    dvc("status", cwd=git_repo)
    assert dvc("config", "--local", "core.remote", cwd=git_repo).stdout.strip() == "x"
    assert lode_settings(base_env, git_repo)["slack"] == {"url": URL, "timeout": "3",
                                                      "retries": "1"}


def test_a_url_in_the_tracked_config_is_refused_and_reported(lode, dvc, git_repo, base_env):
    lode("init", cwd=git_repo)
    refused = lode("config", "notifier.slack.url", URL, cwd=git_repo, check=False)
    assert refused.returncode != 0 and "is a secret" in refused.stderr
    assert "feature" not in (git_repo / ".dvc" / "config").read_text()
    # put there by hand: DVC still loads it, lode does not use it
    with open(git_repo / ".dvc" / "config", "a", encoding="utf-8") as f:
        f.write(f"[feature]\n    notifier.slack.url = {URL}\n")
    dvc("status", cwd=git_repo)
    assert lode_settings(base_env, git_repo) == {
        "slack": {},
        "problems": ["notifier.slack.url is in the tracked .dvc/config and is not used; "
                     "move it to .dvc/config.local or LODE_SLACK_WEBHOOK_URL."]}


def test_doctor_names_a_webhook_url_in_the_tracked_config_without_printing_it(git_repo, lode):
    lode("init", cwd=git_repo)
    secret = "https://hooks.slack.com/services/T0/B0/s3cr3t-t0k3n"
    with open(git_repo / ".dvc" / "config", "a") as f:
        f.write(f"[feature]\n    notifier.slack.url = {secret}\n")
    proc = lode("doctor", cwd=git_repo, check=False)
    assert proc.returncode == 1
    assert "notifier.slack.url is in the tracked .dvc/config" in proc.stdout
    assert "remove it from Git history" in proc.stdout
    assert "s3cr3t" not in proc.stdout + proc.stderr

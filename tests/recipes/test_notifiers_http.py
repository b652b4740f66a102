"""The Slack and webhook notifiers against a real HTTP server in another process
(tests/recipes/slack_server.py): what arrives, what is retried, what is not, and that a
dead endpoint costs seconds and a warning, never an exception or the URL."""

from __future__ import annotations

import textwrap
import time
from urllib.parse import urlsplit

import pytest
from lode_plugins.notifiers.slack import slack_payload

from lode import __version__
from lode.plugins.notifier import notify
from lode.repo import Repo

from .conftest import WEBHOOK_PATH

EVENT = {
    "recipe": "compute_metrics", "outcome": "succeeded", "failed_step": None, "error": None,
    "duration": 42.5, "project": "churn",
    "metrics": [{"path": "metrics.json", "name": "roc_auc", "old": 0.861, "new": 0.874}],
    "commit": "0123456789abcdef0123456789abcdef01234567", "branch": "main", "host": "gpu-box-1",
    "run_id": "compute_metrics-20261124-101500",
    "steps": [["clean_workspace", "ok"], ["pull", "ok"], ["repro", "ok"]],
}


@pytest.fixture(autouse=True)
def no_webhook_env(monkeypatch):
    for var in ("LODE_SLACK_WEBHOOK_URL", "LODE_WEBHOOK_URL"):
        monkeypatch.delenv(var, raising=False)


def make_repo(tmp_path, **options: str) -> Repo:
    """A repository whose config.local sets these options of the slack notifier."""
    dvc = tmp_path / "proj" / ".dvc"
    dvc.mkdir(parents=True)
    lines = "".join(f"    notifier.slack.{k} = {v}\n" for k, v in options.items())
    (dvc / "config.local").write_text("[feature]\n" + lines if lines else "")
    return Repo(str(dvc.parent))


def assert_no_url(problem: str, url: str) -> None:
    assert url not in problem and urlsplit(url).path not in problem
    assert "XXXXXXXX" not in problem and "/services/" not in problem


def test_a_success_post_arrives_once(tmp_path, slack_server):
    server = slack_server()
    repo = make_repo(tmp_path, url=server.url)
    assert notify(repo, EVENT) == []
    [request] = server.requests()
    assert request["path"] == WEBHOOK_PATH and request["status"] == 200
    assert request["headers"]["Content-Type"] == "application/json"
    body = request["body"]
    assert body == slack_payload(EVENT)
    assert body["blocks"][0]["text"]["text"] == "✅ compute_metrics succeeded"
    assert "roc_auc 0.861 → 0.874 (+0.013)" in body["blocks"][2]["text"]["text"]
    assert "`01234567` on main" in body["blocks"][1]["fields"][3]["text"]


def test_the_environment_url_is_used(tmp_path, slack_server, monkeypatch):
    server = slack_server()
    repo = make_repo(tmp_path, url="http://127.0.0.1:9/not-this-one")
    monkeypatch.setenv("LODE_SLACK_WEBHOOK_URL", server.url)
    assert notify(repo, EVENT) == []
    assert len(server.posts()) == 1


def test_a_server_error_is_retried_and_the_post_arrives_once(tmp_path, slack_server):
    server = slack_server(fail_first=1)
    repo = make_repo(tmp_path, url=server.url)
    start = time.monotonic()
    assert notify(repo, EVENT, via=["slack"]) == []
    assert time.monotonic() - start >= 0.5  # the first backoff
    assert [r["status"] for r in server.requests()] == [500, 200]
    assert server.posts() == [slack_payload(EVENT)]


def test_a_server_that_keeps_failing_is_given_up_on(tmp_path, slack_server):
    server = slack_server(status=503, fail_first=0, delay=0)
    repo = make_repo(tmp_path, url=server.url, retries=2)
    [problem] = notify(repo, EVENT)
    assert problem == ("slack notification failed: the webhook answered 503 (error) after 3 "
                       "attempts.")
    assert len(server.requests()) == 3 and server.posts() == []


def test_rate_limited_waits_as_asked(tmp_path, slack_server):
    server = slack_server(fail_first=1, fail_status=429, retry_after="1")
    repo = make_repo(tmp_path, url=server.url)
    start = time.monotonic()
    assert notify(repo, EVENT) == []
    assert time.monotonic() - start >= 1.0  # Retry-After, not the 0.5 s backoff
    assert [r["status"] for r in server.requests()] == [429, 200]


def test_not_found_is_not_retried_and_the_url_is_not_told(tmp_path, slack_server):
    server = slack_server(status=404)
    repo = make_repo(tmp_path, url=server.url)
    [problem] = notify(repo, EVENT)
    assert problem == ("slack notification failed: the webhook answered 404 (no_service); "
                       "not retried.")
    assert_no_url(problem, server.url)
    assert len(server.requests()) == 1


def test_an_unreachable_url_is_a_quick_warning(tmp_path, dead_url):
    repo = make_repo(tmp_path, url=dead_url, timeout=2, retries=2)
    start = time.monotonic()
    problems = notify(repo, EVENT)
    assert time.monotonic() - start < 10
    assert problems == ["slack notification failed: 127.0.0.1 could not be reached "
                        "(connection refused) after 3 attempts."]
    assert_no_url(problems[0], dead_url)


def test_a_server_too_slow_to_answer_times_out(tmp_path, slack_server):
    server = slack_server(delay=5)
    repo = make_repo(tmp_path, url=server.url, timeout=0.5, retries=1)
    start = time.monotonic()
    [problem] = notify(repo, EVENT)
    assert time.monotonic() - start < 4
    assert problem == ("slack notification failed: 127.0.0.1 could not be reached "
                       "(no answer in time) after 2 attempts.")


def test_the_webhook_notifier_posts_the_event(tmp_path, slack_server, monkeypatch):
    server = slack_server()
    monkeypatch.setenv("LODE_WEBHOOK_URL", server.url + "?token=s3cret")
    repo = make_repo(tmp_path)
    assert notify(repo, EVENT) == []
    assert server.posts() == [{**EVENT, "lode_version": __version__}]
    assert server.requests()[0]["path"] == WEBHOOK_PATH + "?token=s3cret"


def test_slack_and_webhook_together_and_one_failing_does_not_stop_the_other(
        tmp_path, slack_server, monkeypatch, dead_url):
    hook = slack_server()
    monkeypatch.setenv("LODE_WEBHOOK_URL", hook.url)
    dvc = tmp_path / "proj" / ".dvc"
    dvc.mkdir(parents=True)
    (dvc / "config.local").write_text(textwrap.dedent(f"""\
        [feature]
            notifier.slack.url = {dead_url}
            notifier.slack.retries = 0
        """))
    problems = notify(Repo(str(dvc.parent)), {**EVENT, "outcome": "failed",
                                             "failed_step": "repro", "error": "exit 1"})
    assert problems == ["slack notification failed: 127.0.0.1 could not be reached "
                        "(connection refused) after 1 attempt."]
    [posted] = hook.posts()
    assert posted["outcome"] == "failed" and posted["failed_step"] == "repro"

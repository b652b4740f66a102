"""Notifiers without a server: the messages built from events, settings and their
precedence, plugin discovery, and that no problem sentence ever names the webhook URL.
(Real HTTP posts: tests/recipes/test_notifiers_http.py.)"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time

import pytest
from lode_plugins.notifiers.console import ConsoleNotifier, console_text
from lode_plugins.notifiers.slack import MAX_METRICS, SlackNotifier, slack_payload
from lode_plugins.notifiers.webhook import WebhookNotifier, _retry_after, post_json, webhook_payload

from lode import config
from lode.plugins.notifier import (
    NotifyError,
    default_via,
    format_duration,
    format_metric,
    notify,
    plugins,
    scrub,
    settings_for,
)
from lode.repo import Repo

HOOK = "https://hooks.slack.com/services/T0SECRET/B0SECRET/abcdefSECRETtoken"
TOKEN_PARTS = ("T0SECRET", "B0SECRET", "SECRETtoken")

SUCCESS = {
    "recipe": "compute_metrics", "outcome": "succeeded", "failed_step": None, "error": None,
    "duration": 12.3, "project": "churn",
    "metrics": [{"path": "metrics.json", "name": "roc_auc", "old": 0.861, "new": 0.874},
                {"path": "metrics.json", "name": "rows", "old": None, "new": 1200}],
    "commit": "1a2b3c4d5e6f7a8b9c0d", "branch": "main", "host": "gpu-box-1",
    "run_id": "compute_metrics-20261124-101500",
    "steps": [["clean_workspace", "ok"], ["pull", "ok"], ["repro", "ok"], ["commit", "ok"]],
}
FAILURE = {
    **SUCCESS, "outcome": "failed", "failed_step": "repro", "metrics": [], "commit": None,
    "error": "stage 'train' failed: exit 1 <stderr> & more",
    "steps": [["clean_workspace", "ok"], ["pull", "ok"], ["repro", "failed"]],
}
SKIPPED = {
    **SUCCESS, "outcome": "skipped", "failed_step": None, "metrics": [], "commit": None,
    "branch": None, "run_id": None, "steps": [], "duration": 0.0,
    "error": "the previous run compute_metrics-20261124-031500 is still running",
}


@pytest.fixture(autouse=True)
def no_webhook_env(monkeypatch):
    for var in ("LODE_SLACK_WEBHOOK_URL", "LODE_WEBHOOK_URL"):
        monkeypatch.delenv(var, raising=False)


def make_repo(tmp_path, tracked: str = "", local: str = "") -> Repo:
    dvc = tmp_path / "proj" / ".dvc"
    dvc.mkdir(parents=True)
    (dvc / "config").write_text(textwrap.dedent(tracked))
    (dvc / "config.local").write_text(textwrap.dedent(local))
    return Repo(str(dvc.parent))


def all_texts(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False)


def section_texts(payload: dict) -> list[str]:
    return [b["text"]["text"] for b in payload["blocks"]
            if b["type"] == "section" and "text" in b]


# ---- the Slack message

def test_slack_success_with_metrics():
    p = slack_payload(SUCCESS)
    header = p["blocks"][0]
    assert header == {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                                 "text": "✅ compute_metrics succeeded"}}
    fields = [f["text"] for f in p["blocks"][1]["fields"]]
    assert fields == ["*Project*\nchurn", "*Host*\ngpu-box-1", "*Duration*\n12.3 s",
                      "*Commit*\n`1a2b3c4d` on main"]
    assert section_texts(p) == ["*Metrics*\nroc_auc 0.861 → 0.874 (+0.013)\nrows 1200 (new)"]
    context = [e["text"] for e in p["blocks"][-1]["elements"]]
    assert context == ["clean_workspace ✓  pull ✓  repro ✓  commit ✓",
                       "run compute_metrics-20261124-101500"]
    assert p["text"] == ("✅ compute_metrics succeeded on gpu-box-1 in 12.3 s — "
                         "roc_auc 0.861 → 0.874 (+0.013), rows 1200 (new)")
    assert "Failed" not in all_texts(p)


def test_slack_failure_names_the_step_and_the_error_escaped():
    p = slack_payload(FAILURE)
    assert p["blocks"][0]["text"]["text"] == "❌ compute_metrics failed"
    assert section_texts(p) == [
        "*Failed step:* `repro`\n```stage 'train' failed: exit 1 &lt;stderr&gt; &amp; more```"]
    assert "*Commit*\nnone (branch main)" in [f["text"] for f in p["blocks"][1]["fields"]]
    assert p["blocks"][-1]["elements"][0]["text"] == "clean_workspace ✓  pull ✓  repro ✗"
    assert p["text"].startswith("❌ compute_metrics failed on gpu-box-1 in 12.3 s at repro: "
                                "stage 'train' failed: exit 1 &lt;stderr&gt;")


def test_slack_skipped_gives_the_reason():
    p = slack_payload(SKIPPED)
    assert p["blocks"][0]["text"]["text"] == "⏭ compute_metrics skipped"
    assert section_texts(p) == [
        "*Reason:*\n```the previous run compute_metrics-20261124-031500 is still running```"]
    assert [b["type"] for b in p["blocks"]] == ["header", "section", "section"]  # no context


def test_slack_stays_within_slacks_limits():
    many = [{"path": "m.json", "name": f"m{i}", "old": i, "new": i + 1} for i in range(50)]
    event = {**FAILURE, "metrics": many, "error": "x" * 10_000 + " the end ```code```",
             "recipe": "r" * 300}
    p = slack_payload(event)
    assert len(p["blocks"][0]["text"]["text"]) <= 150
    failed, metrics = section_texts(p)
    assert len(failed) < 3000 and failed.endswith("the end `\u200b``code`\u200b`````")
    lines = metrics.splitlines()
    assert len(lines) == 1 + MAX_METRICS + 1 and lines[-1] == "… and 30 more"


def test_event_with_only_none_values_still_makes_messages():
    bare = dict.fromkeys(SUCCESS)
    assert slack_payload(bare)["text"] == "ℹ️ recipe finished"
    assert console_text(bare) == "lode: recipe finished\n"
    assert webhook_payload(bare)["recipe"] is None


def test_metrics_from_several_files_name_their_file():
    event = {**SUCCESS, "metrics": [{"path": "a.json", "name": "auc", "old": 1, "new": 1},
                                    {"path": "b.json", "name": "auc", "old": 0.5, "new": 0.25}]}
    assert section_texts(slack_payload(event)) == [
        "*Metrics*\na.json:auc 1 → 1\nb.json:auc 0.5 → 0.25 (-0.25)"]


@pytest.mark.parametrize("metric, text", [
    ({"name": "acc", "old": 0.9, "new": 0.95}, "acc 0.9 → 0.95 (+0.05)"),
    ({"name": "loss", "old": 0.123456789, "new": 0.1}, "loss 0.123457 → 0.1 (-0.0234568)"),
    ({"name": "model", "old": "a", "new": "b"}, "model a → b"),
    ({"name": "ok", "old": True, "new": False}, "ok True → False"),
    ({"name": "n", "old": None, "new": 3}, "n 3 (new)"),
])
def test_format_metric(metric, text):
    assert format_metric(metric) == text


@pytest.mark.parametrize("seconds, text", [
    (0.04, "0.0 s"), (12.34, "12.3 s"), (61, "1 min 01 s"), (3725, "1 h 02 min"), (None, "?")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


# ---- the console

def test_console_text():
    assert console_text(SUCCESS) == (
        "lode: compute_metrics succeeded in 12.3 s (churn on gpu-box-1)\n"
        "  metrics: roc_auc 0.861 → 0.874 (+0.013)\n"
        "           rows 1200 (new)\n"
        "  commit: 1a2b3c4d on main\n"
        "  run: compute_metrics-20261124-101500\n")
    assert console_text(FAILURE).splitlines()[1] == (
        "  failed step: repro — stage 'train' failed: exit 1 <stderr> & more")
    assert console_text(SKIPPED).splitlines()[1] == (
        "  reason: the previous run compute_metrics-20261124-031500 is still running")


def test_console_is_the_default_and_prints(tmp_path, capsys):
    repo = make_repo(tmp_path)
    assert default_via(repo) == ["console"]
    assert notify(repo, SUCCESS) == []
    assert capsys.readouterr().out == console_text(SUCCESS)


# ---- settings

def test_env_wins_over_config_local_and_tracked_options_count(tmp_path, monkeypatch):
    repo = make_repo(tmp_path, tracked="""\
        [feature]
            notifier.slack.timeout = 4
            notifier.slack.retries = 1
        """, local=f"""\
        [core]
            remote = r
        [feature]
            notifier.slack.url = {HOOK}
            notifier.slack.retries = 2
            notifier.slack = half a key
            notifier.slack.url.extra = not ours
            machine = true
        """)
    assert settings_for(repo, "slack") == {"url": HOOK, "timeout": "4", "retries": "2"}
    monkeypatch.setenv("LODE_SLACK_WEBHOOK_URL", "https://hooks.example/from-env")
    assert settings_for(repo, "slack")["url"] == "https://hooks.example/from-env"
    assert settings_for(repo, "webhook") == {}  # each notifier reads its own variable
    monkeypatch.setenv("LODE_WEBHOOK_URL", "https://ci.example/hook")
    assert settings_for(repo, "webhook") == {"url": "https://ci.example/hook"}
    assert default_via(repo) == ["slack", "webhook"]  # the console only when nothing is set


def test_url_in_tracked_config_is_refused(tmp_path, capsys):
    repo = make_repo(tmp_path, tracked=f"""\
        [feature]
            notifier.slack.url = {HOOK}
        """)
    assert "url" not in settings_for(repo, "slack")
    assert default_via(repo) == ["console"]
    problem = ("notifier.slack.url is in the tracked .dvc/config and is not used; move it to "
               ".dvc/config.local or LODE_SLACK_WEBHOOK_URL.")
    assert notify(repo, SUCCESS) == [problem]  # said, and the console still reports the run
    assert capsys.readouterr().out == console_text(SUCCESS)
    assert notify(repo, SUCCESS, via=["slack"]) == [problem]  # said once, not twice


def test_named_but_unconfigured(tmp_path):
    repo = make_repo(tmp_path)
    assert notify(repo, SUCCESS, via=["slack"]) == [
        "the slack notifier is not configured: set LODE_SLACK_WEBHOOK_URL or run "
        "'lode config --local notifier.slack.url VALUE'."]


@pytest.mark.parametrize("option, complaint", [
    ("timeout = soon", "the option timeout = 'soon' is not a number of seconds above zero."),
    ("timeout = 0", "the option timeout = '0' is not a number of seconds above zero."),
    ("retries = -1", "the option retries = '-1' is not a whole number above zero."),
])
def test_bad_options_are_a_problem_not_a_crash(tmp_path, option, complaint):
    repo = make_repo(tmp_path, local=f"""\
        [feature]
            notifier.webhook.url = {HOOK}
            notifier.webhook.{option}
        """)
    assert notify(repo, SUCCESS) == [f"webhook notification failed: {complaint}"]


def test_a_broken_config_file_is_a_problem_not_a_crash(tmp_path):
    repo = make_repo(tmp_path, local="url = nowhere\n")
    problems = notify(repo, SUCCESS)
    assert len(problems) == 1 and problems[0].startswith("no notification was sent: ")
    assert "is not 'key = value' inside a [section]" in problems[0]


# ---- plugins

def test_the_builtin_plugins_come_from_entry_points():
    found = plugins()
    assert found["console"] is ConsoleNotifier
    assert found["slack"] is SlackNotifier
    assert found["webhook"] is WebhookNotifier
    assert SlackNotifier.secrets == WebhookNotifier.secrets == ("url",)


def test_unknown_notifier_is_a_problem(tmp_path):
    repo = make_repo(tmp_path)
    assert notify(repo, SUCCESS, via=["pager"]) == [
        "there is no notifier 'pager' (installed: console, slack, webhook)."]


PLUGIN = '''
import json
from lode.plugins.notifier import Notifier

class Acme(Notifier):
    options = frozenset({"path"})
    @classmethod
    def configured(cls, settings):
        return "path" in settings
    def send(self, event):
        with open(self.settings["path"], "w") as f:
            json.dump(event, f)

class Boom(Notifier):
    secrets = ("url",)
    env = {"url": "ACME_BOOM_URL"}
    @classmethod
    def configured(cls, settings):
        return "url" in settings
    def send(self, event):
        raise RuntimeError("cannot post to " + self.settings["url"] + " today")
'''

DRIVER = '''
import json, sys
from lode.plugins.notifier import default_via, notify
from lode.repo import Repo
repo = Repo(sys.argv[1])
print(json.dumps({"via": default_via(repo), "default": notify(repo, {"recipe": "r"}),
                  "named": notify(repo, {}, via=["broken", "acme"])}))
'''


def test_a_third_party_plugin_is_found_and_its_failures_are_contained(tmp_path, base_env):
    """An installed distribution's entry point adds a notifier; one that cannot be imported
    or that raises (with its secret in the text) is a problem sentence, not a crash."""
    site = tmp_path / "site"
    dist = site / "acme_notify-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-notify\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[lode.notifiers]\nacme = acme_notify:Acme\nboom = acme_notify:Boom\n"
        "broken = acme_missing:Nope\n")
    (site / "acme_notify.py").write_text(PLUGIN)
    out = tmp_path / "event.json"
    repo = make_repo(tmp_path, local=f"[feature]\n    notifier.acme.path = {out}\n")
    from tests.conftest import REPO_ROOT

    env = {**base_env, "PYTHONPATH": f"{site}:{REPO_ROOT}", "ACME_BOOM_URL": HOOK}
    proc = subprocess.run([sys.executable, "-c", DRIVER, repo.root], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["via"] == ["acme", "boom"]  # configured ones, by name; not the console
    assert result["default"] == [
        "boom notification failed: RuntimeError: cannot post to <redacted> today"]
    assert json.loads(out.read_text()) == {}  # the named run wrote last
    [broken] = result["named"]
    assert broken.startswith("the notifier plugin 'broken' cannot be loaded "
                             "(ModuleNotFoundError: No module named 'acme_missing')")


# ---- secrets never shown

def test_scrub_removes_the_url_and_the_parts_requests_quotes():
    text = (f"POST {HOOK} failed: HTTPSConnectionPool(host='hooks.slack.com', port=443): Max "
            "retries exceeded with url: /services/T0SECRET/B0SECRET/abcdefSECRETtoken")
    cleaned = scrub(text, [HOOK])
    assert not any(part in cleaned for part in TOKEN_PARTS)
    assert cleaned.count("<redacted>") == 2 and "hooks.slack.com" in cleaned
    with_creds = "https://user:pa55@ci.example/hook?key=k3y"
    cleaned = scrub("ci.example said user:pa55 and key=k3y", [with_creds])
    assert "pa55" not in cleaned and "k3y" not in cleaned
    assert scrub("nothing to hide", ["", "https://x.example/"]) == "nothing to hide"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_connection_says_why_without_the_url():
    """requests' own exception text holds the URL's path (the Slack credential)."""
    url = f"http://127.0.0.1:{closed_port()}/services/T0SECRET/B0SECRET/abcdefSECRETtoken"
    start = time.monotonic()
    with pytest.raises(NotifyError) as info:
        post_json(url, {"text": "hi"}, timeout=2, retries=0)
    assert time.monotonic() - start < 5
    assert str(info.value) == "127.0.0.1 could not be reached (connection refused) after 1 attempt."
    assert not any(part in str(info.value) for part in TOKEN_PARTS)


def test_retries_wait_longer_each_time_and_stop():
    url = f"http://127.0.0.1:{closed_port()}/hook"
    waits: list[float] = []
    with pytest.raises(NotifyError, match=r"after 5 attempts\.$"):
        post_json(url, {}, timeout=1, retries=4, sleep=waits.append)
    assert waits == [0.5, 1.0, 2.0, 4.0]


def test_not_an_http_url():
    with pytest.raises(NotifyError, match=r"^its url is not an http\(s\) URL\.$"):
        post_json("hooks.slack.com/services/T/B/X", {})


@pytest.mark.parametrize("value, seconds", [
    (None, 0.5), ("2", 2.0), ("0", 0.0), ("3600", 10.0), ("soon", 0.5),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: at once
])
def test_retry_after(value, seconds):
    assert _retry_after(value, 0.5) == seconds


# ---- `lode config notifier.NAME.OPTION`

def test_notifier_keys_are_dotted_keys_of_the_feature_section_and_round_trip():
    text = ("[core]\n    remote = r\n"
            f"[feature]\n    notifier.slack.url = {HOOK}\n    notifier.slack.timeout = 5\n"
            "    notifier.webhook.url = 'https://ci.example/h?a=1,b=2'\n"
            "['remote \"r\"']\n    url = /tmp/r\n")
    sections = config.parse(text, "config.local")
    assert sections["feature"] == {"notifier.slack.url": HOOK, "notifier.slack.timeout": "5",
                                   "notifier.webhook.url": "https://ci.example/h?a=1,b=2"}
    assert config.render(sections) == text.replace("'https://ci.example/h?a=1,b=2'",
                                                   '"https://ci.example/h?a=1,b=2"')
    assert config.notifier_options(sections) == {
        "slack": {"url": HOOK, "timeout": "5"},
        "webhook": {"url": "https://ci.example/h?a=1,b=2"}}
    assert config.split_name("notifier.slack.url") == ("feature", "notifier.slack.url")
    assert config.dotted("feature", "notifier.slack.url") == "notifier.slack.url"
    assert config.dotted("feature", "machine") == "feature.machine"
    assert config.dotted('remote "r"', "url") == "remote.r.url"
    assert config.dotted("core", "remote") == "core.remote"



def test_lode_config_keeps_webhook_urls_out_of_the_tracked_file(lode, git_repo):
    lode("init", cwd=git_repo)
    refused = lode("config", "notifier.slack.url", HOOK, cwd=git_repo, check=False)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "'url' is a secret and .dvc/config is committed to Git" in refused.stderr
    assert "lode config --local notifier.slack.url" in refused.stderr
    assert "LODE_SLACK_WEBHOOK_URL" in refused.stderr and "T0SECRET" not in refused.stderr
    lode("config", "--local", "notifier.slack.url", HOOK, cwd=git_repo)
    lode("config", "notifier.slack.timeout", "5", cwd=git_repo)
    repo = Repo(str(git_repo))
    # DVC's [feature] section: the one where DVC 3 keeps keys it does not know
    assert repo.config.level("repo") == {"feature": {"notifier.slack.timeout": "5"}}
    assert repo.config.level("local") == {"feature": {"notifier.slack.url": HOOK}}
    assert (git_repo / ".dvc" / "config.local").read_text() == (
        f"[feature]\n    notifier.slack.url = {HOOK}\n")
    assert settings_for(repo, "slack") == {"timeout": "5", "url": HOOK}
    listed = lode("config", "-l", cwd=git_repo).stdout.splitlines()
    assert "notifier.slack.timeout=5" in listed and "notifier.slack.url=***" in listed
    shown = lode("config", "-l", "--show-secrets", cwd=git_repo).stdout.splitlines()
    assert f"notifier.slack.url={HOOK}" in shown
    assert lode("config", "notifier.slack.url", cwd=git_repo).stdout == HOOK + "\n"
    lode("config", "--local", "--unset", "notifier.slack.url", cwd=git_repo)
    assert "feature" not in Repo(str(git_repo)).config.level("local")
    again = lode("config", "--local", "--unset", "notifier.slack.url", cwd=git_repo,
                 check=False)
    assert again.returncode != 0 and "'notifier.slack.url' is not set." in again.stderr
    for name, complaint in [
        ("notifier.slak.url", "there is no notifier 'slak' (installed: console, slack, webhook)"),
        ("notifier.slack.channel", "'channel' is not an option of notifier 'slack'. "
                                   "Options: retries, timeout, url."),
        ("notifier.slack", "'notifier.slack' is not a configuration option"),
    ]:
        bad = lode("config", "--local", name, "x", cwd=git_repo, check=False)
        assert bad.returncode != 0 and complaint in bad.stderr, bad.stderr

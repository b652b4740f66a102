"""What lode writes for other programs says only what lode means: a recipe's commit message
(checked by git itself), Slack's mrkdwn, a crontab line (through cron's `%` rule and a real
shell)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lode_plugins.notifiers.slack import slack_payload

from lode.recipes import RecipeError
from lode.recipes.message import describe, one_line, render, trailer_like
from lode.recipes.schedule import ScheduleError, cron_line

# ---------------------------------------------------------------- commit messages

FORGERIES = [
    "acc\n\nSigned-off-by: Mallory <m@evil.example>",
    "acc\r\n\r\nCo-authored-by: Mallory <m@evil.example>",
    "acc\u2028\u2028Signed-off-by: Mallory <m@evil.example>",
    "acc\x85\x85Reviewed-by: Mallory",
    "acc\n# a comment line\n-- a dash line",
    "acc\x00\x1b[2Jcleared",
]


def fields(name: str) -> dict[str, str]:
    metrics = describe([{"path": "m.json", "name": name, "old": 0.1, "new": 0.2}])
    return {"recipe": name, "metrics": metrics, "stages": name, "host": "h", "run_id": "r"}


@pytest.mark.parametrize("name", FORGERIES)
def test_a_value_is_one_line_of_the_message(name):
    text = render("[lode] {recipe}: {metrics}", fields(name))
    assert "\n" not in text and "\r" not in text
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", text)
    assert trailer_like(text) == []


def test_one_line():
    assert one_line("a\n\n b\tc") == "a b c"
    assert one_line(" \n ") == "-"
    assert one_line(0.5) == "0.5"


def test_a_value_that_would_start_a_trailer_line_is_refused():
    template = "[lode] {recipe}\n\n{metrics}"
    with pytest.raises(RecipeError, match="would gain the trailer line 'Signed-off-by: M"):
        render(template, fields("Signed-off-by: M <m@x>"))
    # the template's own trailers stand, with values after its text
    text = render("[lode] {recipe}\n\nReviewed-by: {host}\nRun: {run_id}",
                  fields("Signed-off-by: M <m@x>"))
    assert text.splitlines()[2:] == ["Reviewed-by: h", "Run: r"]
    # in the subject a trailer-looking value is only words (git never reads trailers there)
    assert render("{recipe}", fields("Signed-off-by: M")) == "Signed-off-by: M"


def git_env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(tmp), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}


@pytest.mark.parametrize("name", FORGERIES)
def test_the_real_commit_has_no_forged_trailer_and_loses_no_line(tmp_path, monkeypatch, name):
    git = shutil.which("git")
    if git is None:
        pytest.fail("git is not installed")
    from lode.recipes import gitops

    env = git_env(tmp_path)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    repo_dir = tmp_path / "r"
    subprocess.run([git, "init", "-q", "-b", "main", str(repo_dir)], check=True, env=env)
    # strip would drop '#' lines: the commit keeps every line whatever the config says
    subprocess.run([git, "config", "commit.cleanup", "strip"], cwd=repo_dir, check=True,
                   env=env)
    (repo_dir / "dvc.lock").write_text("x\n")
    template = "[lode] {recipe}: {metrics}\n\nStages: {stages}\n# kept: {run_id}"
    message = render(template, fields(name))
    repo = gitops.open_repo(str(repo_dir))
    gitops.commit_paths(repo, ["dvc.lock"], message)
    body = subprocess.run([git, "log", "-1", "--format=%B"], cwd=repo_dir, env=env,
                          capture_output=True, text=True, check=True).stdout
    assert body.rstrip("\n") == message
    parsed = subprocess.run([git, "interpret-trailers", "--parse"], input=body, env=env,
                            capture_output=True, text=True, check=True).stdout
    assert parsed == "Stages: " + one_line(name) + "\n"  # the template's own, alone


# ---------------------------------------------------------------- Slack mrkdwn

MENTIONS = "<!channel> <!here> <@U123> <#C42> <!subteam^S1> <http://evil.example|click> & &amp;"


def mrkdwn_texts(payload: dict) -> list[str]:
    """Every string Slack reads as mrkdwn: the fallback `text`, mrkdwn text objects."""
    found = [payload["text"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(payload["blocks"])
    return found


def test_every_value_in_a_slack_message_is_escaped():
    event = {"recipe": MENTIONS, "outcome": "failed", "project": MENTIONS, "host": MENTIONS,
             "branch": MENTIONS, "commit": "0123456789abcdef", "duration": 3.0,
             "failed_step": MENTIONS, "error": MENTIONS + "\n```" + MENTIONS,
             "run_id": MENTIONS, "steps": [(MENTIONS, "failed"), ("s", MENTIONS)],
             "metrics": [{"path": MENTIONS, "name": MENTIONS, "old": MENTIONS, "new": 1},
                         {"path": "b", "name": "x", "old": 1, "new": 2}]}
    texts = mrkdwn_texts(slack_payload(event))
    assert len(texts) >= 6
    for text in texts:
        assert "<" not in text and ">" not in text, text
        # every & starts an entity lode wrote: none of the event's is left raw
        assert re.fullmatch(r"(?:[^&]|&(?:amp|lt|gt);)*", text, re.S), text
    assert any("&lt;!channel&gt;" in t for t in texts)
    assert any("&amp;amp;" in t for t in texts)  # a literal "&amp;" stays literal


# ---------------------------------------------------------------- crontab lines


def cron_command(line: str) -> str:
    """What Vixie cron (Debian's) hands /bin/sh: the text after the five time fields, up to
    the first `%` not escaped by a backslash, each `\\%` made `%`."""
    text = line.split(None, 5)[5]
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and text[i + 1:i + 2] == "%":
            out.append("%")
            i += 2
            continue
        if text[i] == "%":
            break
        out.append(text[i])
        i += 1
    return "".join(out)


TRICKY = ["50% of it", "a b 'c' \"d\"", "$(touch pwned)", "`id`;x&y|z", "x#y", "%%"]


@pytest.mark.parametrize("tricky", TRICKY)
def test_a_crontab_line_runs_exactly_the_intended_command(tmp_path, tricky):
    root = tmp_path / f"proj {tricky}"
    bindir = tmp_path / f"bin {tricky}"
    runs = root / ".dvc" / "tmp" / "lode" / "runs"
    for d in (root, bindir):
        d.mkdir()
    python = bindir / "python3"  # a stand-in that reports how it was called
    python.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                      "print(json.dumps([os.getcwd(), sys.argv[1:]]))\n")
    python.chmod(0o755)
    recipe = f"re{tricky}"
    line = cron_line("0 3 * * *", str(root), str(python), recipe, str(runs))
    assert "\n" not in line
    command = cron_command(line)
    proc = subprocess.run(["/bin/sh", "-c", command], cwd="/", capture_output=True,
                          text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    import json

    cwd, argv = json.loads((runs / "cron.log").read_text())
    assert cwd == str(root)
    assert argv == ["-m", "lode", "run", "--detach", "--scheduled", recipe]
    assert not (tmp_path / "pwned").exists() and not Path("/pwned").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([root.name, bindir.name])


@pytest.mark.parametrize(("root", "recipe", "what"), [
    ("/p/a\nb", "r", "the project path"),
    ("/p/a\\%b", "r", "the project path"),
    ("/p/ab", "r\\x", "the recipe name"),
    ("/p/ab", "r\rx", "the recipe name"),
    ("/p/ab", "r\u2028x", "the recipe name"),
    ("/p/ab", "r\x00x", "the recipe name"),
])
def test_a_value_cron_cannot_carry_is_refused(root, recipe, what):
    with pytest.raises(ScheduleError, match=f"^{what} .* cannot be scheduled"):
        cron_line("0 3 * * *", root, "/usr/bin/python3", recipe, root + "/runs")

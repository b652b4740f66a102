"""`lode schedule` with the real `crontab` (Debian's cron package, which .ci/run installs):
install, list, replace, print, remove, other entries left byte for byte; the installed
command starts a run under cron's bare environment; a scheduled run that finds the last
one still running is skipped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.recipes.conftest import RECIPES

# Someone else's crontab, with the spacing, tabs and % that a parser would "tidy".
FOREIGN = (
    "# m h dom mon dow command\n"
    'MAILTO=""\n'
    "0  0 1 1 *\t/usr/bin/backup   --all  # theirs\n"
    "*/5 * * * * echo '50\\%' > /dev/null\n"
)


def crontab(*args: str, input: str | None = None) -> subprocess.CompletedProcess:  # noqa: A002
    return subprocess.run(["crontab", *args], input=input, capture_output=True, text=True,
                          timeout=30)


def crontab_text() -> str:
    proc = crontab("-l")
    return proc.stdout if proc.returncode == 0 else ""


@pytest.fixture
def user_crontab():
    """The real crontab of this user, saved before and restored after, whatever happens."""
    if shutil.which("crontab") is None:
        msg = "crontab is not installed (Debian: apt-get install cron; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    saved = crontab("-l")
    try:
        yield
    finally:
        if saved.returncode == 0:
            assert crontab("-", input=saved.stdout).returncode == 0
        else:
            crontab("-r")
        assert crontab("-l").stdout == (saved.stdout if saved.returncode == 0 else "")


def make_project(lode, path: Path, make_git_repo) -> Path:
    make_git_repo(path)
    lode("init", cwd=path)
    (path / "recipes.yaml").write_text(RECIPES)
    return path


@pytest.fixture
def project(lode, git_repo: Path):
    lode("init", cwd=git_repo)
    (git_repo / "recipes.yaml").write_text(RECIPES)
    yield git_repo
    for record in (git_repo / ".dvc" / "tmp" / "lode" / "runs").glob("*/run.json"):
        pgid = json.loads(record.read_text()).get("pgid")
        if pgid and pgid != os.getpgrp():
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def our_lines(text: str, root: Path) -> list[str]:
    return [line for line in text.splitlines() if f"# lode-schedule:{root}:" in line]


def runs_json(lode, repo: Path) -> list[dict]:
    return json.loads(lode("runs", "--json", cwd=repo).stdout)


def test_schedule_installs_lists_replaces_prints_and_removes_only_its_entry(
        lode, project, user_crontab, make_git_repo, tmp_path):
    assert crontab("-", input=FOREIGN).returncode == 0
    assert crontab_text() == FOREIGN

    out = lode("schedule", "quick", "--cron", "0 3 * * *", cwd=project)
    assert "scheduled recipe 'quick' at '0 3 * * *'" in out.stdout
    text = crontab_text()
    [line] = our_lines(text, project)
    assert line.startswith("0 3 * * * cd ") and "--detach --scheduled quick" in line
    assert text == FOREIGN + line + "\n"  # appended; the rest byte for byte
    assert lode("schedule", "--list", cwd=project).stdout.split() == ["quick", "0", "3", "*",
                                                                      "*", "*"]

    # reinstalling replaces the entry, never a second one
    lode("schedule", "quick", "--cron", "30 4 * * 1-5", cwd=project)
    [line] = our_lines(crontab_text(), project)
    assert line.startswith("30 4 * * 1-5 cd ")
    assert crontab_text() == FOREIGN + line + "\n"

    # --print shows a line and installs nothing
    printed = lode("schedule", "quick", "--cron", "@daily", "--print", cwd=project).stdout
    assert printed.startswith("@daily cd ") and "--scheduled quick" in printed
    assert crontab_text() == FOREIGN + line + "\n"

    # another project's entry of the same recipe is its own
    other = make_project(lode, tmp_path / "other", make_git_repo)
    lode("schedule", "quick", "--cron", "0 5 * * *", cwd=other)
    [other_line] = our_lines(crontab_text(), other)
    assert lode("schedule", "--list", cwd=project).stdout.split()[:2] == ["quick", "30"]
    assert len(lode("schedule", "--list", cwd=project).stdout.splitlines()) == 1

    assert "removed" in lode("schedule", "quick", "--remove", cwd=project).stdout
    assert crontab_text() == FOREIGN + other_line + "\n"
    again = lode("schedule", "quick", "--remove", cwd=project, check=False)
    assert again.returncode != 0
    assert again.stderr == ("ERROR: recipe 'quick' of this project is not scheduled; "
                            "'lode schedule --list' shows what is.\n")
    lode("schedule", "quick", "--remove", cwd=other)
    assert crontab_text() == FOREIGN
    assert lode("schedule", "--list", cwd=project).stdout == ""


def test_bad_schedules_are_one_sentence_and_change_nothing(lode, project, user_crontab):
    assert crontab("-", input=FOREIGN).returncode == 0
    for args in (("quick", "--cron", "0 3 * *"), ("quick", "--cron", "0 25 * * *"),
                 ("nope", "--cron", "0 3 * * *"), ("quick",), ("--cron", "0 3 * * *")):
        proc = lode("schedule", *args, cwd=project, check=False)
        assert proc.returncode != 0, args
        assert proc.stderr.startswith("ERROR: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "'0 3 * *' is not a cron expression" in lode(
        "schedule", "quick", "--cron", "0 3 * *", cwd=project, check=False).stderr
    assert crontab_text() == FOREIGN


def test_the_installed_entry_runs_the_recipe_in_crons_bare_environment(
        lode, project, user_crontab, tmp_path):
    lode("schedule", "quick", "--cron", "0 3 * * *", cwd=project)
    [line] = our_lines(crontab_text(), project)
    # what cron executes: the text after the five time fields, \% made %, through a shell
    command = line.split(None, 5)[5].replace("\\%", "%")
    home = tmp_path / "cronhome"
    home.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "SHELL": "/bin/sh",
           "LOGNAME": "root"}
    ids = []
    for shell in ("/bin/sh", "bash"):  # cron's shell, and bash
        proc = subprocess.run([shell, "-c", command], cwd="/", env=env, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        deadline = time.monotonic() + 60
        while True:
            runs = [r for r in runs_json(lode, project) if r["id"] not in ids]
            if runs and runs[0]["state"] != "running":
                break
            assert time.monotonic() < deadline, "the scheduled run did not end"
            time.sleep(0.1)
        [run] = runs
        ids.append(run["id"])
        assert run["state"] == "succeeded" and run["scheduled"] and run["detached"]
        assert "hello from the recipe" in lode("logs", run["id"], cwd=project).stdout
    cron_log = (project / ".dvc" / "tmp" / "lode" / "runs" / "cron.log").read_text()
    assert all(run_id in cron_log for run_id in ids)


def test_a_scheduled_run_is_skipped_while_the_last_one_runs(lode, project):
    first = lode("run", "--detach", "sleepy", cwd=project).stdout.strip()
    skipped = lode("run", "--detach", "--scheduled", "sleepy", cwd=project)
    assert skipped.returncode == 0
    assert f"recipe 'sleepy' was still running as {first}" in skipped.stdout
    assert "skipped" in skipped.stdout
    records = runs_json(lode, project)
    assert [r["state"] for r in records] == ["skipped", "running"]
    assert records[0]["recipe"] == "sleepy" and records[0]["scheduled"]
    assert records[1]["id"] == first
    assert "skipped: recipe 'sleepy' was still running" in lode(
        "logs", records[0]["id"], cwd=project).stdout
    # not scheduled, the same situation is a refusal, not a skip
    refused = lode("run", "--detach", "sleepy", cwd=project, check=False)
    assert refused.returncode != 0 and "already running" in refused.stderr
    lode("stop", first, cwd=project)

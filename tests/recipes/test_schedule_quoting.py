"""`lode schedule` in a project whose path holds `%`, quotes, spaces and `$(...)`: the real
`crontab` takes the line, `--list` finds it again, and what cron would run (the command
after cron's `%` rule, through /bin/sh) starts the recipe in that very project."""

from __future__ import annotations

import subprocess
import time

from tests.recipes.test_schedule import (  # noqa: F401 - fixtures
    crontab_text,
    make_project,
    runs_json,
    user_crontab,
)
from tests.unit.test_escaping import cron_command


def test_a_tricky_project_path_is_scheduled_and_runs_there(lode, make_git_repo, tmp_path,
                                                          user_crontab):  # noqa: F811
    project = make_project(lode, tmp_path / "50% of 'it' \"x\" $(touch pwned) a&b",
                           make_git_repo)
    lode("schedule", "quick", "--cron", "0 3 * * *", cwd=project)
    [line] = [x for x in crontab_text().splitlines() if "--scheduled quick" in x
              and "50\\%" in x]
    assert lode("schedule", "--list", cwd=project).stdout.split()[0] == "quick"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SHELL": "/bin/sh"}
    proc = subprocess.run(["/bin/sh", "-c", cron_command(line)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 60
    while not (runs := runs_json(lode, project)) or runs[0]["state"] == "running":
        assert time.monotonic() < deadline, "the scheduled run did not end"
        time.sleep(0.1)
    assert runs[0]["state"] == "succeeded" and runs[0]["scheduled"]
    assert not (tmp_path / "pwned").exists() and not (project / "pwned").exists()
    lode("schedule", "quick", "--remove", cwd=project)
    assert line not in crontab_text()

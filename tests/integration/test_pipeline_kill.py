"""A repro killed half-way keeps every stage that finished; the rerun does only the rest."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

DVC_YAML = """\
stages:
  first:
    cmd: echo one > one.txt && echo first >> runs.log
    outs: [one.txt]
  second:
    cmd: touch started && sleep 30 && cp one.txt two.txt && echo second >> runs.log
    deps: [one.txt]
    outs: [two.txt]
"""


def test_kill_during_second_stage_keeps_the_first(git_repo: Path, lode):
    lode("init", cwd=git_repo)
    (git_repo / "dvc.yaml").write_text(DVC_YAML)
    proc = lode.popen("repro", "-j", "1", cwd=git_repo, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (git_repo / "started").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the second stage never started"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # lode and the stage's shell, as a closed terminal
    proc.communicate(timeout=30)

    lock = (git_repo / "dvc.lock").read_text()
    assert "first:" in lock and "second:" not in lock
    assert not any(p.name.endswith(".tmp") for p in git_repo.iterdir())

    (git_repo / "started").unlink()
    (git_repo / "dvc.yaml").write_text(DVC_YAML.replace("sleep 30", "sleep 0"))
    done = lode("repro", cwd=git_repo)
    assert "Stage 'first' didn't change, skipping" in done.stdout
    assert (git_repo / "runs.log").read_text().splitlines() == ["first", "second"]
    assert lode("status", "--json", cwd=git_repo).stdout.strip() == "{}"

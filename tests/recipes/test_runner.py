"""The detached runner with real processes: a detached run outlives its starter and its
terminal's SIGHUP, one run per recipe, `lode stop` ends the run and its children, a
SIGKILLed runner shows dead and frees its recipe, failures are recorded with their code."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.recipes.conftest import RECIPES


def wait_for(what: str, check: Callable[[], object], timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting ({timeout} s) for {what}"
        time.sleep(0.1)


def runs_json(lode, repo: Path) -> list[dict]:
    return json.loads(lode("runs", "--json", cwd=repo).stdout)


def run_of(lode, repo: Path, run_id: str) -> dict:
    return next(r for r in runs_json(lode, repo) if r["id"] == run_id)


def ended(lode, repo: Path, run_id: str, timeout: float = 60) -> dict:
    def check():
        rec = run_of(lode, repo, run_id)
        return rec if rec["state"] != "running" else None

    return wait_for(f"run {run_id} to end", check, timeout)


def detach(lode, repo: Path, recipe: str, *args: str) -> str:
    proc = lode("run", "--detach", recipe, *args, cwd=repo)
    run_id = proc.stdout.strip()
    assert run_id.startswith(f"{recipe}-"), proc.stdout
    return run_id


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group `pgid`."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == pgid and fields[0] not in "ZX":
                out.append(int(name))
    return out


def alive(pid: int) -> bool:
    """Running still: not gone, not a zombie (this machine's pid 1 reaps no orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def open_files(pid: int) -> set[str]:
    fds = Path(f"/proc/{pid}/fd")
    out = set()
    for fd in fds.iterdir():
        try:
            out.add(os.readlink(fd))
        except OSError:
            pass
    return out


@pytest.fixture
def project(lode, git_repo: Path):
    """A lode repository with the test recipes; every process group a run of it started
    is killed at the end, whatever the test did."""
    lode("init", cwd=git_repo)
    (git_repo / "recipes.yaml").write_text(RECIPES)
    yield git_repo
    runs = git_repo / ".dvc" / "tmp" / "lode" / "runs"
    for record in runs.glob("*/run.json"):
        pgid = json.loads(record.read_text()).get("pgid")
        if pgid and pgid != os.getpgrp() and group_members(pgid):
            os.killpg(pgid, signal.SIGKILL)


def test_detach_returns_at_once_and_the_run_succeeds_with_its_log(lode, project):
    start = time.monotonic()
    proc = lode("run", "--detach", "quick", cwd=project)
    took = time.monotonic() - start
    run_id = proc.stdout.strip()
    assert took < 5, f"the starter took {took:.1f} s"
    assert f"lode logs {run_id} -f" in proc.stderr
    record = ended(lode, project, run_id)
    assert record["state"] == "succeeded" and record["exit_code"] == 0
    assert record["recipe"] == "quick" and record["detached"] and not record["scheduled"]
    assert record["cwd"] == str(project) and record["pgid"] == record["pid"]
    log = (project / ".dvc" / "tmp" / "lode" / "runs" / run_id / "log").read_text()
    assert "hello from the recipe" in log
    assert "hello from the recipe" in lode("logs", run_id, cwd=project).stdout
    assert "hello from the recipe" in lode("logs", cwd=project).stdout  # the newest run
    table = lode("runs", cwd=project).stdout.splitlines()
    assert table[1].split()[:3] == [run_id, "quick", "succeeded"]


def test_a_detached_run_survives_its_terminal_and_stop_ends_it_with_its_children(
        lode, project, base_env):
    # A shell in its own session stands for a terminal: it starts the run, then gets the
    # SIGHUP a closing terminal sends to its session's processes.
    cmd = f"{shlex.quote(sys.executable)} -m lode run --detach sleepy; exec sleep 60"
    term = subprocess.Popen(["bash", "-c", cmd], cwd=project, env=base_env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        record = wait_for("the detached run", lambda: next(
            (r for r in runs_json(lode, project) if r["state"] == "running"), None), 30)
        run_id, pid = record["id"], record["pid"]
        os.killpg(term.pid, signal.SIGHUP)
        term.communicate(timeout=30)
        assert term.returncode == -signal.SIGHUP
        assert not group_members(term.pid)  # nothing of the terminal's session is left
        time.sleep(0.5)
        assert run_of(lode, project, run_id)["state"] == "running"
        assert os.getsid(pid) == pid  # its own session: no terminal to lose
        sleeps = wait_for("the recipe's sleep", lambda: [
            p for p in group_members(pid) if comm(p) == "sleep"], 30)
        # the recipe's lock stays with the runner: its commands do not inherit it
        lock = str(project / ".dvc" / "tmp" / "lode" / "runs" / "sleepy.lock")
        assert lock in open_files(pid)
        assert all(lock not in open_files(p) for p in sleeps)

        # one run per recipe: refused, detached or not, and nothing recorded
        before = {r["id"] for r in runs_json(lode, project)}
        for args in (("--detach", "sleepy"), ("sleepy",)):
            refused = lode("run", *args, cwd=project, check=False)
            assert refused.returncode != 0
            assert (f"recipe 'sleepy' is already running as {run_id} (pid {pid}); "
                    f"'lode stop {run_id}' or wait.") in refused.stderr
            assert "Traceback" not in refused.stderr
        assert {r["id"] for r in runs_json(lode, project)} == before

        start = time.monotonic()
        stop = lode("stop", run_id, cwd=project)
        assert time.monotonic() - start < 10  # TERM sufficed, no KILL timeout
        assert f"stopped run {run_id}" in stop.stdout
        assert not group_members(pid)
        assert not [p for p in sleeps if alive(p)]
        record = run_of(lode, project, run_id)
        assert record["state"] == "stopped" and record["exit_code"] == 128 + signal.SIGTERM
        again = lode("stop", run_id, cwd=project)
        assert "is not running (stopped); nothing to stop." in again.stderr
    finally:
        if term.poll() is None:
            os.killpg(term.pid, signal.SIGKILL)
            term.communicate(timeout=30)


def test_a_runner_killed_with_sigkill_shows_dead_and_frees_its_recipe(lode, project):
    run_id = detach(lode, project, "sleepy")
    record = run_of(lode, project, run_id)
    assert record["state"] == "running"
    wait_for("the recipe's sleep", lambda: [
        p for p in group_members(record["pid"]) if comm(p) == "sleep"], 30)
    os.kill(record["pid"], signal.SIGKILL)  # the runner only; its sleep lives on
    wait_for("the run to show dead",
             lambda: run_of(lode, project, run_id)["state"] == "dead", 30)
    dead_row = next(line for line in lode("runs", cwd=project).stdout.splitlines()
                    if line.startswith(run_id))
    assert dead_row.split()[2] == "dead"

    second = detach(lode, project, "sleepy")
    assert run_of(lode, project, second)["state"] == "running"
    assert lode("stop", second, "--timeout", "5", cwd=project).returncode == 0
    assert run_of(lode, project, second)["state"] == "stopped"
    stopped_dead = lode("stop", run_id, cwd=project)
    assert "is not running (dead)" in stopped_dead.stderr


def test_stop_kills_what_ignores_term_after_the_timeout(lode, project):
    run_id = detach(lode, project, "stubborn")
    pid = run_of(lode, project, run_id)["pid"]
    wait_for("the recipe's sleep", lambda: [
        p for p in group_members(pid) if comm(p) == "sleep"], 30)
    start = time.monotonic()
    lode("stop", run_id, "--timeout", "1", cwd=project)
    assert 1 <= time.monotonic() - start < 15
    assert not group_members(pid)
    record = run_of(lode, project, run_id)
    assert record["state"] == "stopped"
    assert "still here" not in lode("logs", run_id, cwd=project).stdout


def test_a_failing_recipe_ends_failed_with_its_exit_code(lode, project):
    run_id = detach(lode, project, "boom")
    record = ended(lode, project, run_id)
    assert record["state"] == "failed"
    foreground = lode("run", "boom", cwd=project, check=False)
    assert foreground.returncode != 0
    newest = runs_json(lode, project)[0]
    assert newest["id"] != run_id and not newest["detached"]
    assert newest["state"] == "failed" and newest["exit_code"] == foreground.returncode
    assert record["exit_code"] == foreground.returncode
    assert "exit 3" in lode("logs", run_id, cwd=project).stdout


def test_logs_follow_until_the_run_ends(lode, project):
    run_id = detach(lode, project, "slow")
    start = time.monotonic()
    follow = lode("logs", run_id, "-f", cwd=project, timeout=60)
    assert time.monotonic() - start >= 0.5  # it waited for the second line
    assert "first line" in follow.stdout and "second line" in follow.stdout
    assert run_of(lode, project, run_id)["state"] == "succeeded"


def test_stop_a_foreground_run_in_someone_elses_process_group(lode, project):
    # Started from a pipeline or a test runner, the run does not lead its process group:
    # `lode stop` signals it and its descendants, not the group it shares.
    run = lode.popen("run", "sleepy", cwd=project)
    try:
        record = wait_for("the foreground run", lambda: next(
            (r for r in runs_json(lode, project) if r["state"] == "running"), None), 30)
        assert record["pid"] == run.pid and record["pgid"] == os.getpgrp()
        assert not record["detached"]
        lode("stop", record["id"], cwd=project)
        run.communicate(timeout=30)
        assert run.returncode == 128 + signal.SIGTERM
        final = run_of(lode, project, record["id"])
        assert final["state"] == "stopped"
        assert "foreground run" in lode("logs", record["id"], cwd=project).stdout
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate(timeout=30)


def test_bad_input_is_one_sentence_and_records_nothing(lode, project):
    unknown = lode("run", "--detach", "nope", cwd=project, check=False)
    assert unknown.returncode != 0
    assert unknown.stderr.startswith("ERROR: unknown recipe 'nope'; the recipes are: ")
    assert runs_json(lode, project) == []
    assert "no recipe runs yet" in lode("runs", cwd=project).stderr
    for args in (("logs",), ("logs", "nope"), ("stop", "nope"), ("runs", "-n", "0"),
                 ("stop", "x", "--timeout", "-1")):
        proc = lode(*args, cwd=project, check=False)
        assert proc.returncode != 0, args
        assert proc.stderr.startswith("ERROR: ") and proc.stderr.count("\n") == 1, proc.stderr

"""push / pull / fetch against a local-directory remote, with the real dvc on the other side."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def remote_object(remote: Path, data: bytes) -> Path:
    h = md5(data)
    return remote / "files" / "md5" / h[:2] / h[2:]


@pytest.fixture
def repo(git_repo, lode, tree, tmp_path):
    lode("init", cwd=git_repo)
    tree(git_repo / "data", 5000, seed=3)
    (git_repo / "model.bin").write_bytes(b"weights v1\n" * 1000)
    lode("add", "data", "model.bin", cwd=git_repo)
    remote = tmp_path / "remote"
    lode("remote", "add", "-d", "store", str(remote), cwd=git_repo)
    return git_repo


def wipe(repo: Path) -> None:
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / "data")
    (repo / "model.bin").unlink()


def test_round_trip_restores_identical_bytes(repo, lode, snapshot, tmp_path):
    before = snapshot(repo / "data")
    out = lode("push", cwd=repo).stdout
    assert "5002 file(s) pushed" in out  # 5,000 files, the model and the .dir manifest
    assert "already there" in lode("push", cwd=repo).stdout
    wipe(repo)
    lode("pull", cwd=repo)
    assert snapshot(repo / "data") == before
    assert (repo / "model.bin").read_bytes() == b"weights v1\n" * 1000
    assert json.loads(lode("status", "--json", cwd=repo).stdout) == {}


def test_corrupt_and_missing_remote_objects_are_named_rest_transferred(repo, lode, tmp_path):
    lode("push", cwd=repo)
    remote = tmp_path / "remote"
    model = remote_object(remote, b"weights v1\n" * 1000)
    os.chmod(model, 0o644)
    model.write_bytes(b"tampered")
    victim = next((repo / "data").rglob("*.bin"))
    gone = remote_object(remote, victim.read_bytes())
    gone.unlink()
    wipe(repo)
    proc = lode("pull", cwd=repo, check=False)
    assert proc.returncode != 0
    assert "corrupt on the remote" in proc.stderr and "model.bin" in proc.stderr
    assert "missing from the remote" in proc.stderr
    assert "Traceback" not in proc.stderr
    # nothing unverified entered the cache; every other file arrived
    assert not (repo / "model.bin").exists()
    cache = repo / ".dvc" / "cache" / "files" / "md5"
    assert sum(len(f) for _, _, f in os.walk(cache)) == 5000  # 4,999 files + the manifest


def test_secrets_refused_in_tracked_config(repo, lode):
    lode("remote", "add", "s3r", "s3://bucket/prefix", cwd=repo)
    proc = lode("remote", "modify", "s3r", "secret_access_key", "hunter2", cwd=repo, check=False)
    assert proc.returncode != 0 and "--local" in proc.stderr and "hunter2" not in proc.stderr
    assert "hunter2" not in (repo / ".dvc" / "config").read_text()
    lode("remote", "modify", "--local", "s3r", "secret_access_key", "hunter2", cwd=repo)
    assert "hunter2" in (repo / ".dvc" / "config.local").read_text()


@pytest.mark.dvc
def test_dvc_pulls_what_lode_pushed_and_back(repo, lode, dvc, snapshot, tmp_path):
    before = snapshot(repo / "data")
    lode("push", cwd=repo)
    wipe(repo)
    dvc("pull", cwd=repo)
    assert snapshot(repo / "data") == before
    # and the other way round, on a fresh remote
    other = tmp_path / "remote2"
    lode("remote", "add", "-f", "-d", "store", str(other), cwd=repo)
    dvc("push", cwd=repo)
    wipe(repo)
    lode("pull", cwd=repo)
    assert snapshot(repo / "data") == before
    assert "in sync" in dvc("status", "-c", cwd=repo).stdout


def test_status_cloud_names_new_deleted_missing(repo, lode, tmp_path):
    lode("push", cwd=repo)
    (repo / "fresh.txt").write_text("only local\n")
    lode("add", "fresh.txt", cwd=repo)
    assert json.loads(lode("status", "-c", "--json", cwd=repo).stdout) == {"fresh.txt": "new"}
    lode("push", cwd=repo)
    assert "in sync" in lode("status", "-c", cwd=repo).stdout
    h = md5(b"only local\n")
    (repo / ".dvc" / "cache" / "files" / "md5" / h[:2] / h[2:]).unlink()
    assert json.loads(lode("status", "-c", "--json", cwd=repo).stdout) == {
        "fresh.txt": "deleted"
    }
    remote_object(tmp_path / "remote", b"only local\n").unlink()
    assert json.loads(lode("status", "-c", "--json", cwd=repo).stdout) == {
        "fresh.txt": "missing"
    }


def test_gc_keeps_what_the_chosen_scopes_reference(repo, lode, git, tmp_path):
    model = repo / "model.bin"
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "v1", cwd=repo)
    git("tag", "v1", cwd=repo)
    git("checkout", "-qb", "exp", cwd=repo)
    model.write_bytes(b"weights exp\n")
    lode("add", "model.bin", cwd=repo)
    git("commit", "-qam", "exp", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    lode("checkout", "--force", cwd=repo)
    model.chmod(0o644)
    model.write_bytes(b"weights v2\n")
    lode("add", "model.bin", cwd=repo)  # workspace: v2; branch exp: exp; tag v1: v1
    cache = repo / ".dvc" / "cache" / "files" / "md5"

    def has(data: bytes) -> bool:
        h = md5(data)
        return (cache / h[:2] / h[2:]).exists()

    dry = lode("gc", "-w", "--dry", cwd=repo).stdout
    assert "2 unused object(s)" in dry and has(b"weights exp\n")  # --dry removes nothing
    lode("gc", "-a", "-f", cwd=repo)  # branches (main -> v1 commit, exp) + workspace
    assert has(b"weights v2\n") and has(b"weights exp\n") and has(b"weights v1\n" * 1000)
    lode("gc", "-w", "-f", cwd=repo)
    assert has(b"weights v2\n") and not has(b"weights exp\n") and not has(b"weights v1\n" * 1000)
    assert json.loads(lode("status", "--json", cwd=repo).stdout) == {}
    proc = lode("gc", cwd=repo, check=False)
    assert proc.returncode != 0 and "-w" in proc.stderr


def test_repro_pull_fetches_inputs_then_restores(git_repo, lode, tmp_path):
    lode("init", cwd=git_repo)
    (git_repo / "raw.csv").write_text("a,b\n1,2\n")
    lode("add", "raw.csv", cwd=git_repo)
    (git_repo / "dvc.yaml").write_text(
        "stages:\n  count:\n    cmd: wc -l raw.csv > n.txt && echo ran >> log\n"
        "    deps: [raw.csv]\n    outs: [n.txt]\n"
    )
    lode("repro", cwd=git_repo)
    lode("remote", "add", "-d", "store", str(tmp_path / "remote"), cwd=git_repo)
    lode("push", cwd=git_repo)
    shutil.rmtree(git_repo / ".dvc" / "cache")
    (git_repo / "raw.csv").unlink()
    (git_repo / "n.txt").unlink()
    out = lode("repro", "--pull", cwd=git_repo).stdout
    # the pull brought the output dvc.lock records back, so the stage is up to date
    assert "Stage 'count' didn't change, skipping" in out
    assert (git_repo / "log").read_text() == "ran\n"  # restored, not run again
    assert (git_repo / "raw.csv").read_text() == "a,b\n1,2\n"
    assert (git_repo / "n.txt").read_text().split()[0] == "2"


def test_doctor_and_status_name_a_tracked_secret_without_printing_it(repo, lode):
    assert lode("doctor", cwd=repo).returncode == 0
    with open(repo / ".dvc" / "config", "a") as f:
        f.write("['remote \"old\"']\n    url = s3://b/p\n    secret_access_key = hunter2\n")
    proc = lode("doctor", cwd=repo, check=False)
    assert proc.returncode == 1 and "remote.old.secret_access_key" in proc.stdout
    status = lode("status", cwd=repo)
    assert "remote.old.secret_access_key" in status.stderr
    assert "hunter2" not in proc.stdout + proc.stderr + status.stdout + status.stderr


def test_relative_remote_is_stored_from_dvc_dir_as_dvc_does(git_repo, lode, tmp_path):
    lode("init", cwd=git_repo)
    (git_repo / "sub").mkdir()
    lode("remote", "add", "rel", "../store", cwd=git_repo / "sub")
    assert "url = ../store\n" in (git_repo / ".dvc" / "config").read_text()
    (git_repo / "a.txt").write_text("a\n")
    lode("add", "a.txt", cwd=git_repo)
    lode("push", "-r", "rel", cwd=git_repo)
    assert (git_repo / "store" / "files" / "md5").is_dir()


def test_run_cache_travels_with_push_and_pull(git_repo, lode, tmp_path):
    lode("init", cwd=git_repo)
    (git_repo / "raw.csv").write_text("a,b\n1,2\n")
    (git_repo / "dvc.yaml").write_text(
        "stages:\n  count:\n    cmd: wc -l raw.csv > n.txt && echo ran >> log\n"
        "    deps: [raw.csv]\n    outs: [n.txt]\n"
    )
    lode("repro", cwd=git_repo)
    remote = tmp_path / "remote"
    lode("remote", "add", "-d", "store", str(remote), cwd=git_repo)
    lode("push", "--run-cache", cwd=git_repo)
    entries = [p for p in (remote / "runs").rglob("*") if p.is_file()]
    assert len(entries) == 1  # runs/<2>/<key>/<value>, as DVC lays it out
    # a teammate (or CI) with the code but neither the lock nor the outputs nor a cache
    shutil.rmtree(git_repo / ".dvc" / "cache")
    (git_repo / "n.txt").unlink()
    (git_repo / "dvc.lock").unlink()
    lode("pull", "--run-cache", cwd=git_repo)
    out = lode("repro", cwd=git_repo).stdout
    assert "skipping run" in out and (git_repo / "log").read_text() == "ran\n"
    assert (git_repo / "n.txt").read_text().split()[0] == "2"
    # a tampered entry on the remote is named and never enters the cache
    shutil.rmtree(git_repo / ".dvc" / "cache" / "runs")
    entries[0].chmod(0o644)
    entries[0].write_text(entries[0].read_text().replace("wc -l", "rm -rf"))
    proc = lode("fetch", "--run-cache", cwd=git_repo, check=False)
    assert proc.returncode != 0 and "run cache" in proc.stderr and "corrupt" in proc.stderr
    assert not (git_repo / ".dvc" / "cache" / "runs").exists() or not any(
        p.is_file() for p in (git_repo / ".dvc" / "cache" / "runs").rglob("*"))


def test_lode_restores_from_a_run_cache_dvc_pushed(git_repo, lode, dvc, tmp_path):
    dvc("init", "-q", cwd=git_repo)
    (git_repo / "raw.csv").write_text("a,b\n1,2\n")
    (git_repo / "dvc.yaml").write_text(
        "stages:\n  count:\n    cmd: wc -l raw.csv > n.txt\n    deps: [raw.csv]\n"
        "    outs: [n.txt]\n")
    dvc("repro", "-q", cwd=git_repo)
    dvc("remote", "add", "-d", "store", str(tmp_path / "remote"), cwd=git_repo)
    dvc("push", "--run-cache", "-q", cwd=git_repo)
    shutil.rmtree(git_repo / ".dvc" / "cache")
    (git_repo / "n.txt").unlink()
    (git_repo / "dvc.lock").unlink()
    lode("pull", "--run-cache", cwd=git_repo)
    assert "skipping run" in lode("repro", cwd=git_repo).stdout
    assert "up to date" in dvc("status", cwd=git_repo).stdout


def _interrupt_when(proc, ready, sig, group: bool) -> bool:
    """Send `sig` once `ready()` holds (to the process group, as a terminal's Ctrl-C
    does, when `group`); False if the command finished first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if ready():
            (os.killpg if group else os.kill)(proc.pid, sig)
            return True
        time.sleep(0.002)
    return False


def count_files(root: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(root))


def _leftovers(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in root.rglob("*.tmp")]


def _group_gone(pgid: int, within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("after", [50, 2500])
def test_ctrl_c_during_pull_leaves_no_temporary_files(repo, lode, snapshot, after):
    """Ctrl-C reaches lode and its worker processes together: every worker removes the
    file it was writing, none outlives the command, and rerunning the pull finishes it."""
    before = snapshot(repo / "data")
    lode("push", cwd=repo)
    wipe(repo)
    proc = lode.popen("pull", cwd=repo, start_new_session=True)
    try:
        sent = _interrupt_when(proc, lambda: count_files(repo / ".dvc" / "cache") >= after,
                               signal.SIGINT, group=True)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if sent:
        assert proc.returncode != 0 and "interrupted" in err, err
        assert "Traceback" not in err
    assert _group_gone(proc.pid), "a worker outlived the interrupted pull"
    assert _leftovers(repo / ".dvc" / "cache", repo / "data") == []
    lode("pull", cwd=repo)
    assert snapshot(repo / "data") == before
    assert json.loads(lode("status", "--json", cwd=repo).stdout) == {}


def test_workers_stop_when_lode_is_killed(repo, lode, tmp_path):
    """SIGKILL to lode alone (an OOM kill, `kill -9`): its workers stop too instead of
    finishing their share as orphans, and a rerun completes the push."""
    proc = lode.popen("push", cwd=repo, start_new_session=True)
    remote = tmp_path / "remote"
    try:
        _interrupt_when(proc, lambda: count_files(remote) >= 100, signal.SIGKILL, group=False)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _group_gone(proc.pid), "workers kept running after lode was killed"
    assert count_files(remote) < 4000, "the workers finished their shares as orphans"
    assert _leftovers(remote) == []
    lode("push", cwd=repo)
    assert json.loads(lode("status", "-c", "--json", cwd=repo).stdout) == {}

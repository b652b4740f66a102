"""Never lose data: killed writers, concurrent writers, corrupted cache objects.

Real `python -m lode` processes on real repositories; no mocks.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import stat
import time
from pathlib import Path

import pytest

N_CRASH_FILES = 20_000


def cache_root(repo: Path) -> Path:
    return repo / ".dvc" / "cache" / "files" / "md5"


def count_cache_files(repo: Path) -> int:
    return count_files(cache_root(repo))


def count_files(root: Path) -> int:
    if not root.is_dir():
        return 0
    return sum(len(files) for _d, _s, files in os.walk(root))


def cache_path(repo: Path, content: bytes) -> Path:
    md5 = hashlib.md5(content).hexdigest()
    return cache_root(repo) / md5[:2] / md5[2:]


def assert_no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout


def assert_clean(lode, repo: Path) -> None:
    proc = lode("status", cwd=repo)
    assert "up to date" in proc.stdout + proc.stderr, proc
    proc = lode("status", "--json", cwd=repo)
    assert json.loads(proc.stdout) == {}


@pytest.fixture
def repo(git_repo, lode):
    lode("init", cwd=git_repo)
    return git_repo


# ----------------------------------------------------------------------------- 6


def test_sigkill_during_add_then_rerun(repo, lode, tree, snapshot):
    tree(repo / "big", N_CRASH_FILES, seed=11, max_size=1024)
    before = snapshot(repo / "big")

    proc = lode.popen("add", "big", cwd=repo)
    deadline = time.monotonic() + 120
    killed_at = None
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            n = count_cache_files(repo)
            if n >= 200:
                proc.send_signal(signal.SIGKILL)
                killed_at = n
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None and killed_at is None:
            proc.kill()
        out, err = proc.communicate(timeout=60)
    if killed_at is None:
        pytest.fail(
            f"lode add finished (exit {proc.returncode}) before it could be killed; "
            f"make the tree bigger\nstderr: {err}"
        )
    assert proc.returncode == -signal.SIGKILL
    assert not (repo / "big.dvc").exists(), "a killed add must not leave a pointer behind"
    # whatever add had done to the workspace, no byte of it is lost
    assert snapshot(repo / "big") == before

    rerun = lode("add", "big", cwd=repo)
    assert_no_traceback(rerun)
    assert (repo / "big.dvc").is_file()
    assert snapshot(repo / "big") == before
    assert_clean(lode, repo)
    verify = lode("cache", "verify", cwd=repo, check=False)
    assert verify.returncode == 0, verify
    assert_no_traceback(verify)
    assert count_cache_files(repo) >= N_CRASH_FILES  # every object, plus the .dir

    # and the cache can rebuild the workspace byte for byte, even when that checkout is
    # itself killed half-way and simply run again
    shutil.rmtree(repo / "big")
    proc = lode.popen("checkout", cwd=repo)
    killed = False
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if count_files(repo / "big") >= 200:
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None and not killed:
            proc.kill()
        proc.communicate(timeout=60)
    rerun = lode("checkout", cwd=repo, check=False)
    assert rerun.returncode == 0, (
        f"checkout after a killed checkout failed (killed={killed}): {rerun}"
    )
    assert snapshot(repo / "big") == before, "leftovers or missing files after a killed checkout"
    assert_clean(lode, repo)


# ----------------------------------------------------------------------------- 7


def test_two_concurrent_adds(repo, lode, tree, snapshot):
    tree(repo / "left", 3000, seed=21)
    tree(repo / "right", 3000, seed=22)
    want = {"left": snapshot(repo / "left"), "right": snapshot(repo / "right")}

    procs = {name: lode.popen("add", name, cwd=repo) for name in ("left", "right")}
    results = {}
    for name, p in procs.items():
        out, err = p.communicate(timeout=180)
        results[name] = (p.returncode, out, err)

    for name, (rc, out, err) in results.items():
        assert "Traceback" not in err + out, err
        other = procs["right" if name == "left" else "left"]
        if rc != 0:
            assert err.startswith("ERROR:") or "\nERROR:" in err, err
            assert "lock" in err.lower(), err
            assert str(other.pid) in err, f"the message does not name pid {other.pid}: {err}"
            assert not (repo / f"{name}.dvc").exists()
    succeeded = [name for name, (rc, _o, _e) in results.items() if rc == 0]
    assert succeeded, f"neither add succeeded: {results}"

    for name in succeeded:
        assert (repo / f"{name}.dvc").is_file()
        assert snapshot(repo / name) == want[name]
    # whichever lost can simply run again
    for name in set(results) - set(succeeded):
        lode("add", name, cwd=repo)
    assert_clean(lode, repo)
    verify = lode("cache", "verify", cwd=repo, check=False)
    assert verify.returncode == 0, verify
    assert_no_traceback(verify)


def test_writer_waits_then_names_lock_holder(repo, lode):
    (repo / "data.bin").write_bytes(b"x" * 1000)
    lock_path = repo / ".dvc" / "tmp" / "lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    # Hold the repository lock the way DVC's zc.lockfile does (flock + " pid\n").
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f" {os.getpid()}\n".encode(), 0)
        t0 = time.monotonic()
        proc = lode("add", "data.bin", cwd=repo, check=False, timeout=120)
        waited = time.monotonic() - t0
    finally:
        os.close(fd)
    assert proc.returncode != 0, proc
    assert_no_traceback(proc)
    assert "ERROR:" in proc.stderr, proc.stderr
    assert "lock" in proc.stderr.lower(), proc.stderr
    assert str(os.getpid()) in proc.stderr, proc.stderr
    assert waited < 60, f"lode waited {waited:.0f}s for the lock"
    assert not (repo / "data.bin.dvc").exists()

    # the lock is released: the same command now works
    lode("add", "data.bin", cwd=repo)
    assert_clean(lode, repo)


def test_lock_of_killed_writer_is_not_stale(repo, lode, tree):
    """A SIGKILLed writer leaves its note in the lock file but no lock: nobody waits."""
    tree(repo / "big", 4000, seed=31)
    proc = lode.popen("add", "big", cwd=repo)
    lock_path = repo / ".dvc" / "tmp" / "lock"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if lock_path.exists() and lock_path.stat().st_size > 0:
            break
        time.sleep(0.005)
    proc.kill()
    proc.communicate(timeout=60)
    (repo / "small.bin").write_bytes(b"small\n")
    # a stale lock would make this wait and then fail with a lock error
    lode("add", "small.bin", cwd=repo)


# ----------------------------------------------------------------------------- 8


def corrupt_one(repo: Path, victim: Path, *, keep_read_only: bool) -> tuple[Path, bytes, str]:
    """Overwrite the cache object of ``victim`` in place; return (object, bad bytes, md5)."""
    good = victim.read_bytes()
    obj = cache_path(repo, good)
    assert obj.is_file(), f"no cache object for {victim}"
    md5 = hashlib.md5(good).hexdigest()
    obj.chmod(0o644)
    bad = bytes(b ^ 0xFF for b in good)
    with open(obj, "r+b") as fh:  # in place: a hardlinked workspace file would see it too
        fh.write(bad)
    if keep_read_only:
        obj.chmod(0o444)
    return obj, bad, md5


@pytest.mark.parametrize("keep_read_only", [False, True], ids=["writable", "read-only"])
def test_cache_verify_names_corrupt_object(repo, lode, tree, keep_read_only):
    tree(repo / "datadir", 40, seed=41)
    lode("add", "datadir", cwd=repo)
    lode("cache", "verify", cwd=repo)
    victim = repo / "datadir" / "d05" / "d00" / "f00005.bin"
    obj, _bad, md5 = corrupt_one(repo, victim, keep_read_only=keep_read_only)

    proc = lode("cache", "verify", cwd=repo, check=False)
    assert proc.returncode != 0, proc
    assert_no_traceback(proc)
    report = proc.stdout + proc.stderr
    assert md5 in report or md5[2:] in report or str(obj) in report, report
    # exactly one object is named as corrupt: none of the good ones
    for other in (repo / "datadir").rglob("*.bin"):
        if other != victim:
            other_md5 = hashlib.md5(other.read_bytes()).hexdigest()
            assert other_md5[2:] not in report, f"{other} named corrupt: {report}"


def test_checkout_does_not_link_out_corrupt_object(repo, lode, tree):
    tree(repo / "datadir", 40, seed=42)
    (repo / "data.bin").write_bytes(b"good bytes\n" * 50)
    lode("add", "datadir", "data.bin", cwd=repo)
    victim = repo / "datadir" / "d05" / "d00" / "f00005.bin"
    _obj, bad, md5 = corrupt_one(repo, victim, keep_read_only=False)
    _obj2, bad2, md5_2 = corrupt_one(repo, repo / "data.bin", keep_read_only=False)

    shutil.rmtree(repo / "datadir")
    (repo / "data.bin").unlink()
    proc = lode("checkout", cwd=repo, check=False)
    assert proc.returncode != 0, f"checkout of a corrupt object succeeded: {proc}"
    assert_no_traceback(proc)
    assert "ERROR:" in proc.stderr, proc.stderr
    report = proc.stdout + proc.stderr
    assert md5 in report or "f00005.bin" in report, report
    assert md5_2 in report or "data.bin" in report, report
    for path, wrong in ((victim, bad), (repo / "data.bin", bad2)):
        assert not path.exists() or path.read_bytes() != wrong, f"{path} got corrupt bytes"


def test_cache_objects_are_read_only(repo, lode):
    """After add, cache objects are read-only (0444) as DVC leaves them."""
    (repo / "data.bin").write_bytes(b"payload\n" * 100)
    lode("add", "data.bin", cwd=repo)
    obj = cache_path(repo, (repo / "data.bin").read_bytes())
    assert stat.S_IMODE(obj.stat().st_mode) == 0o444


def test_checkout_refuses_to_discard_unsaved_changes(repo, lode, tree):
    tree(repo / "datadir", 20, seed=51)
    (repo / "data.bin").write_bytes(b"committed\n")
    lode("add", "datadir", "data.bin", cwd=repo)
    edited = repo / "datadir" / "a.b"
    edited.unlink()
    edited.write_bytes(b"precious unsaved work\n")
    (repo / "data.bin").unlink()
    (repo / "data.bin").write_bytes(b"also unsaved\n")

    proc = lode("checkout", cwd=repo, check=False)
    assert proc.returncode != 0, proc
    assert_no_traceback(proc)
    assert "ERROR:" in proc.stderr and "--force" in proc.stderr, proc.stderr
    assert edited.read_bytes() == b"precious unsaved work\n"
    assert (repo / "data.bin").read_bytes() == b"also unsaved\n"

    lode("checkout", "--force", cwd=repo)
    assert (repo / "data.bin").read_bytes() == b"committed\n"
    assert_clean(lode, repo)


def test_checkout_clears_what_a_killed_checkout_left(git_repo, lode):
    """A checkout killed while copying leaves its temporary sibling (`.NAME.PID-RAND.N.tmp`);
    the rerun, holding the repository lock, removes it beside a file output and inside a
    directory output, instead of leaving it untracked or refusing it as unsaved work."""
    lode("init", cwd=git_repo)
    (git_repo / "big.bin").write_bytes(b"b" * 1000)
    (git_repo / "data").mkdir()
    (git_repo / "data" / "a.txt").write_text("a\n")
    lode("add", "big.bin", "data", cwd=git_repo)
    (git_repo / "big.bin").unlink()
    (git_repo / "data" / "a.txt").unlink()
    left = [git_repo / ".big.bin.4242-0a1b2c3d.3.tmp",
            git_repo / "data" / ".a.txt.77-deadbeef.0.tmp"]
    for p in left:
        p.write_bytes(b"half")
    (git_repo / ".big.bin.notes.tmp").write_text("mine")  # not a name lode makes: kept
    lode("checkout", cwd=git_repo)
    assert not any(p.exists() for p in left)
    assert (git_repo / ".big.bin.notes.tmp").read_text() == "mine"
    assert (git_repo / "big.bin").read_bytes() == b"b" * 1000
    assert (git_repo / "data" / "a.txt").read_text() == "a\n"

"""Integrity that holds after the fact, through the real CLI: once `lode cache verify` has
named a corrupt object, no stat-cache row vouches for it any more, so no later checkout
links it out, status does not call its hardlinked copy clean, and push does not send it;
even when the damage kept the object's inode, size and mtime (what the rows compare)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

BIG = 5 << 20  # above lode.store.hashing.SMALL: checkout copies it and records a trusted row


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def obj(repo: Path, data: bytes) -> Path:
    h = md5(data)
    return repo / ".dvc" / "cache" / "files" / "md5" / h[:2] / h[2:]


def corrupt_keeping_stat(path: Path) -> bytes:
    """Flip the first byte in place (chmod u+w first, as a user would), then put the
    mtime back: inode, size and mtime_ns unchanged, so a stat row still matches."""
    st = os.stat(path)
    path.chmod(0o644)
    with open(path, "r+b") as f:
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 0xFF]))
    path.chmod(0o444)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == \
        (st.st_ino, st.st_size, st.st_mtime_ns)
    return path.read_bytes()


def one_error(proc) -> str:
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(errors) == 1, proc.stderr
    return errors[0]


def age(path: Path) -> None:
    """Older than the stat cache's racy window, as most data is."""
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))


@pytest.fixture
def repo(git_repo, lode):
    lode("init", cwd=git_repo)
    return git_repo


def verify_names(lode, repo: Path, data: bytes) -> None:
    proc = lode("cache", "verify", cwd=repo, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert md5(data) in proc.stderr and "corrupt" in proc.stderr


def test_copy_cache_checkout_refuses_what_verify_found_corrupt(repo, lode):
    data = b"small data\n" * 100
    (repo / "small.bin").write_bytes(data)
    lode("add", "small.bin", cwd=repo)
    o = obj(repo, data)
    o.chmod(0o644)
    o.write_bytes(b"X" + data[1:])  # chmod u+w then rewrite
    verify_names(lode, repo, data)
    (repo / "small.bin").unlink()
    error = one_error(lode("checkout", cwd=repo, check=False))
    assert "small.bin" in error and "corrupt" in error
    assert not (repo / "small.bin").exists()


def test_rows_written_before_the_damage_no_longer_vouch(repo, lode):
    data = os.urandom(BIG)
    big = repo / "big.bin"
    big.write_bytes(data)
    age(big)
    lode("add", "big.bin", cwd=repo)
    big.unlink()
    lode("checkout", cwd=repo)  # copies the object and records it as verified
    assert big.read_bytes() == data
    lode("cache", "verify", cwd=repo)  # vouches for every sound object too
    bad = corrupt_keeping_stat(obj(repo, data))
    verify_names(lode, repo, data)
    # a link type that trusts the stat cache instead of rehashing while it copies
    lode("config", "cache.type", "hardlink", cwd=repo)
    big.chmod(0o644)
    big.unlink()
    error = one_error(lode("checkout", cwd=repo, check=False))
    assert "big.bin" in error and "corrupt" in error
    assert not big.exists() or big.read_bytes() != bad
    proc = lode("checkout", "--force", cwd=repo, check=False)
    one_error(proc)
    assert not big.exists() or big.read_bytes() != bad


def test_a_hardlinked_copy_is_no_longer_called_clean_nor_pushed(repo, lode, tmp_path):
    lode("config", "cache.type", "hardlink", cwd=repo)
    data = b"model weights\n" * 1000
    model = repo / "model.bin"
    model.write_bytes(data)
    age(model)
    lode("add", "model.bin", cwd=repo)
    o = obj(repo, data)
    assert os.stat(o).st_ino == os.stat(model).st_ino  # the workspace file is the object
    assert "up to date" in lode("status", cwd=repo).stdout
    lode("cache", "verify", cwd=repo)
    corrupt_keeping_stat(o)
    verify_names(lode, repo, data)
    out = lode("status", cwd=repo).stdout
    assert "model.bin" in out and "modified" in out
    lode("remote", "add", "-d", "store", str(tmp_path / "remote"), cwd=repo)
    proc = lode("push", cwd=repo, check=False)  # one line per object, then the count
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert f"model.bin ({md5(data)}): corrupt" in proc.stderr
    assert not (tmp_path / "remote" / "files" / "md5" / md5(data)[:2] / md5(data)[2:]).exists()


def test_a_directory_whose_file_went_corrupt_is_rehashed(repo, lode):
    lode("config", "cache.type", "hardlink", cwd=repo)
    (repo / "data").mkdir()
    files = {f"f{i}.txt": f"file {i}\n".encode() * 50 for i in range(5)}
    for name, data in files.items():
        (repo / "data" / name).write_bytes(data)
        age(repo / "data" / name)
    age(repo / "data")
    lode("add", "data", cwd=repo)
    assert "up to date" in lode("status", cwd=repo).stdout  # the directory row vouches
    lode("cache", "verify", cwd=repo)
    corrupt_keeping_stat(obj(repo, files["f3.txt"]))
    verify_names(lode, repo, files["f3.txt"])
    out = lode("status", cwd=repo).stdout
    assert "data" in out and "modified" in out

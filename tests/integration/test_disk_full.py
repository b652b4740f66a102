"""A full disk during `lode add` and `lode checkout` of a large file (the path through
the threaded copy): "no space left" naming the file, a non-zero exit, no temporary file,
no partial object in the cache, the workspace file as it was.

The repository and its cache live on a small tmpfs of their own (root only)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from lode.store.hashing import SMALL
from tests.conftest import init_git_repo
from tests.integration.test_cli_errors import assert_user_error

SIZE = SMALL + (1 << 20)  # past SMALL: mapped, hashed here, written by a thread
DISK = 3 * SIZE  # room for the file, its cached copy, and a little more


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.fixture
def repo(small_disk, git, lode):
    root = init_git_repo(git, small_disk / "repo")
    lode("init", cwd=root)
    return root


def fill(directory: Path, leave: int) -> None:
    """Take all free space of the file system but `leave` bytes."""
    st = os.statvfs(directory)
    with open(directory / "filler", "wb") as f:
        f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))


def leftovers(root: Path) -> list[str]:
    return [os.path.join(d, n) for d, _, names in os.walk(root) for n in names
            if n.endswith(".tmp")]


def cached(root: Path) -> dict[str, bytes]:
    files = root / ".dvc" / "cache" / "files" / "md5"
    return {p.relative_to(files).as_posix().replace("/", ""): p.read_bytes()
            for p in files.rglob("*") if p.is_file()} if files.exists() else {}


def assert_sound_cache(root: Path) -> None:
    for name, data in cached(root).items():
        assert hashlib.md5(data).hexdigest() == name, f"partial object {name}"


def assert_no_space(proc, name: str) -> None:
    assert_user_error(proc, mentions="no space left")
    assert name in proc.stderr.splitlines()[0], proc.stderr
    assert "BufferError" not in proc.stderr and "unexpected" not in proc.stderr, proc.stderr


def test_add_on_a_full_disk(repo, lode):
    big = repo / "big.bin"
    data = os.urandom(SIZE)
    big.write_bytes(data)
    fill(repo, SIZE // 2)  # the cached copy cannot fit
    proc = lode("add", "big.bin", cwd=repo, check=False)
    assert_no_space(proc, ".dvc/cache")
    assert big.read_bytes() == data
    assert not (repo / "big.bin.dvc").exists()
    assert not cached(repo) and not leftovers(repo)
    (repo / "filler").unlink()
    lode("add", "big.bin", cwd=repo)  # with room again, it goes through
    assert_sound_cache(repo) and cached(repo)


@pytest.mark.parametrize("force", [False, True], ids=["missing", "over-a-modified-file"])
def test_checkout_on_a_full_disk(repo, lode, force):
    big = repo / "big.bin"
    big.write_bytes(os.urandom(SIZE))
    lode("add", "big.bin", cwd=repo)
    if force:  # another version in the workspace: it must survive the failed checkout
        mine = os.urandom(SIZE)
        big.unlink()
        big.write_bytes(mine)
    else:
        big.unlink()
    fill(repo, SIZE // 2)
    args = ["checkout", "--force", "big.bin"] if force else ["checkout", "big.bin"]
    proc = lode(*args, cwd=repo, check=False)
    assert_no_space(proc, "big.bin")
    assert not leftovers(repo)
    assert_sound_cache(repo)
    if force:
        assert big.read_bytes() == mine
    else:
        assert not big.exists()

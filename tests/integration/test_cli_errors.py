"""User mistakes: non-zero exit, one `ERROR:` line, no traceback, nothing half-written."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

import lode as lode_pkg


def files_under(root: Path) -> dict[str, bytes]:
    """Every file of the repository outside .git/ and .dvc/tmp/ (lode's scratch space)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d != ".git"]
        if rel_dir == ".dvc":
            dirnames[:] = [d for d in dirnames if d != "tmp"]
        for name in filenames:
            p = Path(dirpath) / name
            out[p.relative_to(root).as_posix()] = p.read_bytes() if not p.is_symlink() else b"@"
    return out


def assert_user_error(proc, *, mentions: str | None = None) -> None:
    assert proc.returncode != 0, f"expected failure\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    assert lines[0].startswith("ERROR:"), proc.stderr
    if mentions is not None:
        assert mentions.lower() in proc.stderr.lower(), proc.stderr


@pytest.fixture
def repo(git_repo, lode):
    lode("init", cwd=git_repo)
    return git_repo


@pytest.fixture
def unchanged(repo):
    """Call at the end of a test: asserts no file of the repository was created or changed."""
    before = files_under(repo)

    def check():
        after = files_under(repo)
        assert sorted(after) == sorted(before), set(after) ^ set(before)
        changed = [k for k in before if after[k] != before[k]]
        assert not changed, changed

    return check


def test_version(lode, tmp_path):
    proc = lode("--version", cwd=tmp_path)
    assert re.fullmatch(r"lode \S+\n?", proc.stdout), proc.stdout
    assert proc.stdout.split()[1] == lode_pkg.__version__


def test_add_missing_path(repo, lode, unchanged):
    assert_user_error(lode("add", "nope.bin", cwd=repo, check=False), mentions="nope.bin")
    unchanged()


def test_add_outside_repo(repo, lode, unchanged):
    outside = repo.parent / "outside.bin"
    outside.write_bytes(b"outside\n")
    assert_user_error(lode("add", "../outside.bin", cwd=repo, check=False))
    assert_user_error(lode("add", str(outside), cwd=repo, check=False))
    assert not (repo.parent / "outside.bin.dvc").exists()
    unchanged()


@pytest.mark.parametrize("target", [".git/config", ".dvc/config", ".git", ".dvc"])
def test_add_internal_paths(repo, lode, unchanged, target):
    assert_user_error(lode("add", target, cwd=repo, check=False))
    unchanged()


def test_add_file_inside_tracked_directory(repo, lode, tree):
    tree(repo / "datadir", 20, seed=1)
    lode("add", "datadir", cwd=repo)
    before = files_under(repo)
    assert_user_error(lode("add", "datadir/a.b", cwd=repo, check=False), mentions="datadir")
    assert not (repo / "datadir" / "a.b.dvc").exists()
    assert files_under(repo) == before


def test_add_directory_containing_tracked_file(repo, lode):
    (repo / "outer").mkdir()
    (repo / "outer" / "inner.bin").write_bytes(b"inner\n")
    lode("add", "outer/inner.bin", cwd=repo)
    before = files_under(repo)
    assert_user_error(lode("add", "outer", cwd=repo, check=False), mentions="outer")
    assert not (repo / "outer.dvc").exists()
    assert files_under(repo) == before


@pytest.mark.parametrize(
    "text",
    [
        "outs: [: garbage\n",  # not YAML
        "outs: 5\n",  # YAML of the wrong shape
        "outs:\n- md5: 123\n  size: x\n",  # an out without a path
        "- just\n- a list\n",
    ],
    ids=["not-yaml", "outs-not-list", "out-without-path", "top-level-list"],
)
def test_malformed_pointer_then_status(repo, lode, text):
    (repo / "bad.dvc").write_text(text)
    proc = lode("status", cwd=repo, check=False)
    assert_user_error(proc, mentions="bad.dvc")
    assert (repo / "bad.dvc").read_text() == text
    proc = lode("status", "--json", cwd=repo, check=False)
    assert_user_error(proc, mentions="bad.dvc")


def test_init_twice(repo, lode, unchanged):
    assert_user_error(lode("init", cwd=repo, check=False))
    unchanged()
    lode("init", "-f", cwd=repo)
    assert (repo / ".dvc" / "config").is_file()


def test_init_outside_git(tmp_path, lode):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert_user_error(lode("init", cwd=plain, check=False), mentions="git")
    assert not (plain / ".dvc").exists()
    assert not (plain / ".dvcignore").exists()
    lode("init", "--no-scm", cwd=plain)
    assert (plain / ".dvc" / "config").is_file()


def test_status_outside_any_repo(tmp_path, lode):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert_user_error(lode("status", cwd=plain, check=False))
    assert_user_error(lode("add", "x", cwd=plain, check=False))
    assert list(plain.iterdir()) == []


def test_add_when_cache_cannot_be_written(repo, lode):
    """The cache location is a file: add fails with a clear message and leaves no pointer."""
    (repo / "data.bin").write_bytes(b"data\n" * 10)
    shutil.rmtree(repo / ".dvc" / "cache", ignore_errors=True)
    (repo / ".dvc" / "cache").write_text("not a directory\n")
    proc = lode("add", "data.bin", cwd=repo, check=False)
    assert_user_error(proc)
    assert not (repo / "data.bin.dvc").exists()
    assert (
        not (repo / ".gitignore").exists() or "/data.bin" not in (repo / ".gitignore").read_text()
    )
    assert (repo / "data.bin").read_bytes() == b"data\n" * 10


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0555 directory anyway")
def test_add_in_read_only_directory(repo, lode):
    sub = repo / "ro"
    sub.mkdir()
    (sub / "data.bin").write_bytes(b"data\n")
    sub.chmod(0o555)
    try:
        proc = lode("add", "ro/data.bin", cwd=repo, check=False)
        assert_user_error(proc)
        assert not (sub / "data.bin.dvc").exists()
    finally:
        sub.chmod(0o755)


def test_bad_config_value(repo, lode):
    lode("config", "cache.type", "teleport", cwd=repo, check=False)
    (repo / "data.bin").write_bytes(b"data\n")
    # either config refused the value, or add refuses to run with it
    if "teleport" in (repo / ".dvc" / "config").read_text():
        assert_user_error(lode("add", "data.bin", cwd=repo, check=False), mentions="cache.type")
        assert not (repo / "data.bin.dvc").exists()


@pytest.mark.parametrize("name", ["cache.tpye", "core.nonsense", "foo.bar"])
def test_config_rejects_unknown_option(repo, lode, unchanged, name):
    """DVC refuses to load a config with unknown keys, so lode must not write one."""
    assert_user_error(lode("config", name, "copy", cwd=repo, check=False), mentions=name)
    unchanged()


def test_checkout_with_objects_missing_from_cache(repo, lode, tree):
    tree(repo / "datadir", 10, seed=2)
    (repo / "data.bin").write_bytes(b"data\n")
    lode("add", "datadir", "data.bin", cwd=repo)
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / "datadir")
    (repo / "data.bin").unlink()
    proc = lode("checkout", cwd=repo, check=False)
    assert_user_error(proc, mentions="data.bin")
    assert "datadir" in proc.stderr
    assert not (repo / "data.bin").exists()


def test_verbose_failure_still_fails(repo, lode):
    proc = lode("add", "-v", "nope.bin", cwd=repo, check=False)
    assert proc.returncode != 0
    assert "ERROR:" in proc.stderr  # a traceback may come with it under -v
    quiet = lode("add", "-q", "nope.bin", cwd=repo, check=False)
    assert quiet.returncode != 0
    assert "Traceback" not in quiet.stderr

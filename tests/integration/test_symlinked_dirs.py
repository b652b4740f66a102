"""A symbolic link to a directory inside a tracked directory, through the real CLI: `lode
add` leaves it out of the manifest exactly as the real `dvc add` does (both tools compute
the same `.dir` md5), and neither checkout nor pull ever writes through such a link, even
with --force: the link is named and nothing lands where it points."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def dir_md5(pointer: Path) -> str:
    return next(line.split()[-1] for line in pointer.read_text().splitlines() if "md5:" in line)


def populate(data: Path, outside: Path) -> None:
    (data / "sub").mkdir(parents=True)
    (data / "top.txt").write_text("top\n")
    (data / "sub" / "x.txt").write_text("x\n")
    outside.mkdir(exist_ok=True)
    (outside / "elsewhere.txt").write_text("not the dataset's\n")
    os.symlink(outside, data / "outside-link")  # a directory elsewhere on the machine
    os.symlink("sub", data / "inside-link")  # a directory of the dataset itself
    os.symlink(os.path.join("sub", "x.txt"), data / "file-link")  # a file: followed


def listing(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.dvc
def test_add_leaves_a_directory_link_out_as_dvc_does(make_git_repo, lode, dvc, tmp_path):
    ours, theirs = make_git_repo(tmp_path / "ours"), make_git_repo(tmp_path / "theirs")
    lode("init", cwd=ours)
    dvc("init", "-q", cwd=theirs)
    populate(ours / "data", tmp_path / "outside")
    populate(theirs / "data", tmp_path / "outside")
    lode("add", "data", cwd=ours)
    dvc("add", "data", cwd=theirs)
    assert dir_md5(ours / "data.dvc") == dir_md5(theirs / "data.dvc")
    assert (ours / "data.dvc").read_text() == (theirs / "data.dvc").read_text()
    assert "nfiles: 3" in (ours / "data.dvc").read_text()  # top, sub/x and the file link
    assert dvc("status", cwd=ours).returncode == 0
    assert "up to date" in dvc("status", cwd=ours).stdout


@pytest.fixture
def tracked(git_repo, lode, git, tmp_path):
    """data/sub/x.txt tracked and pushed; then data/sub replaced by a link to a directory
    outside the repository."""
    repo = git_repo
    lode("init", cwd=repo)
    (repo / "data" / "sub").mkdir(parents=True)
    (repo / "data" / "top.txt").write_text("top\n")
    (repo / "data" / "sub" / "x.txt").write_text("x\n")
    lode("add", "data", cwd=repo)
    lode("remote", "add", "-d", "store", str(tmp_path / "remote"), cwd=repo)
    lode("push", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "data", cwd=repo)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "mine.txt").write_text("someone else's\n")
    shutil.rmtree(repo / "data" / "sub")
    os.symlink(outside, repo / "data" / "sub")
    return repo, outside


def assert_refused_naming_the_link(proc, outside: Path, before: dict[str, bytes]) -> None:
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(errors) == 1, proc.stderr
    assert os.path.join("data", "sub") in errors[0] and "link" in errors[0], errors[0]
    assert listing(outside) == before
    assert sorted(os.listdir(outside)) == ["mine.txt"]


@pytest.mark.parametrize("args", [["checkout"], ["checkout", "--force"], ["checkout", "data"],
                                  ["checkout", "--relink"]])
def test_checkout_never_writes_through_a_directory_link(tracked, lode, args):
    repo, outside = tracked
    before = listing(outside)
    assert_refused_naming_the_link(lode(*args, cwd=repo, check=False), outside, before)
    assert os.path.islink(repo / "data" / "sub")


@pytest.mark.parametrize("force", [False, True])
def test_pull_never_writes_through_a_directory_link(tracked, lode, force):
    repo, outside = tracked
    shutil.rmtree(repo / ".dvc" / "cache")  # pull must fetch, then check out
    before = listing(outside)
    proc = lode("pull", *(["--force"] if force else []), cwd=repo, check=False)
    assert_refused_naming_the_link(proc, outside, before)
    assert os.path.islink(repo / "data" / "sub")

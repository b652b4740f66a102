"""Workspace behaviour a DVC user relies on, through the real CLI: the stat cache,
re-adding, progress output, checkout of one history step."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def repo(git_repo, lode):
    lode("init", cwd=git_repo)
    return git_repo


def _overwrite_keeping_stat(path, data: bytes) -> None:
    """New bytes, same inode, size and mtime_ns: invisible to a stat cache."""
    st = os.stat(path)
    assert len(data) == st.st_size
    with open(path, "r+b") as f:
        f.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_ino == st.st_ino


def test_re_add_of_unchanged_data_rereads_and_rewrites_nothing(repo, lode, tree):
    tree(repo / "data", 300, seed=3)
    (repo / "model.bin").write_bytes(b"m" * 1000)
    old = 1_000_000_000  # files older than the racy window, as most data is
    for dirpath, _, files in os.walk(repo):
        for f in files:
            os.utime(os.path.join(dirpath, f), ns=(old, old))
    lode("add", "data", "model.bin", cwd=repo)
    pointers = {p: (repo / p).read_bytes() for p in ("data.dvc", "model.bin.dvc")}
    mtimes = {p: os.stat(repo / p).st_mtime_ns for p in pointers}
    # Change bytes behind the stat cache's back: a tool that rereads would see them.
    _overwrite_keeping_stat(repo / "model.bin", b"x" * 1000)
    victim = next(p for p in sorted((repo / "data").rglob("*")) if p.is_file() and p.stat().st_size)
    _overwrite_keeping_stat(victim, bytes(victim.stat().st_size))
    out = lode("add", "data", "model.bin", cwd=repo).stdout
    assert "Unchanged data" in out and "Unchanged model.bin" in out
    for p, data in pointers.items():
        assert (repo / p).read_bytes() == data
        assert os.stat(repo / p).st_mtime_ns == mtimes[p]  # not even rewritten
    assert "up to date" in lode("status", cwd=repo).stdout


def test_status_sees_a_changed_file_of_the_same_size(repo, lode, tree):
    tree(repo / "data", 50, seed=4)
    lode("add", "data", cwd=repo)
    victim = next(p for p in sorted((repo / "data").rglob("*")) if p.is_file() and p.stat().st_size)
    tmp = victim.with_name(victim.name + ".new")
    tmp.write_bytes(bytes(victim.stat().st_size))
    os.replace(tmp, victim)  # new inode, as editors and the benchmark do
    assert lode("status", "--json", cwd=repo).stdout.strip() == (
        '{"data.dvc": [{"changed outs": {"data": "modified"}}]}'
    )
    assert lode("status", "-q", cwd=repo, check=False).returncode == 1


def test_no_progress_bar_when_not_a_terminal(repo, lode, tree):
    tree(repo / "data", 2500, seed=5, fanout=5, depth=1)
    proc = lode("add", "data", cwd=repo)
    assert proc.stderr == ""  # bars go to a terminal only


def test_empty_directory_and_empty_files(repo, lode):
    d = repo / "d"
    (d / "empty_dir").mkdir(parents=True)
    (d / "sub").mkdir()
    (d / "sub" / "zero").write_bytes(b"")
    lode("add", "d", cwd=repo)
    text = (repo / "d.dvc").read_text()
    assert "nfiles: 1" in text and "size: 0" in text
    import shutil

    shutil.rmtree(d)
    lode("checkout", cwd=repo)
    assert (d / "sub" / "zero").read_bytes() == b""


@pytest.mark.dvc
def test_dvc2_entries_status_and_checkout(repo, lode, dvc):
    """A pointer from DVC 2.x (no `hash:`, md5-dos2unix, legacy cache layout)."""
    import hashlib

    crlf = b"l1\r\nl2\r\n"
    legacy_md5 = hashlib.md5(b"l1\nl2\n").hexdigest()  # what dos2unix hashing gives
    assert legacy_md5 == "a8be9e797e0f7e75b498d90413d9a7ad"
    (repo / "crlf.txt").write_bytes(crlf)
    (repo / "crlf.txt.dvc").write_text(f"outs:\n- md5: {legacy_md5}\n  size: 8\n  path: crlf.txt\n")
    obj = repo / ".dvc" / "cache" / legacy_md5[:2] / legacy_md5[2:]
    assert lode("status", "--json", cwd=repo).stdout.strip() == (
        '{"crlf.txt.dvc": [{"changed outs": {"crlf.txt": "not in cache"}}]}'
    )
    obj.parent.mkdir(parents=True)
    obj.write_bytes(crlf)
    os.chmod(obj, 0o444)
    assert lode("status", "--json", cwd=repo).stdout.strip() == "{}"
    assert dvc("status", "--json", cwd=repo).stdout.strip() == "{}"
    (repo / "crlf.txt").unlink()
    lode("checkout", cwd=repo)
    assert (repo / "crlf.txt").read_bytes() == crlf
    assert lode("status", "--json", cwd=repo).stdout.strip() == "{}"


def test_progress_bar_on_a_terminal(repo, lode, tree):
    """On a terminal, long work draws a bar on stderr (and only there)."""
    import fcntl
    import pty
    import select
    import struct
    import subprocess
    import sys
    import termios
    import time

    tree(repo / "data", 2500, seed=6, fanout=5, depth=1)
    master, slave = pty.openpty()
    # a real terminal has a size; a bare pty has 0 columns, into which no bar fits
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "lode", "add", "data"],
        cwd=repo, env=lode.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
    )
    os.close(slave)
    drawn = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    drawn += os.read(master, 65536)
                except OSError:  # EIO: the terminal's other side is closed
                    break
            elif proc.poll() is not None:
                break
        out = proc.communicate(timeout=10)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert proc.returncode == 0
    assert b"Hashing data" in drawn and b"2500" in drawn, drawn[-300:]
    assert b"Hashing" not in out

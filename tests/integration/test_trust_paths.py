"""Untrusted paths and hashes, tried as an attacker would, through the real CLI: a
teammate's commit (pointers, dvc.yaml, dvc.lock), a data remote anyone can write to
(manifests, run-cache entries), symbolic links committed or swapped in. Every case ends
with one ERROR line, a non-zero exit, and nothing written outside the workspace, into
.git, or sent to the remote."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def repo(git_repo, lode, tmp_path):
    lode("init", cwd=git_repo)
    store = tmp_path / "store"
    lode("remote", "add", "-d", "store", str(store), cwd=git_repo)
    return git_repo


@pytest.fixture
def outside(tmp_path):
    d = tmp_path / "outside"
    d.mkdir()
    return d


def _refused(proc, *words: str) -> str:
    err = proc.stderr
    assert proc.returncode != 0, proc.stdout + err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("ERROR:")]
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def _put_object(store, data: bytes, suffix: str = "") -> str:
    md5 = _md5(data) + suffix
    path = store / "files" / "md5" / md5[:2] / md5[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return md5


def _files_under(d) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")}


def _git_state(repo) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes()
            for p in (repo / ".git").rglob("*") if p.is_file() and "objects" not in p.parts}


# --------------------------------------------------------------------------- pointers

@pytest.mark.parametrize("path", ["../outside/x", "../../x", "/tmp/x-abs",
                                  ".git/hooks/post-checkout", "sub/../.git/config",
                                  ".dvc/config", ".", "a\x00b"])
def test_a_pointer_path_leading_out_is_refused_by_pull_checkout_and_status(
        repo, lode, outside, tmp_path, path):
    store = tmp_path / "store"
    md5 = _put_object(store, b"#!/bin/sh\necho owned > /tmp/lode-owned\n")
    out = {"md5": md5, "hash": "md5", "path": path}
    (repo / "evil.dvc").write_text(json.dumps({"outs": [out]}))
    before = _git_state(repo)
    for cmd in (["pull"], ["checkout", "--force"], ["status"], ["fetch"]):
        _refused(lode(*cmd, cwd=repo, check=False), "evil.dvc")
    assert _files_under(outside) == set()
    assert _git_state(repo) == before
    assert not os.path.exists("/tmp/x-abs")


def test_a_pointer_md5_that_is_a_path_is_never_read_nor_uploaded(repo, lode, tmp_path):
    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key = hunter2\n")
    rel = os.path.relpath(secret, repo / ".dvc" / "cache" / "files" / "md5" / "xx")
    (repo / "x.dvc").write_text(f"outs:\n- md5: xx{rel}\n  hash: md5\n  path: x\n")
    _refused(lode("push", cwd=repo, check=False), "x.dvc", "not an md5")
    store = tmp_path / "store"
    assert not store.exists() or not any(p.is_file() for p in store.rglob("*"))


@pytest.mark.parametrize("md5", ["0" * 31, "A" * 32, "g" * 32, "12", "[1, 2]", "{a: 1}", "1e5"])
def test_a_malformed_md5_is_a_sentence_naming_the_file(repo, lode, md5):
    (repo / "x.dvc").write_text(f"outs:\n- md5: {md5}\n  path: x\n")
    _refused(lode("checkout", cwd=repo, check=False), "x.dvc")


def test_two_pointers_tracking_the_same_path_are_refused(repo, lode):
    (repo / "data").write_text("x")
    lode("add", "data", cwd=repo)
    shutil.copy(repo / "data.dvc", repo / "other.dvc")
    _refused(lode("checkout", cwd=repo, check=False), "data", "other.dvc")


# --------------------------------------------------------------------------- manifests

def _dir_pointer(repo, store, entries: list[dict] | bytes, name: str = "data") -> str:
    data = entries if isinstance(entries, bytes) else json.dumps(entries).encode()
    md5 = _put_object(store, data, ".dir")
    (repo / f"{name}.dvc").write_text(f"outs:\n- md5: {md5}\n  hash: md5\n  path: {name}\n")
    return md5


@pytest.mark.parametrize("relpath", ["../../outside/pwned", "../.git/hooks/post-checkout",
                                     "/tmp/lode-abs-pwned", "a/../../x", "sub//x", "./x",
                                     ".git/config", "x\x00y", ""])
def test_a_manifest_entry_leading_out_is_refused_before_anything_is_written(
        repo, lode, outside, tmp_path, relpath):
    store = tmp_path / "store"
    payload = b"#!/bin/sh\necho owned\n"
    good = _put_object(store, b"fine\n")
    bad = _put_object(store, payload)
    _dir_pointer(repo, store, [{"md5": good, "relpath": "a.txt"},
                               {"md5": bad, "relpath": relpath}])
    before = _git_state(repo)
    for cmd in (["pull"], ["checkout", "--force"]):
        _refused(lode(*cmd, cwd=repo, check=False), "manifest")
    assert _files_under(outside) == set()
    assert _git_state(repo) == before
    assert not (repo / "data").exists()  # refused whole: not even the good file
    assert not os.path.exists("/tmp/lode-abs-pwned")


@pytest.mark.parametrize("doc", [
    b'{"md5": "x", "relpath": "y"}',  # not a list
    b"[" * 200_000 + b"]" * 200_000,  # nested 200,000 deep
    b'[{"md5": 5, "relpath": "a"}]',
    b'[{"md5": "' + b"a" * 32 + b'.dir", "relpath": "a"}]',  # a file entry naming a directory
    b'[{"relpath": ["a"], "md5": "' + b"a" * 32 + b'"}]',
    b"\xff\xfe not json",
    b"[1, 2, 3]",
])
def test_a_malformed_manifest_is_a_sentence(repo, lode, tmp_path, doc):
    _dir_pointer(repo, tmp_path / "store", doc)
    _refused(lode("pull", cwd=repo, check=False), "manifest")


@pytest.mark.parametrize("entries", [
    [("a", "x"), ("a", "y")],  # twice
    [("a", "x"), ("a/b", "y")],  # a file and a directory
])
def test_duplicates_and_file_directory_clashes_are_refused(repo, lode, tmp_path, entries):
    store = tmp_path / "store"
    objs = {tag: _put_object(store, tag.encode() * 3) for tag in ("x", "y")}
    _dir_pointer(repo, store, [{"md5": objs[m], "relpath": r} for r, m in entries])
    _refused(lode("pull", cwd=repo, check=False), "manifest")


# --------------------------------------------------------------------------- symlinks

def _add_dir(repo, lode, git):
    (repo / "data" / "sub").mkdir(parents=True)
    (repo / "data" / "sub" / "x").write_text("x\n")
    (repo / "data" / "y").write_text("y\n")
    lode("add", "data", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "data", cwd=repo)


def test_a_tracked_directory_replaced_by_a_link_is_refused_even_with_force(
        repo, lode, git, outside):
    _add_dir(repo, lode, git)
    shutil.rmtree(repo / "data")
    os.symlink(outside, repo / "data")
    for cmd in (["checkout"], ["checkout", "--force"], ["pull", "--force"]):
        _refused(lode(*cmd, cwd=repo, check=False), "'data'", "symbolic link")
    assert _files_under(outside) == set()


def test_a_committed_link_above_an_output_is_refused(repo, lode, git, outside):
    (repo / "real").mkdir()
    (repo / "real" / "model.bin").write_text("m\n")
    lode("add", "real/model.bin", cwd=repo)
    text = (repo / "real" / "model.bin.dvc").read_text().replace("path: model.bin",
                                                                   "path: link/model.bin")
    (repo / "evil.dvc").write_text(text)
    (repo / "real" / "model.bin.dvc").unlink()
    os.symlink(outside, repo / "link")
    _refused(lode("checkout", "--force", cwd=repo, check=False), "'link'", "symbolic link")
    assert _files_under(outside) == set()


def test_a_directory_inside_an_output_replaced_by_a_link_is_refused(repo, lode, git, outside):
    _add_dir(repo, lode, git)
    shutil.rmtree(repo / "data" / "sub")
    os.symlink(outside, repo / "data" / "sub")
    _refused(lode("checkout", "--force", cwd=repo, check=False), "data/sub", "symbolic link")
    assert _files_under(outside) == set()


# --------------------------------------------------------------------------- pipelines

@pytest.mark.parametrize("out", ["../outside/o", ".git/hooks/pre-commit", ".dvc/config",
                                 "/tmp/lode-abs-out"])
def test_a_stage_output_leading_out_is_refused_before_anything_runs(repo, lode, outside, out):
    marker = repo / "ran"
    (repo / "dvc.yaml").write_text(json.dumps({"stages": {"s": {
        "cmd": f"touch {marker}", "outs": [out]}}}))
    for cmd in (["repro"], ["status"], ["checkout"]):
        _refused(lode(*cmd, cwd=repo, check=False), "dvc.yaml")
    assert not marker.exists()
    assert _files_under(outside) == set()


def test_a_params_file_outside_the_repository_is_never_recorded(repo, lode, tmp_path):
    (tmp_path / "secret.yaml").write_text("token: hunter2\n")
    (repo / "dvc.yaml").write_text(json.dumps({"stages": {"s": {
        "cmd": "echo hi", "params": [{"../secret.yaml": ["token"]}]}}}))
    _refused(lode("repro", cwd=repo, check=False), "params file", "outside")
    assert not (repo / "dvc.lock").exists()


def test_a_lock_file_with_a_bad_md5_is_a_sentence(repo, lode):
    (repo / "dvc.yaml").write_text(json.dumps({"stages": {"s": {"cmd": "echo hi > o",
                                                                  "outs": ["o"]}}}))
    (repo / "dvc.lock").write_text("schema: '2.0'\nstages:\n  s:\n    cmd: echo hi > o\n"
                                   "    outs:\n    - path: o\n      hash: md5\n"
                                   "      md5: ../../../../etc/passwd\n")
    for cmd in (["checkout"], ["push"], ["status"]):
        _refused(lode(*cmd, cwd=repo, check=False), "dvc.lock")


def test_a_stage_output_dir_replaced_by_a_link_is_not_deleted_through(repo, lode, outside):
    (outside / "precious").write_text("keep me\n")
    (repo / "dvc.yaml").write_text(json.dumps({"stages": {"s": {
        "cmd": "mkdir -p d/sub && echo x > d/sub/f", "outs": ["d/sub"]}}}))
    os.symlink(outside, repo / "d")
    _refused(lode("repro", cwd=repo, check=False), "'d'", "symbolic link")
    assert (outside / "precious").read_text() == "keep me\n"


# --------------------------------------------------------------------------- run cache

def _pipeline(repo, lode, git):
    (repo / "in.txt").write_text("1\n")
    (repo / "dvc.yaml").write_text(json.dumps({"stages": {"s": {
        "cmd": "cp in.txt out.txt", "deps": ["in.txt"], "outs": ["out.txt"]}}}))
    lode("repro", cwd=repo)


def _entries(repo):
    return [p for p in (repo / ".dvc" / "cache" / "runs").rglob("*") if p.is_file()]


def test_a_forged_run_cache_entry_is_not_used(repo, lode, git):
    _pipeline(repo, lode, git)
    (entry,) = _entries(repo)
    forged = entry.read_text().replace("path: out.txt", "path: ../../outside.txt")
    os.chmod(entry, 0o644)
    entry.write_text(forged)  # content no longer hashes to its name
    (repo / "out.txt").unlink()
    (repo / "dvc.lock").unlink()
    out = lode("repro", cwd=repo).stdout
    assert "Running stage 's'" in out or "ran" in out.lower(), out
    assert (repo / "out.txt").read_text() == "1\n"
    assert not (repo.parent / "outside.txt").exists()


def test_a_remote_run_cache_key_that_is_a_path_is_ignored(repo, lode, git, tmp_path):
    _pipeline(repo, lode, git)
    lode("push", "--run-cache", cwd=repo)
    store = tmp_path / "store"
    (entry,) = [p for p in (store / "runs").rglob("*") if p.is_file()]
    evil = store / "runs" / ".." / "runs-evil"
    evil.mkdir(parents=True)
    shutil.copy(entry, evil / entry.name)
    bad_dir = store / "runs" / "zz" / ("z" * 64)
    bad_dir.mkdir(parents=True)
    (bad_dir / "not-a-hash").write_text("outs: []\n")
    shutil.rmtree(repo / ".dvc" / "cache")
    lode("pull", "--run-cache", cwd=repo)
    runs = repo / ".dvc" / "cache" / "runs"
    assert {p.name for p in runs.rglob("*") if p.is_file()} == {entry.name}


@pytest.mark.parametrize("vars_", ["../secret.yaml", "/dev/zero", "link.yaml"])
def test_vars_from_outside_the_repository_never_reach_cmd_or_the_lock(repo, lode, tmp_path,
                                                                     vars_):
    (tmp_path / "secret.yaml").write_text("token: hunter2\n")
    os.symlink(tmp_path / "secret.yaml", repo / "link.yaml")
    (repo / "dvc.yaml").write_text(json.dumps({"vars": [vars_], "stages": {"s": {
        "cmd": "echo ${token} > o", "outs": ["o"]}}}))
    for cmd in (["repro"], ["status"]):
        proc = lode(*cmd, cwd=repo, check=False)
        _refused(proc, "outside the repository")
        assert "hunter2" not in proc.stdout + proc.stderr
    assert not (repo / "dvc.lock").exists() and not (repo / "o").exists()


def test_nothing_is_added_or_unprotected_through_a_linked_directory(repo, lode, outside):
    (outside / "x").write_text("x\n")
    os.symlink(outside, repo / "link")
    for cmd in (["add", "link/x"], ["unprotect", "link/x"]):
        _refused(lode(*cmd, cwd=repo, check=False), "'link'", "symbolic link")
    assert _files_under(outside) == {"x"}  # no x.dvc, no .gitignore written there

"""push / pull through the real CLI on an S3 server (moto) and an HTTP server, as a user
configures them: `remote add`, `remote modify endpointurl`, credentials from the environment."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.remotes.conftest import ENV
from tests.remotes.http_server import HTTPTestServer


@pytest.fixture
def repo(git_repo, lode, tree):
    lode("init", cwd=git_repo)
    tree(git_repo / "data", 5000, seed=11)
    (git_repo / "model.bin").write_bytes(b"model\n" * 5000)
    lode("add", "data", "model.bin", cwd=git_repo)
    return git_repo


def wipe(repo: Path) -> None:
    shutil.rmtree(repo / ".dvc" / "cache")
    shutil.rmtree(repo / "data")
    (repo / "model.bin").unlink()


def test_s3_round_trip(repo, lode, snapshot, s3_endpoint, s3_bucket):
    env = dict(ENV)
    lode("remote", "add", "-d", "s3r", f"s3://{s3_bucket}/store", cwd=repo)
    lode("remote", "modify", "s3r", "endpointurl", s3_endpoint, cwd=repo)
    before = snapshot(repo / "data")
    assert "5002 file(s) pushed" in lode("push", cwd=repo, env=env).stdout
    assert "0 file(s) pushed" in lode("push", cwd=repo, env=env).stdout
    assert "in sync" in lode("status", "-c", cwd=repo, env=env).stdout
    wipe(repo)
    assert json.loads(lode("status", "-c", "--json", cwd=repo, env=env).stdout)["model.bin"] \
        == "deleted"
    lode("pull", cwd=repo, env=env)
    assert snapshot(repo / "data") == before
    assert (repo / "model.bin").read_bytes() == b"model\n" * 5000
    # no credentials at all: one sentence, no traceback, no secret
    bad = lode("push", cwd=repo, env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
               check=False)
    assert "Traceback" not in bad.stderr


def test_http_round_trip_survives_a_stopped_server(repo, lode, snapshot, tmp_path):
    store = tmp_path / "http-store"
    store.mkdir()
    server = HTTPTestServer(store, fail_first=5).start()  # transient 500s are retried
    try:
        lode("remote", "add", "-d", "web", server.url, cwd=repo)
        lode("remote", "modify", "web", "method", "PUT", cwd=repo)
        before = snapshot(repo / "data")
        proc = lode.popen("push", cwd=repo)
        objects = store / "files" / "md5"
        while not objects.exists() or sum(1 for _ in objects.rglob("*")) < 1000:
            assert proc.poll() is None, proc.communicate()
        server.stop()  # mid-push
        out, err = proc.communicate(timeout=300)
        assert proc.returncode != 0 and "Traceback" not in err
    finally:
        server.stop()
    server = HTTPTestServer(store).start()
    try:
        lode("remote", "modify", "web", "url", server.url, cwd=repo)
        assert "pushed" in lode("push", cwd=repo).stdout  # the rerun completes it
        wipe(repo)
        lode("pull", cwd=repo)
        assert snapshot(repo / "data") == before
    finally:
        server.stop()

"""push / pull through the real CLI on an S3 server (moto) and an HTTP server, as a user
configures them: `remote add`, `remote modify endpointurl`, credentials from the environment."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.remotes.conftest import ENV, MotoServer, client
from tests.remotes.http_server import HTTPTestServer


@pytest.fixture
def repo(request, git_repo, lode, tree):
    """A repository with `data/` (5,000 files, or the test's `files` marker) and model.bin."""
    marker = request.node.get_closest_marker("files")
    lode("init", cwd=git_repo)
    tree(git_repo / "data", marker.args[0] if marker else 5000, seed=11)
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


# dvc-s3 (aiobotocore) refuses /dev/null as a config file: dvc gets only the keys
DVC_ENV = {k: v for k, v in ENV.items()
           if k.startswith(("AWS_ACCESS", "AWS_SECRET", "AWS_DEFAULT"))}


def s3_remote(lode, repo: Path, bucket: str, endpoint: str) -> None:
    lode("remote", "add", "-d", "s3r", f"s3://{bucket}/store", cwd=repo)
    lode("remote", "modify", "s3r", "endpointurl", endpoint, cwd=repo)


def key_of(data: bytes) -> str:
    h = hashlib.md5(data).hexdigest()
    return f"store/files/md5/{h[:2]}/{h[2:]}"


@pytest.mark.files(300)
def test_s3_corrupt_and_missing_objects_are_named_rest_pulled(repo, lode, s3_endpoint,
                                                               s3_bucket, s3_client):
    s3_remote(lode, repo, s3_bucket, s3_endpoint)
    lode("push", cwd=repo, env=ENV)
    model = b"model\n" * 5000
    s3_client.put_object(Bucket=s3_bucket, Key=key_of(model), Body=b"tampered")
    victim = next((repo / "data").rglob("*.bin"))
    s3_client.delete_object(Bucket=s3_bucket, Key=key_of(victim.read_bytes()))
    wipe(repo)
    proc = lode("pull", cwd=repo, env=ENV, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "corrupt on the remote" in proc.stderr and "model.bin" in proc.stderr
    assert "missing from the remote" in proc.stderr
    assert not (repo / "model.bin").exists()  # nothing unverified reaches cache or workspace
    cache = repo / ".dvc" / "cache" / "files" / "md5"
    assert sum(1 for p in cache.rglob("*") if p.is_file()) == 300  # 299 files + manifest


@pytest.mark.files(2000)
def test_s3_push_survives_a_stopped_server(repo, lode, snapshot, tmp_path):
    server = MotoServer(tmp_path / "moto.log")
    try:
        s3 = client("s3", server.url)
        s3.create_bucket(Bucket="stop")
        s3_remote(lode, repo, "stop", server.url)
        proc = lode.popen("push", "-j", "4", cwd=repo, env=ENV)
        deadline = time.monotonic() + 120
        while s3.list_objects_v2(Bucket="stop").get("KeyCount", 0) < 300:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        server.stop()  # mid-push
        _, err = proc.communicate(timeout=300)
        assert proc.returncode != 0 and "Traceback" not in err
    finally:
        server.stop()
    # moto keeps nothing across a restart: a new, empty server is the worst case
    server = MotoServer(tmp_path / "moto2.log")
    try:
        client("s3", server.url).create_bucket(Bucket="stop")
        lode("remote", "modify", "s3r", "endpointurl", server.url, cwd=repo)
        before = snapshot(repo / "data")
        assert "2002 file(s) pushed" in lode("push", cwd=repo, env=ENV).stdout
        wipe(repo)
        lode("pull", cwd=repo, env=ENV)
        assert snapshot(repo / "data") == before
    finally:
        server.stop()


@pytest.mark.files(300)
def test_s3_gc_cloud_removes_only_what_no_scope_keeps(repo, lode, git, s3_endpoint, s3_bucket,
                                                       s3_client):
    s3_remote(lode, repo, s3_bucket, s3_endpoint)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "v1", cwd=repo)
    git("tag", "v1", cwd=repo)
    lode("push", cwd=repo, env=ENV)
    model = repo / "model.bin"
    model.chmod(0o644)
    model.write_bytes(b"model v2\n")
    lode("add", "model.bin", cwd=repo)
    lode("push", cwd=repo, env=ENV)
    old, new = key_of(b"model\n" * 5000), key_of(b"model v2\n")

    def on_remote(key: str) -> bool:
        return s3_client.list_objects_v2(Bucket=s3_bucket, Prefix=key)["KeyCount"] == 1

    dry = lode("gc", "-w", "-c", "--dry", cwd=repo, env=ENV).stdout
    assert "1 on remote 's3r'" in dry and on_remote(old)
    lode("gc", "-T", "-c", "-f", cwd=repo, env=ENV)  # the tag still references the old model
    assert on_remote(old) and on_remote(new)
    # the directory's manifest gone from the cache: gc -c reads it from the remote
    shutil.rmtree(repo / ".dvc" / "cache")
    lode("gc", "-w", "-c", "-f", cwd=repo, env=ENV)
    assert not on_remote(old) and on_remote(new)
    pages = s3_client.get_paginator("list_objects_v2").paginate(Bucket=s3_bucket,
                                                                 Prefix="store/files/md5/")
    assert sum(p["KeyCount"] for p in pages) == 302  # the directory, its manifest, model v2
    shutil.rmtree(repo / "data")
    model.unlink()
    lode("pull", cwd=repo, env=ENV)
    assert model.read_bytes() == b"model v2\n" and len(list((repo / "data").rglob("*"))) >= 300


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


@pytest.mark.files(500)
def test_dvc_and_lode_pull_each_others_s3_pushes(repo, lode, dvc, snapshot, s3_endpoint,
                                                  s3_bucket):
    python = Path(dvc.argv[0]).parent / "python"
    if subprocess.run([python, "-c", "import dvc_s3"], capture_output=True).returncode:
        message = f"dvc-s3 is not installed beside {dvc.argv[0]} (pip install 'dvc[s3]')"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    s3_remote(lode, repo, s3_bucket, s3_endpoint)
    before = snapshot(repo / "data")
    lode("push", cwd=repo, env=ENV)
    wipe(repo)
    dvc("pull", cwd=repo, env=DVC_ENV)
    assert snapshot(repo / "data") == before
    assert (repo / "model.bin").read_bytes() == b"model\n" * 5000
    # and the other way round, under a fresh prefix
    lode("remote", "modify", "s3r", "url", f"s3://{s3_bucket}/by-dvc", cwd=repo)
    dvc("push", cwd=repo, env=DVC_ENV)
    wipe(repo)
    lode("pull", cwd=repo, env=ENV)
    assert snapshot(repo / "data") == before
    assert "in sync" in lode("status", "-c", cwd=repo, env=ENV).stdout
    assert "in sync" in dvc("status", "-c", cwd=repo, env=DVC_ENV).stdout


@pytest.mark.files(10)
def test_http_refuses_the_run_cache_before_moving_anything(repo, lode, tmp_path):
    with HTTPTestServer(tmp_path / "served") as server:
        lode("remote", "add", "-d", "web", server.url, cwd=repo)
        lode("remote", "modify", "web", "method", "PUT", cwd=repo)
        proc = lode("push", "--run-cache", cwd=repo, check=False)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert "cannot hold the run cache" in proc.stderr
        assert not (tmp_path / "served" / "files").exists()  # nothing was sent

"""A team recipe against an S3 data remote (moto's server on 127.0.0.1), and the real dvc
afterwards: the project lode's recipe published is one DVC reads as up to date."""

from __future__ import annotations

import subprocess

import pytest

from tests.remotes.conftest import ENV

pytest.importorskip("sklearn", reason="the churn pipeline needs the demo extra")


def _git(cwd, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.dvc
def test_compute_metrics_on_s3_then_a_clone_pulls_it_and_dvc_agrees(
        lode, git, dvc, tmp_path, s3_endpoint, s3_bucket, s3_client):
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    proj = tmp_path / "churn"
    lode("init", "--template", "churn", str(proj), "--git-remote", str(bare),
         "--data-remote", f"s3://{s3_bucket}/store", cwd=tmp_path, env=ENV)
    lode("remote", "modify", "storage", "endpointurl", s3_endpoint, cwd=proj)
    git("commit", "-q", "-am", "the team's S3 endpoint", cwd=proj)

    proc = lode("run", "compute_metrics", cwd=proj, env=ENV)
    assert "compute_metrics succeeded" in proc.stdout
    assert _git(bare, "rev-parse", "main") == _git(proj, "rev-parse", "HEAD")
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])]
    assert any(k.startswith("store/files/md5/") for k in keys)
    assert any(k.startswith("store/runs/") for k in keys)  # the run cache went up too
    # the real dvc sees nothing to do in the project lode's recipe left behind
    assert dvc("status", cwd=proj, env=ENV).stdout.strip() in (
        "Data and pipelines are up to date.", "")

    clone = tmp_path / "teammate"
    git("clone", "-q", str(bare), str(clone), cwd=tmp_path)
    lode("pull", cwd=clone, env=ENV)
    assert "up to date" in lode("status", cwd=clone, env=ENV).stdout
    assert (clone / "model.pkl").read_bytes() == (proj / "model.pkl").read_bytes()
    assert "didn't change" in dvc("repro", cwd=clone, env=ENV).stdout

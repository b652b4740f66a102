"""A real S3 server for the remote tests: moto's standalone server on 127.0.0.1.

- ``aws_env`` (autouse): the credentials moto takes (``testing``), nothing from ``~/.aws``.
- ``s3_endpoint``: the URL of one server shared by the session (started on first use).
- ``s3_bucket``: a fresh, empty bucket on it for one test.
- ``s3_client``: a plain boto3 client on it, to look behind the remote's back.
- ``moto_auth``: a second server that checks credentials, with one IAM user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

MOTO_CANDIDATES = (
    "~/.cache/lode-bench/venv/bin/moto_server",
    "~/.cache/lode-test/dvc-venv/bin/moto_server",
)
START_TIMEOUT = 30.0  # seconds; moto answers in about 0.5 s on this machine

ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
       "AWS_DEFAULT_REGION": "us-east-1",
       # nothing from the developer's ~/.aws, and no instance-metadata probing
       "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
       "AWS_EC2_METADATA_DISABLED": "true"}
UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


def moto_binary() -> str | None:
    beside = Path(sys.executable).parent / "moto_server"  # the interpreter's own first
    for cand in (str(beside) if beside.exists() else None, shutil.which("moto_server"),
                 *(os.path.expanduser(c) for c in MOTO_CANDIDATES)):
        if cand and os.path.exists(cand):
            return cand
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    def __init__(self, log: Path, env: dict[str, str] | None = None) -> None:
        binary = moto_binary()
        if binary is None:
            pytest.skip("moto_server not found (install it: python3 -m pip install "
                        "'moto[server]'); the S3 remote tests need a real server")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [binary, "-H", "127.0.0.1", "-p", str(self.port)], stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})})
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server exited ({self.proc.returncode}): "
                                   f"{self.log.read_text(errors='replace')[-2000:]}")
            try:
                # moto's own API: not an AWS action, so it counts against no auth budget
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"moto_server did not answer within {START_TIMEOUT:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def client(service: str, endpoint: str):
    """A boto3 client that needs nothing from the environment."""
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(max_pool_connections=32))


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    for k in UNSET:
        monkeypatch.delenv(k, raising=False)


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto_server.log")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str):
    s3 = client("s3", s3_endpoint)
    yield s3
    s3.close()


@pytest.fixture
def s3_bucket(s3_client) -> Iterator[str]:
    name = f"lode-test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    yield name
    # emptied and dropped so the session's server does not slow down as tests add up
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=name):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
        if keys:
            s3_client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
    s3_client.delete_bucket(Bucket=name)


class AuthServer:
    """A moto server that checks signatures; `key_id`/`secret` belong to a user with no
    policy, in whose name `bucket` was made."""

    def __init__(self, server: MotoServer) -> None:
        self.url = server.url
        iam = client("iam", self.url)
        iam.create_user(UserName="lode")
        key = iam.create_access_key(UserName="lode")["AccessKey"]
        self.key_id, self.secret = key["AccessKeyId"], key["SecretAccessKey"]
        self.bucket = "lode-auth"
        client("s3", self.url).create_bucket(Bucket=self.bucket)


@pytest.fixture(scope="session")
def moto_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    # The first 3 AWS actions go unchecked: they make the user, its key and the bucket.
    server = MotoServer(tmp_path_factory.mktemp("moto-auth") / "moto_server.log",
                        env={"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    try:
        yield AuthServer(server)
    finally:
        server.stop()

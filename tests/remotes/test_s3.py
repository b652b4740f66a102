"""S3Remote against a real S3 server (moto's standalone server, see conftest.py).

Conformance first (round trip, existence, listing, delete, missing objects), then the
failures a user meets: a server that is down or silent, a missing bucket, refused
credentials (whose values must never show), and a file large enough for multipart.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from lode_plugins.remotes import s3 as s3mod
from lode_plugins.remotes.s3 import S3Remote

from lode.plugins.remote import RemoteError, RemoteMissing, TransientError, object_key, plugin_for
from lode.testing.remote import RemoteContract, open_remote

from .conftest import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def key_of(data: bytes) -> str:
    return object_key(hashlib.md5(data).hexdigest())


def keys_for(tag: str, n: int) -> list[str]:
    return [key_of(f"{tag}{i}".encode()) for i in range(n)]


def put_many(client, bucket: str, keys: list[str], root: str = "store/") -> None:
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: client.put_object(Bucket=bucket, Key=root + k, Body=b"x"),
                      keys))


def count_requests(remote: S3Remote) -> Counter:
    """S3 operations the remote sends from now on, counted by botocore's own events."""
    calls: Counter = Counter()
    lock = threading.Lock()

    def seen(model, **_) -> None:
        with lock:
            calls[model.name] += 1

    remote._s3.meta.events.register("before-call.s3", seen)
    return calls


class TestContract(RemoteContract):
    """The remote contract (lode.testing.remote) against moto's standalone server."""

    @pytest.fixture
    def remote(self, s3_endpoint: str, s3_bucket: str):
        r = open_remote(f"s3://{s3_bucket}/store", {"endpointurl": s3_endpoint})
        yield r
        r.close()


@pytest.fixture
def make_remote(s3_endpoint: str, s3_bucket: str):
    made: list[S3Remote] = []

    def make(url: str | None = None, **config: str) -> S3Remote:
        remote = S3Remote("s3r", url or f"s3://{s3_bucket}/store",
                          {"endpointurl": s3_endpoint, **config})
        made.append(remote)
        return remote

    yield make
    for remote in made:
        remote.close()


@pytest.fixture
def remote(make_remote) -> S3Remote:
    return make_remote()


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


# -- conformance -------------------------------------------------------------------------

def test_round_trip_in_dvc_layout(remote, s3_client, s3_bucket, tmp_path):
    for i, data in enumerate([b"", b"hello\n", os.urandom(300_000)]):
        key = key_of(data)
        remote.upload(write(tmp_path / f"src{i}", data), key)
        out = tmp_path / f"out{i}"
        remote.download(key, str(out))
        assert out.read_bytes() == data
        # where `dvc pull` looks for it: <url path>/files/md5/<2>/<30>
        md5 = hashlib.md5(data).hexdigest()
        raw = s3_client.get_object(Bucket=s3_bucket, Key=f"store/files/md5/{md5[:2]}/{md5[2:]}")
        assert raw["Body"].read() == data


def test_exists_many_few_keys_heads_each(remote, s3_client, s3_bucket):
    present = keys_for("p", 5) + ["runs/ab/cdef/0123"]
    absent = keys_for("a", 5) + ["runs/ab/cdef/4567"]
    put_many(s3_client, s3_bucket, present)
    outside = keys_for("outside", 1)  # in the bucket, but not under the remote's path
    put_many(s3_client, s3_bucket, outside, root="")
    assert remote.exists_many(iter(present + absent + outside)) == set(present)
    assert remote.exists_many([]) == set()


@pytest.fixture(scope="module")
def populated(s3_client):
    """A bucket holding 1,500 objects (more than one listing page), for read-only tests."""
    import uuid

    bucket = f"lode-many-{uuid.uuid4().hex[:8]}"
    s3_client.create_bucket(Bucket=bucket)
    present = keys_for("present", 1495) + [k + ".dir" for k in keys_for("dir", 5)]
    put_many(s3_client, bucket, present)
    return bucket, present


@pytest.mark.parametrize("strategy", ["auto", "ranges", "head-rest"])
def test_exists_many_thousands(strategy, populated, s3_endpoint, monkeypatch):
    bucket, present = populated
    query = present + keys_for("absent", 1500) + [k + ".dir" for k in keys_for("nodir", 5)]
    if strategy == "ranges":  # small pages: many parallel slices, several pages each
        monkeypatch.setattr(s3mod, "PAGE", 100)
    elif strategy == "head-rest":  # first page, then one HEAD per key past its end
        monkeypatch.setattr(s3mod, "LIST_RATIO", 0)
        query = present[:150] + keys_for("absent", 150)
    remote = S3Remote("s3r", f"s3://{bucket}/store", {"endpointurl": s3_endpoint})
    calls = count_requests(remote)
    try:
        assert remote.exists_many(query) == set(query) & set(present)
    finally:
        remote.close()
    if strategy == "head-rest":
        assert calls["ListObjectsV2"] == 1 and calls["HeadObject"] > 0
    else:  # listing only: 2 requests, or 1 + about 14 slices x 2 pages of 100
        assert calls["HeadObject"] == 0
        assert calls["ListObjectsV2"] == 2 if strategy == "auto" else calls["ListObjectsV2"] > 14


def test_list(remote, s3_client, s3_bucket, populated, s3_endpoint):
    files = keys_for("f", 3)
    put_many(s3_client, s3_bucket, files + ["runs/aa/bbbb/cc"])
    put_many(s3_client, s3_bucket, keys_for("outside", 2), root="")
    assert sorted(remote.list()) == sorted(files)
    assert list(remote.list("runs/")) == ["runs/aa/bbbb/cc"]
    bucket, present = populated  # more than one page
    big = S3Remote("s3r", f"s3://{bucket}/store/", {"endpointurl": s3_endpoint})
    assert sorted(big.list()) == sorted(present)
    big.close()


def test_delete(remote, s3_client, s3_bucket):
    keep, gone = keys_for("keep", 1), keys_for("gone", 1)
    put_many(s3_client, s3_bucket, keep + gone)
    remote.delete(gone[0])
    remote.delete(gone[0])  # absent already: not an error
    assert remote.exists_many(keep + gone) == set(keep)

    many = keys_for("many", 1001)  # two delete_objects batches
    put_many(s3_client, s3_bucket, many)
    remote.delete_many(many + keys_for("never", 3))
    assert list(remote.list()) == keep


def test_download_missing_raises_remote_missing(remote, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RemoteMissing) as e:
        remote.download(key_of(b"nothing"), str(out))
    assert key_of(b"nothing") in str(e.value)
    assert not out.exists()


def test_large_file_goes_multipart(remote, s3_client, s3_bucket, tmp_path):
    data = os.urandom(20 * 1024 * 1024)
    key = key_of(data)
    remote.upload(write(tmp_path / "big", data), key)
    head = s3_client.head_object(Bucket=s3_bucket, Key="store/" + key)
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-2")  # two 16 MiB parts: multipart it was
    out = tmp_path / "out"
    remote.download(key, str(out))
    assert hashlib.md5(out.read_bytes()).hexdigest() == hashlib.md5(data).hexdigest()


def test_threads_share_one_client(remote, tmp_path, caplog):
    srcs = [write(tmp_path / f"f{i}", f"file {i}".encode()) for i in range(96)]
    keys = [key_of(f"file {i}".encode()) for i in range(96)]
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(remote.upload, srcs, keys))
    assert remote.exists_many(keys) == set(keys)
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]


# -- failures ----------------------------------------------------------------------------

def test_missing_bucket_is_a_remote_error(make_remote, tmp_path):
    remote = make_remote("s3://lode-no-such-bucket/store")
    src = write(tmp_path / "f", b"data")
    for call in (lambda: remote.upload(src, key_of(b"data")),
                 lambda: remote.download(key_of(b"data"), str(tmp_path / "out")),
                 lambda: list(remote.list())):
        with pytest.raises(RemoteError) as e:
            call()
        assert type(e.value) is RemoteError
        assert "lode-no-such-bucket" in str(e.value) and "does not exist" in str(e.value)


def test_server_down_is_transient_and_quick(tmp_path):
    remote = S3Remote("s3r", "s3://bucket/store",
                      {"endpointurl": f"http://127.0.0.1:{free_port()}"})
    src = write(tmp_path / "f", b"data")
    start = time.monotonic()
    for call in (lambda: remote.upload(src, key_of(b"data")),
                 lambda: remote.exists_many(keys_for("k", 200))):
        with pytest.raises(TransientError):
            call()
    assert time.monotonic() - start < 20
    remote.close()


def test_silent_server_times_out(tmp_path):
    # Connections are accepted (the kernel's backlog) but nothing ever answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        port = silent.getsockname()[1]
        remote = S3Remote("s3r", "s3://bucket/store", {
            "endpointurl": f"http://127.0.0.1:{port}", "read_timeout": "1",
            "connect_timeout": "1"})
        start = time.monotonic()
        with pytest.raises(TransientError):
            remote.download(key_of(b"x"), str(tmp_path / "out"))
        assert time.monotonic() - start < 15  # 3 attempts of 1 s plus backoff
        remote.close()


SECRET = "lode-secret-must-never-show-0123456789"


@pytest.mark.parametrize("case", ["unknown key", "wrong secret", "no permission"])
def test_refused_credentials_name_no_secret(case, moto_auth, tmp_path):
    key_id = {"unknown key": "AKIALODEUNKNOWN00000"}.get(case, moto_auth.key_id)
    secret = moto_auth.secret if case == "no permission" else SECRET
    remote = S3Remote("s3r", f"s3://{moto_auth.bucket}/store", {
        "endpointurl": moto_auth.url, "access_key_id": key_id, "secret_access_key": secret})
    src = write(tmp_path / "f", b"data")
    for call in (lambda: remote.upload(src, key_of(b"data")),
                 lambda: remote.download(key_of(b"data"), str(tmp_path / "out")),
                 lambda: remote.exists_many(keys_for("k", 3)),
                 lambda: remote.exists_many(keys_for("k", 300)),
                 lambda: list(remote.list())):
        with pytest.raises(RemoteError) as e:
            call()
        assert not isinstance(e.value, (TransientError, RemoteMissing)), e.value
        text = f"{e.value} {e.value!r}"
        assert secret not in text and key_id not in text
        assert "credentials" in text
    remote.close()


def test_credentials_from_config_or_profile(make_remote, tmp_path, monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    src = write(tmp_path / "f", b"data")
    with pytest.raises(RemoteError, match="no usable credentials"):
        make_remote().upload(src, key_of(b"data"))
    make_remote(access_key_id="testing", secret_access_key="testing").upload(
        src, key_of(b"data"))
    creds = tmp_path / "credentials"
    creds.write_text("[ci]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    make_remote(profile="ci", credentialpath=str(creds)).upload(src, key_of(b"data"))
    with pytest.raises(RemoteError, match="nosuchprofile"):
        make_remote(profile="nosuchprofile", credentialpath=str(creds)).upload(
            src, key_of(b"data"))


# -- the plugin's face -----------------------------------------------------------------

def test_plugin_declares_dvc_options_and_secrets():
    assert plugin_for("s3://bucket/path") is S3Remote
    assert set(S3Remote.secrets) == {"access_key_id", "secret_access_key", "session_token"}
    assert set(S3Remote.secrets) <= S3Remote.option_names()
    assert {"endpointurl", "region", "profile", "credentialpath", "use_ssl", "ssl_verify",
            "sse", "acl"} <= S3Remote.option_names()
    with pytest.raises(RemoteError):
        S3Remote("bad", "s3://", {})


def test_importing_the_plugin_does_not_import_boto3():
    code = ("import sys, lode_plugins.remotes.s3; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- DVC reads what lode pushed, lode reads what DVC pushed --------------------------------

@pytest.mark.dvc
def test_dvc_and_lode_share_the_bucket(dvc, remote, s3_endpoint, s3_bucket, tmp_path):
    python = Path(dvc.argv[0]).parent / "python"
    if subprocess.run([python, "-c", "import dvc_s3"], capture_output=True).returncode:
        pytest.skip(f"dvc-s3 is not installed beside {dvc.argv[0]} (pip install 'dvc[s3]')")
    env = {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                      "AWS_DEFAULT_REGION")}
    repo = tmp_path / "repo"
    repo.mkdir()
    dvc("init", "-q", "--no-scm", cwd=repo)
    dvc("remote", "add", "-d", "s3r", f"s3://{s3_bucket}/store", cwd=repo)
    dvc("remote", "modify", "s3r", "endpointurl", s3_endpoint, cwd=repo)

    # lode pushes, dvc pulls
    data = b"pushed by lode\n"
    remote.upload(write(tmp_path / "src", data), key_of(data))
    md5 = hashlib.md5(data).hexdigest()
    (repo / "from_lode.txt.dvc").write_text(
        f"outs:\n- md5: {md5}\n  size: {len(data)}\n  hash: md5\n  path: from_lode.txt\n")
    dvc("pull", "-q", "from_lode.txt.dvc", cwd=repo, env=env)
    assert (repo / "from_lode.txt").read_bytes() == data

    # dvc pushes a directory, lode sees every object and reads it back
    (repo / "d").mkdir()
    files = {f"f{i}.txt": f"file {i} by dvc\n".encode() for i in range(3)}
    for name, content in files.items():
        (repo / "d" / name).write_bytes(content)
    dvc("add", "-q", "d", cwd=repo)
    dvc("push", "-q", "d.dvc", cwd=repo, env=env)
    keys = [key_of(c) for c in files.values()]
    listed = set(remote.list())
    assert set(keys) <= listed and any(k.endswith(".dir") for k in listed)
    assert remote.exists_many(keys + keys_for("absent", 2)) == set(keys)
    remote.download(keys[0], str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == files["f0.txt"]

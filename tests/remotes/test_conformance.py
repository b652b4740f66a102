"""One contract, every plugin: the same tests run against the local directory, S3 (moto's
server) and HTTP (a real server on 127.0.0.1). What a plugin declares it cannot do
(`capabilities`) must fail with a RemoteError, never silently."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from lode.plugins.remote import RemoteError, RemoteMissing, object_key, plugin_for
from lode.store.hashing import SMALL

from .http_server import HTTPTestServer


def key_of(data: bytes) -> str:
    return object_key(hashlib.md5(data).hexdigest())


@pytest.fixture(params=["local", "s3", "http"])
def remote(request, tmp_path):
    """A freshly configured, empty remote of each kind, opened as `remote add` would."""
    if request.param == "local":
        url, config = str(tmp_path / "store"), {}
    elif request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        url, config = f"s3://{bucket}/store", {"endpointurl": endpoint}
    else:
        server = HTTPTestServer(tmp_path / "served").start()
        request.addfinalizer(server.stop)
        url, config = server.url + "/store", {"method": "PUT"}
    plugin = plugin_for(url)  # through the entry points, as the CLI finds it
    r = plugin("conf", url, {"url": url, **config})
    yield r
    r.close()


def put(remote, tmp_path: Path, data: bytes) -> str:
    src = tmp_path / f"src-{hashlib.md5(data).hexdigest()}"
    src.write_bytes(data)
    key = key_of(data)
    remote.upload(str(src), key)
    return key


def test_upload_then_download_the_same_bytes(remote, tmp_path):
    for data in (b"", b"hello\n", os.urandom(SMALL + 17)):  # empty, small, past read_small
        key = put(remote, tmp_path, data)
        out = tmp_path / "out"
        remote.download(key, str(out))
        assert out.read_bytes() == data
        small = remote.read_small(key)
        assert small is None or small == data  # optional, but never other bytes
        if len(data) >= SMALL:
            assert small is None


def test_upload_twice_is_harmless(remote, tmp_path):
    key = put(remote, tmp_path, b"twice")
    put(remote, tmp_path, b"twice")  # an interrupted push rerun uploads it again
    assert remote.exists_many([key]) == {key}


def test_exists_many_few_and_many(remote, tmp_path):
    present = [put(remote, tmp_path, f"obj {i}".encode()) for i in range(70)]
    absent = [key_of(f"absent {i}".encode()) for i in range(70)]
    assert remote.exists_many(present[:3] + absent[:3]) == set(present[:3])
    assert remote.exists_many(present + absent) == set(present)  # past the batching point
    assert remote.exists_many([]) == set()


def test_missing_object_is_remote_missing(remote, tmp_path):
    key = key_of(b"never uploaded")
    with pytest.raises(RemoteMissing):
        remote.download(key, str(tmp_path / "out"))
    try:
        assert remote.read_small(key) is None  # a plugin without it: download() then says so
    except RemoteMissing:
        pass


def test_list_and_delete(remote, tmp_path):
    keys = {put(remote, tmp_path, f"x{i}".encode()) for i in range(5)}
    if not remote.capabilities.delete:
        with pytest.raises(RemoteError):
            list(remote.list())
        with pytest.raises(RemoteError):
            remote.delete(next(iter(keys)))
        return
    assert set(remote.list()) == keys
    first, *rest = sorted(keys)
    remote.delete(first)
    remote.delete(first)  # already gone: fine
    remote.delete_many(rest[:2])
    assert set(remote.list()) == set(rest[2:])
    assert remote.exists_many(keys) == set(rest[2:])


def test_plugin_declares_what_it_takes(remote):
    assert remote.options >= {"url"}
    assert remote.capabilities.jobs >= 1
    assert all(s in remote.options for s in remote.secrets)

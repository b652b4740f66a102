"""The remote contract: what every remote plugin must do, as tests a plugin's own test module
runs against a real store (a directory, a server on 127.0.0.1, an emulator).

    from lode.testing.remote import RemoteContract, open_remote

    class TestMyRemote(RemoteContract):
        @pytest.fixture
        def remote(self, tmp_path):
            r = open_remote("my://bucket/store", {"endpoint": ...})
            yield r
            r.close()

The fixture yields a freshly configured, empty remote, opened as `lode remote add` would
(through the entry points). What a plugin declares it cannot do (`capabilities`) must fail
with a RemoteError, never silently.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from lode.plugins.remote import (
    REMOTES,
    Remote,
    RemoteError,
    RemoteMissing,
    object_key,
    plugin_for,
)
from lode.store.hashing import SMALL


def open_remote(url: str, options: dict[str, str] | None = None, name: str = "conf") -> Remote:
    """The remote for `url`, its plugin found through the entry points as the CLI finds it."""
    plugin = plugin_for(url)
    return plugin(name, url, {"url": url, **(options or {})})


def key_of(data: bytes) -> str:
    return object_key(hashlib.md5(data).hexdigest())


def put(remote: Remote, tmp_path: Path, data: bytes) -> str:
    """Upload `data` as the object it is; its key."""
    src = tmp_path / f"src-{hashlib.md5(data).hexdigest()}"
    src.write_bytes(data)
    key = key_of(data)
    remote.upload(str(src), key)
    return key


class RemoteContract:
    """Subclass it (as `Test...`) and provide the `remote` fixture."""

    @pytest.fixture
    def remote(self):
        raise NotImplementedError("a RemoteContract subclass provides the 'remote' fixture")

    def test_upload_then_download_the_same_bytes(self, remote, tmp_path):
        for data in (b"", b"hello\n", os.urandom(SMALL + 17)):  # empty, small, past read_small
            key = put(remote, tmp_path, data)
            out = tmp_path / "out"
            remote.download(key, str(out))
            assert out.read_bytes() == data
            small = remote.read_small(key)
            assert small is None or small == data  # optional, but never other bytes
            if len(data) >= SMALL:
                assert small is None

    def test_upload_twice_is_harmless(self, remote, tmp_path):
        key = put(remote, tmp_path, b"twice")
        put(remote, tmp_path, b"twice")  # an interrupted push rerun uploads it again
        assert remote.exists_many([key]) == {key}

    def test_exists_many_few_and_many(self, remote, tmp_path):
        present = [put(remote, tmp_path, f"obj {i}".encode()) for i in range(70)]
        absent = [key_of(f"absent {i}".encode()) for i in range(70)]
        assert remote.exists_many(present[:3] + absent[:3]) == set(present[:3])
        assert remote.exists_many(present + absent) == set(present)  # past any batching
        assert remote.exists_many([]) == set()

    def test_missing_object_is_remote_missing(self, remote, tmp_path):
        key = key_of(b"never uploaded")
        with pytest.raises(RemoteMissing):
            remote.download(key, str(tmp_path / "out"))
        try:
            assert remote.read_small(key) is None  # without it: download() then says so
        except RemoteMissing:
            pass

    def test_list_and_delete(self, remote, tmp_path):
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

    def test_plugin_declares_what_it_takes(self, remote):
        plugin = type(remote)
        assert REMOTES.check(plugin.schemes[0], plugin) is plugin  # what the registry checks
        assert plugin.option_names() >= {"url"}
        assert all(s in plugin.option_names() for s in plugin.secrets)
        assert remote.capabilities.jobs >= 1

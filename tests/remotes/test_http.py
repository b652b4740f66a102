"""The HTTP remote against a real HTTP server on 127.0.0.1 (tests/remotes/http_server.py)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lode_plugins.remotes.http import HTTPRemote

from lode.plugins.remote import RemoteError, RemoteMissing, TransientError, object_key, plugin_for
from lode.testing.remote import RemoteContract, open_remote

from .http_server import HTTPTestServer

REPO_ROOT = Path(__file__).resolve().parents[2]
# short timeouts: every failure below must show up in well under a second or two
FAST = {"connect_timeout": "2", "read_timeout": "2"}
SECRET = "s3cret-Pa55"


@pytest.fixture
def server(tmp_path):
    with HTTPTestServer(tmp_path / "served") as srv:
        yield srv


class TestContract(RemoteContract):
    """The remote contract (lode.testing.remote) against the loopback server."""

    @pytest.fixture
    def remote(self, tmp_path):
        with HTTPTestServer(tmp_path / "served") as srv:
            r = open_remote(srv.url + "/store", {"method": "PUT"})
            yield r
            r.close()


@pytest.fixture
def make_remote():
    """`make_remote(url, **options)`: an HTTPRemote, closed after the test."""
    made: list[HTTPRemote] = []

    def make(url: str, **options: str) -> HTTPRemote:
        remote = HTTPRemote("web", url, {"url": url, **FAST, **options})
        made.append(remote)
        return remote

    yield make
    for remote in made:
        remote.close()


def write_object(tmp_path: Path, data: bytes) -> tuple[str, str]:
    """(a local file holding `data`, its key in DVC 3's layout)."""
    path = tmp_path / f"src-{hashlib.md5(data).hexdigest()}"
    path.write_bytes(data)
    return str(path), object_key(hashlib.md5(data).hexdigest())


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_round_trip(server, make_remote, tmp_path, method):
    remote = make_remote(server.url + "/store/", method=method)
    data = os.urandom(3 * (1 << 20) + 123)  # several 1 MiB chunks and a tail
    src, key = write_object(tmp_path, data)
    remote.upload(src, key)
    assert (server.root / "store" / key).read_bytes() == data  # DVC's layout on the server
    assert (method, f"/store/{key}", 201) in server.log
    out = tmp_path / "out"
    remote.download(key, str(out))
    assert out.read_bytes() == data


def test_empty_object_round_trip(server, make_remote, tmp_path):
    remote = make_remote(server.url, method="PUT")
    src, key = write_object(tmp_path, b"")
    remote.upload(src, key)
    remote.download(key, str(tmp_path / "out"))
    assert (tmp_path / "out").read_bytes() == b""


@pytest.mark.parametrize("n", [3, 40])  # sequential, and on the remote's own pool
def test_exists_many(server, make_remote, tmp_path, n):
    remote = make_remote(server.url)
    keys = [object_key(hashlib.md5(str(i).encode()).hexdigest()) for i in range(n)]
    present = set(keys[::2])
    for key in present:
        (server.root / key).parent.mkdir(parents=True, exist_ok=True)
        (server.root / key).write_bytes(b"x")
    assert remote.exists_many(iter(keys)) == present
    assert {m for m, _, _ in server.log} == {"HEAD"}
    assert remote.exists_many([]) == set()


def test_missing_object(server, make_remote, tmp_path):
    remote = make_remote(server.url)
    out = tmp_path / "out"
    with pytest.raises(RemoteMissing):
        remote.download(object_key("0" * 32), str(out))
    assert not out.exists()  # no half object left behind


def test_server_error_is_transient_and_recovers(server, make_remote, tmp_path):
    remote = make_remote(server.url, method="PUT")
    src, key = write_object(tmp_path, b"payload")
    server.fail_first = 1
    with pytest.raises(TransientError, match="HTTP 500"):
        remote.upload(src, key)
    remote.upload(src, key)  # what the engine's retry would do
    server.fail_first = 1
    with pytest.raises(TransientError):
        remote.download(key, str(tmp_path / "out"))
    remote.download(key, str(tmp_path / "out"))
    assert (tmp_path / "out").read_bytes() == b"payload"


def test_exists_many_retries_a_busy_server_then_gives_up(server, make_remote, tmp_path):
    remote = make_remote(server.url)
    src, key = write_object(tmp_path, b"here")
    (server.root / key).parent.mkdir(parents=True)
    (server.root / key).write_bytes(b"here")
    server.fail_first = 1  # one 500 in a batch: retried for that key only
    assert remote.exists_many([key, object_key("1" * 32)]) == {key}
    server.fail_first = 10_000
    keys = [object_key(f"{i:032x}") for i in range(30)]
    with pytest.raises(TransientError, match="HTTP 500"):
        remote.exists_many(keys)


def test_read_only_server(server, make_remote, tmp_path):
    server.read_only = True
    src, key = write_object(tmp_path, b"data")
    for method in ("POST", "PUT"):
        with pytest.raises(RemoteError) as info:
            make_remote(server.url, method=method).upload(src, key)
        assert not isinstance(info.value, TransientError)
        assert f"read-only (the server refuses {method})" in info.value.message


def test_basic_auth(server, make_remote, tmp_path):
    server.basic_auth = ("alice", SECRET)
    src, key = write_object(tmp_path, b"secret data")
    good = make_remote(server.url, auth="basic", user="alice", password=SECRET, method="PUT")
    good.upload(src, key)
    assert good.exists_many([key]) == {key}
    good.download(key, str(tmp_path / "out"))
    assert (tmp_path / "out").read_bytes() == b"secret data"

    wrong = make_remote(server.url, auth="basic", user="alice", password="not-" + SECRET)
    for call in (lambda: wrong.download(key, str(tmp_path / "o2")),
                 lambda: wrong.exists_many([key]),
                 lambda: wrong.upload(src, key)):
        with pytest.raises(RemoteError, match="authentication failed") as info:
            call()
        assert not isinstance(info.value, TransientError)
        assert SECRET not in str(info.value) and SECRET not in repr(info.value.args)

    anonymous = make_remote(server.url)
    with pytest.raises(RemoteError, match="authentication failed") as info:
        anonymous.download(key, str(tmp_path / "o3"))
    assert "set 'auth'" in info.value.hint


def test_credentials_in_url_never_shown(server, make_remote, tmp_path):
    server.basic_auth = ("alice", "other")
    remote = make_remote(f"http://alice:{SECRET}@{server.url[len('http://'):]}")
    with pytest.raises(RemoteError) as info:
        remote.download(object_key("2" * 32), str(tmp_path / "out"))
    assert SECRET not in str(info.value)
    assert remote.where == server.url


def test_custom_header_auth(server, make_remote, tmp_path):
    server.header_auth = ("X-Token", SECRET)
    src, key = write_object(tmp_path, b"tok")
    remote = make_remote(server.url, auth="custom", custom_auth_header="X-Token",
                         password=SECRET, method="PUT")
    remote.upload(src, key)
    assert remote.exists_many([key]) == {key}
    with pytest.raises(RemoteError, match="authentication failed"):
        make_remote(server.url).exists_many([key])


def test_stopped_server_is_transient_and_quick(server, make_remote, tmp_path):
    server.stop()
    remote = make_remote(server.url)
    src, key = write_object(tmp_path, b"nobody home")
    start = time.monotonic()
    for call in (lambda: remote.download(key, str(tmp_path / "out")),
                 lambda: remote.upload(src, key),
                 lambda: remote.exists_many([key]),
                 lambda: remote.exists_many([object_key(f"{i:032x}") for i in range(50)])):
        with pytest.raises(TransientError, match="cannot reach remote 'web'.*refused"):
            call()
    assert time.monotonic() - start < 3


def test_slow_server_times_out(server, make_remote, tmp_path):
    server.delay = 1.5
    remote = make_remote(server.url, read_timeout="0.3")
    start = time.monotonic()
    with pytest.raises(TransientError, match="read_timeout"):
        remote.exists_many([object_key("3" * 32)])
    assert time.monotonic() - start < 1.2


def test_what_http_cannot_do(make_remote):
    remote = make_remote("https://example.invalid/dvc")
    assert not HTTPRemote.capabilities.run_cache and not HTTPRemote.capabilities.delete
    with pytest.raises(RemoteError, match="cannot list"):
        remote.list()
    with pytest.raises(RemoteError, match="cannot delete"):
        remote.delete(object_key("4" * 32))


@pytest.mark.parametrize("options, complaint", [
    ({"auth": "basic", "user": "alice"}, "'password' is not set"),
    ({"auth": "custom", "password": SECRET}, "'custom_auth_header' is not set"),
    ({"auth": "kerberos"}, "unknown HTTP auth"),
    ({"method": "PATCH"}, "upload method 'PATCH'"),
    ({"read_timeout": "soon"}, "'read_timeout' must be a positive number"),
])
def test_bad_configuration(make_remote, options, complaint):
    with pytest.raises(RemoteError, match=complaint) as info:
        make_remote("http://127.0.0.1:9/dvc", **options)
    assert SECRET not in str(info.value)


def test_options_and_secrets(tmp_path):
    assert set(HTTPRemote.secrets) == {"password"}
    assert {"auth", "user", "custom_auth_header", "ssl_verify", "read_timeout",
            "connect_timeout", "method"} <= HTTPRemote.option_names()
    remote = HTTPRemote("web", "https://h/x", {"ssl_verify": "False"})
    assert remote.verify is False and remote.method == "POST"
    remote = HTTPRemote("web", "https://h/x", {"ssl_verify": "ca.pem",
                                              "_config_dir": str(tmp_path)})
    assert remote.verify == str(tmp_path / "ca.pem")


def test_registered_and_lazy():
    assert plugin_for("https://example.org/store") is HTTPRemote
    # CLI start-up is measured: importing the plugin must not import requests
    code = "import sys, lode_plugins.remotes.http; sys.exit('requests' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, timeout=30)
    assert proc.returncode == 0


def test_jobs_option_sets_transfer_parallelism(make_remote):
    assert make_remote("http://127.0.0.1:9/store").capabilities.jobs == 16
    remote = make_remote("http://127.0.0.1:9/store", jobs="4")
    assert remote.capabilities.jobs == remote.jobs == 4
    assert not remote.capabilities.run_cache and not remote.capabilities.delete

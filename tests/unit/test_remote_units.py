"""The local remote's pieces that need no server: filesystem kind, small reads, key layout."""

from __future__ import annotations

import hashlib
import os

import pytest
from lode_plugins.remotes.local import LocalRemote, default_jobs, fs_type

from lode.errors import LodeError
from lode.plugins import Option
from lode.plugins.remote import REMOTES, Remote, RemoteError, RemoteMissing, object_key, plugin_for
from lode.retry import Backoff
from lode.store.hashing import SMALL

MOUNTS = """\
/dev/vda / ext4 rw,relatime 0 0
proc /proc proc rw 0 0
server:/export /mnt/team nfs4 rw,vers=4.2 0 0
/dev/vdb /mnt/team/scratch xfs rw 0 0
//nas/share /mnt/my\\040share cifs rw 0 0
"""


@pytest.fixture
def mounts(tmp_path):
    path = tmp_path / "mounts"
    path.write_text(MOUNTS)
    return str(path)


@pytest.mark.parametrize("path, kind", [
    ("/mnt/team/dvc-store", "nfs4"),      # below a network mount
    ("/mnt/team/scratch/x", "xfs"),       # the deepest mount point wins
    ("/mnt/teamwork", "ext4"),            # a prefix of the name is not a parent
    ("/mnt/my share/store", "cifs"),      # the escaped space of /proc/mounts
    ("/srv/remote", "ext4"),
])
def test_fs_type_is_the_deepest_mount(mounts, path, kind):
    assert fs_type(path, mounts) == kind


def test_fs_type_unknown_without_a_mount_table(tmp_path):
    assert fs_type("/srv", str(tmp_path / "absent")) == ""


def test_jobs_from_config_win_over_the_default(tmp_path):
    assert LocalRemote("r", str(tmp_path), {}).capabilities.jobs == default_jobs(False)
    assert LocalRemote("r", str(tmp_path), {"jobs": "6"}).capabilities.jobs == 6
    assert LocalRemote("r", str(tmp_path), {"jobs": "x"}).capabilities.jobs >= 1


def test_read_small_hands_over_small_objects_only(tmp_path):
    remote = LocalRemote("r", str(tmp_path), {})
    small = b"abc" * 10
    big = tmp_path / "big"
    big.write_bytes(b"\0" * SMALL)
    key = object_key(hashlib.md5(small).hexdigest())
    remote.upload(str(big), "files/md5/00/big")
    src = tmp_path / "src"
    src.write_bytes(small)
    remote.upload(str(src), key)
    assert remote.read_small(key) == small
    assert remote.read_small("files/md5/00/big") is None  # the caller streams it to a file
    with pytest.raises(RemoteMissing):
        remote.read_small("files/md5/ff/" + "0" * 30)
    assert oct(os.stat(tmp_path / key).st_mode & 0o777) == "0o444"


# ---- the plugin API: declared options, the registry's checks, the retry policy

def test_the_registry_refuses_what_is_not_a_sound_plugin():
    class Fine(Remote):
        schemes = ("fine",)
        options = (Option("region", "where"), Option("token", "a credential", secret=True))

    assert REMOTES.check("fine", Fine) is Fine
    assert Fine.option_names() >= {"url", "jobs", "region", "token"}
    assert Fine.secrets == ("token",)

    class Twice(Remote):
        schemes = ("twice",)
        options = (Option("region"), Option("region"))

    class BadName(Remote):
        schemes = ("bad",)
        options = (Option("Region!"),)

    class NoScheme(Remote):
        pass

    for cls, said in [(Twice, "declared twice"), (BadName, "lower_case"),
                      (NoScheme, "schemes"), (dict, "is not a lode.plugins.remote.Remote")]:
        with pytest.raises(LodeError, match=said):
            REMOTES.check("x", cls)


def test_an_unknown_remote_scheme_names_the_installed_ones():
    with pytest.raises(RemoteError, match=r"no remote plugin handles 'nope://' URLs"):
        plugin_for("nope://x")


def test_backoff_waits_longer_each_time_then_gives_up():
    waits: list[float] = []
    calls = []

    def flaky():
        calls.append(1)
        raise OSError("down")

    with pytest.raises(OSError):
        Backoff(attempts=4, first=0.25).call(flaky, retry_on=(OSError,), sleep=waits.append)
    assert len(calls) == 4 and waits == [0.25, 0.5, 1.0]
    assert Backoff(attempts=9, first=0.5, cap=4.0).wait(6) == 4.0
    assert not Backoff(attempts=9, first=1, deadline=10).again(1, elapsed=9.5, wait=1)

"""The local remote's pieces that need no server: filesystem kind, small reads, key layout."""

from __future__ import annotations

import hashlib
import os

import pytest
from lode_plugins.remotes.local import LocalRemote, default_jobs, fs_type

from lode.plugins.remote import RemoteMissing, object_key
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

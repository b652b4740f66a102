"""Hashing, the stat cache, the object store and the repository lock."""

import hashlib
import os
import subprocess
import sys
import time

import pytest

from lode.errors import LockedError
from lode.flock import RepoLock
from lode.store.hashing import copy_with_md5, md5_file
from lode.store.listing import walk_files
from lode.store.objects import CorruptObject, MissingObject, ObjectStore
from lode.store.statcache import RACY_NS, StatCache, stat_key


@pytest.mark.parametrize("size", [0, 1, 4095, (4 << 20) - 1, (9 << 20) + 7])
def test_copy_with_md5_reads_once_and_copies_exactly(tmp_path, size):
    data = os.urandom(size)
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(data)
    with open(src, "rb") as fs, open(dst, "wb") as fd:
        md5, n = copy_with_md5(fs.fileno(), fd.fileno(), size)
    assert (md5, n) == (hashlib.md5(data).hexdigest(), size)
    assert dst.read_bytes() == data
    assert md5_file(str(src)) == md5


def test_stat_cache_hits_only_on_same_stat_and_skips_racy_rows(tmp_path):
    sc = StatCache(str(tmp_path / "s.db"))
    old = (1, 2, time.time_ns() - 10 * RACY_NS)
    fresh = (1, 2, time.time_ns())
    sc.put_many([("a", old, "x" * 32), ("b", fresh, "y" * 32)])
    assert sc.get("a", old) == "x" * 32
    assert sc.get("a", (1, 3, old[2])) is None
    assert sc.get("b", fresh) is None  # racily clean: not trusted
    sc.put_many([("d/\udcff", old, "z" * 32), ("d0", old, "w" * 32)])
    assert list(sc.get_prefix("d")) == [b"\xff"]


def test_object_store_add_link_and_refuse_corrupt(tmp_path):
    odb = ObjectStore(str(tmp_path / "cache"), StatCache(str(tmp_path / "s.db")))
    src = tmp_path / "f"
    src.write_bytes(b"hello\n")
    md5, _ = odb.add_file(str(src), ["copy"])
    assert md5 == "b1946ac92492d2347c6235b4d2611184"
    obj = odb.path(md5)
    assert obj.endswith("files/md5/b1/946ac92492d2347c6235b4d2611184")
    assert oct(os.stat(obj).st_mode & 0o777) == "0o444"
    odb.link(md5, str(tmp_path / "out"), ["copy"])
    assert (tmp_path / "out").read_bytes() == b"hello\n"
    os.chmod(obj, 0o644)
    with open(obj, "wb") as f:
        f.write(b"evil!\n")
    with pytest.raises(CorruptObject):
        odb.link(md5, str(tmp_path / "out2"), ["copy"])
    assert not (tmp_path / "out2").exists()
    with pytest.raises(CorruptObject):
        odb.link(md5, str(tmp_path / "out3"), ["hardlink"])
    with pytest.raises(MissingObject):
        odb.link("0" * 32, str(tmp_path / "out4"), ["copy"])
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_hardlink_add_takes_the_inode_and_protects_it(tmp_path):
    odb = ObjectStore(str(tmp_path / "cache"), StatCache(str(tmp_path / "s.db")))
    src = tmp_path / "f"
    src.write_bytes(b"data\n")
    md5, _ = odb.add_file(str(src), ["hardlink"])
    assert os.path.samefile(src, odb.path(md5))
    assert not os.access(src, os.W_OK) or os.geteuid() == 0
    assert stat_key(os.stat(src))[1] == 5


def test_walk_handles_symlinks_and_names_as_dvc_does(tmp_path):
    from lode.errors import TargetError

    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "a").write_text("a")
    (d / "empty").mkdir()
    (tmp_path / "outside").write_text("o")
    (d / "link").symlink_to(tmp_path / "outside")
    rows = walk_files(str(d))
    assert sorted(r[0] for r in rows) == ["link", "sub/a"]
    (d / "dirlink").symlink_to(d / "sub")
    assert sorted(r[0] for r in walk_files(str(d))) == ["link", "sub/a"]  # left out, as DVC
    (d / "dirlink").unlink()
    (d / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(TargetError, match="dangling"):
        walk_files(str(d))


def test_lock_waits_then_names_the_holder(tmp_path):
    path = str(tmp_path / "lock")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys,time; from lode.flock import RepoLock; l=RepoLock(sys.argv[1]); l.acquire();"
         " print('held', flush=True); time.sleep(30)", path],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        with pytest.raises(LockedError, match=f"process {holder.pid}"):
            RepoLock(path, wait=0.5).acquire()
        assert time.monotonic() - t0 >= 0.5
    finally:
        holder.kill()
        holder.wait()
    lock = RepoLock(path, wait=1)  # the dead holder's lock is gone with it
    lock.acquire()
    lock.release()


def test_walk_refuses_names_that_are_not_utf8(tmp_path):
    from lode.errors import TargetError

    d = tmp_path / "d"
    d.mkdir()
    with open(os.path.join(os.fsencode(d), b"bad\xff"), "wb") as f:
        f.write(b"x")
    with pytest.raises(TargetError, match=r"bad\\xff.*not valid UTF-8"):
        walk_files(str(d))


def test_create_atomic_names_whole_files_and_keeps_existing(tmp_path):
    from lode import atomic

    target = tmp_path / "obj"
    st = atomic.create_atomic(str(target), b"abc", 0o444)
    assert target.read_bytes() == b"abc" and oct(target.stat().st_mode & 0o777) == "0o444"
    assert st is not None and st.st_ino == target.stat().st_ino
    assert atomic.create_atomic(str(target), b"abc", 0o444) is None  # existing: kept
    assert target.read_bytes() == b"abc"
    atomic.create_atomic(str(tmp_path / "obj2"), b"xyz", 0o444)
    assert (tmp_path / "obj2").read_bytes() == b"xyz"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["obj", "obj2"]  # no temporaries


def test_walk_refuses_a_dvcignore_inside_the_directory(tmp_path):
    from lode.errors import TargetError

    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "sub" / ".dvcignore").write_text("*.tmp\n")
    with pytest.raises(TargetError, match="inside a tracked directory"):
        walk_files(str(tmp_path / "d"))

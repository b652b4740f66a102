"""The pure parts of gc's "used" set and the stat cache's forgetting: every file that
could reference data is read whole or refused, a remote key becomes a delete only through
a validated md5, and forgetting a corrupt object drops every row that vouched for it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lode.errors import LodeError
from lode.ops import gc
from lode.plugins.remote import object_key
from lode.store import references
from lode.store.statcache import StatCache

A = "0123456789abcdef0123456789abcdef"
B = "fedcba9876543210fedcba9876543210"


def test_pointer_refs_reads_every_output():
    text = f"outs:\n- md5: {A}\n  path: x\n  hash: md5\n- md5: {B}.dir\n  path: d\n"
    assert references.pointer_refs(text, "x.dvc") == [(A, False), (B + ".dir", True)]


@pytest.mark.parametrize("text, problem", [
    (f"<<<<<<< HEAD\nouts:\n- md5: {A}\n  path: x\n=======\n", "conflict markers (line 1)"),
    (f"outs:\n- md5: {A}\n  path: x\n||||||| base\n", "conflict markers (line 4)"),
    ("outs:\n- md5: ../../../etc/passwd\n  path: x\n", "not an md5"),
    (f"outs:\n- md5: {A.upper()}\n  path: x\n", "not an md5"),
    ("outs:\n- md5: 12\n  path: x\n", "not an md5"),
    ("outs: {path: x}\n", "'outs' list"),
    ("[1, 2]\n", "'outs' list"),
    ("", "'outs' list"),
    (f"outs:\n- md5: {A}\n", "path"),
    ("outs:\n- path: x\n  md5: [\n", "not valid YAML"),
])
def test_pointer_refs_refuses_what_it_cannot_read_whole(text, problem):
    with pytest.raises(LodeError, match="x.dvc") as e:
        references.pointer_refs(text, "x.dvc")
    assert problem in e.value.message


def test_lock_refs_schema_2_and_dvc_1_formats():
    v2 = (f"schema: '2.0'\nstages:\n  train:\n    cmd: c\n    deps:\n    - path: a\n"
          f"      md5: {B}\n    outs:\n    - path: m\n      hash: md5\n      md5: {A}\n")
    assert references.lock_refs(v2, "dvc.lock") == [(A, False)]
    v1 = f"train:\n  cmd: c\n  outs:\n  - path: m\n    md5: {B}.dir\n"
    assert references.lock_refs(v1, "dvc.lock") == [(B + ".dir", True)]
    assert references.lock_refs("", "dvc.lock") == []
    assert references.lock_refs("schema: '2.0'\n", "dvc.lock") == []


@pytest.mark.parametrize("text, problem", [
    ("schema: '2.0'\nstages:\n  s:\n    deps:\n    - path: a\n      md5: nope\n", "not an md5"),
    ("schema: '2.0'\nstages:\n  s:\n    outs:\n    - path: m\n      md5: 1\n", "not an md5"),
    ("schema: '2.0'\nstages:\n  s: 3\n", "mapping"),
    ("schema: '2.0'\nstages: [a]\n", "mapping"),
    ("schema: '3.0'\nstages: {}\n", "schema"),
    ("- a\n", "mapping"),
    ("schema: '2.0'\nstages:\n  s:\n    deps: [1]\n", "mapping"),
    ("schema: '2.0'\nstages:\n=======\n", "conflict markers (line 3)"),
])
def test_lock_refs_refuses_what_it_cannot_read_whole(text, problem):
    with pytest.raises(LodeError, match="dvc.lock") as e:
        references.lock_refs(text, "dvc.lock")
    assert problem in e.value.message


def test_dvc_yaml_is_checked_and_references_nothing():
    assert references.file_refs("dvc.yaml", "stages:\n  s:\n    cmd: x\n", "dvc.yaml") == []
    for bad in ("stages: [\n", "- a\n", "stages: 3\n", ">>>>>>> theirs\n"):
        with pytest.raises(LodeError, match="dvc.yaml"):
            references.file_refs("dvc.yaml", bad, "dvc.yaml")
    assert references.file_refs("notes.txt", "<<<<<<< anything", "notes.txt") == []
    assert not references.is_pointer_name(".dvc") and references.is_pointer_name("x.dvc")


def test_a_conflict_marker_must_start_its_line():
    text = f"outs:\n- path: 'a <<<<<<< b'\n  md5: {A}\n  desc: |\n    =======\n"
    assert references.pointer_refs(text, "x.dvc") == [(A, True)]


@given(st.sampled_from("0123456789abcdef").flatmap(
    lambda c: st.text("0123456789abcdef", min_size=31, max_size=31).map(lambda t: c + t)),
    st.booleans())
def test_remote_md5_round_trips_every_object_key(h, is_dir):
    md5 = h + (".dir" if is_dir else "")
    assert gc.remote_md5(object_key(md5)) == md5


@given(st.text(max_size=60))
def test_remote_md5_accepts_only_keys_rebuilt_from_their_md5(tail):
    key = "files/md5/" + tail
    md5 = gc.remote_md5(key)
    assert md5 is None or object_key(md5) == key


@pytest.mark.parametrize("key", [
    "files/md5/ab/../../../secret", "files/md5/ab/cd/ef", "files/md5/ab", "files/md5//x",
    f"files/md5/{A[:2]}/{A[2:].upper()}", f"files/md5/{A[:3]}/{A[3:]}", f"runs/{A[:2]}/{A[2:]}",
    f"files/md5/{A[:2]}/{A[2:]}.dir.unpacked", f"files/md5/{A[:2]}/{A[2:]}\n",
])
def test_remote_md5_refuses_other_keys(key):
    assert gc.remote_md5(key) is None


def test_forget_drops_every_row_that_vouches(tmp_path):
    db = StatCache(str(tmp_path / "stat.db"))
    stat = (1, 2, 3)
    db.put_trusted([
        ("/cache/files/md5/01/23", stat, A),  # the object itself
        ("data/sub/x.bin", stat, A),  # a workspace file hardlinked to it
        ("data/sub/y.bin", stat, B),
        ("other/z.bin", stat, B),
        ("model.bin", stat, A),
    ])
    db.put_dir("data", "sig", B + ".dir", 4, 2)
    db.put_dir("data/sub", "sig2", B + ".dir", 4, 2)
    db.put_dir("other", "sig3", B + ".dir", 1, 1)
    db.put_dir("broken", "sig4", A + ".dir", 1, 1)
    db.memo_put(f"complete:{A}.dir", "layout")
    db.memo_put(f"complete:{B}.dir", "layout")
    assert db.forget([A, A + ".dir"]) == 3
    assert db.get("/cache/files/md5/01/23", stat) is None
    assert db.get("data/sub/x.bin", stat) is None and db.get("model.bin", stat) is None
    assert db.get("data/sub/y.bin", stat) == B and db.get("other/z.bin", stat) == B
    # the directories above a forgotten file, and one hashed to a forgotten manifest
    assert db.get_dir("data", "sig") is None and db.get_dir("data/sub", "sig2") is None
    assert db.get_dir("broken", "sig4") is None
    assert db.get_dir("other", "sig3") == (B + ".dir", 1, 1)
    assert not db.memo_holds(f"complete:{A}.dir", "layout")
    assert db.memo_holds(f"complete:{B}.dir", "layout")
    assert db.forget([]) == 0
    db.close()


def test_forget_reaches_rows_still_buffered_and_many_md5s(tmp_path):
    db = StatCache(str(tmp_path / "stat.db"))
    many = [f"{i:032x}" for i in range(1200)]  # more than one statement's worth
    db.put_trusted([(f"f{i}", (i, 1, 1), m) for i, m in enumerate(many)])  # not flushed yet
    assert db.forget(many[::2]) == 600
    assert db.get("f0", (0, 1, 1)) is None and db.get("f1", (1, 1, 1)) == many[1]
    db.close()

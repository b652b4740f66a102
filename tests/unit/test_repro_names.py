"""Stage names as doit task names, and lode's doit database: pure pieces of `lode repro`'s
honesty (tests/integration/test_repro_honest.py runs them through the CLI).

- every stage address maps to a doit task name doit accepts and never reads as an option,
  a variable or a pattern, one-to-one, and ordinary names map to themselves;
- a doit database doit could not read is found (garbage, truncated, a directory, a link,
  rows doit would choke on), rebuilt with a warning, or refused when it cannot be.
"""

from __future__ import annotations

import os
import sqlite3
import types
import urllib.parse
from pathlib import Path

import pytest
from doit.doit_cmd import DoitMain
from doit.task import dict_to_task
from hypothesis import given
from hypothesis import strategies as st

from lode.pipeline.stage import Stage
from lode.pipeline.tasks import (
    StateError,
    _db_problem,
    doit_escape,
    doit_task_name,
    usable_state_db,
)

ROOT = "/repo"

names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
subdirs = st.sampled_from(["", "sub", "a:b", "-x", "x=y", "s p", "100%"])


def task_name(subdir: str, name: str) -> str:
    dvcfile = os.path.join(ROOT, subdir, "dvc.yaml")
    return doit_task_name(Stage(name, dvcfile, os.path.dirname(dvcfile), "true"), ROOT)


@pytest.mark.parametrize("name", ["train", "build@a", "train@1-x", "a.b", "1st", "é_ü",
                                  "a b", "a/b", "x-", "数据", "a@b-c.d_e"])
def test_ordinary_names_are_their_own_doit_names(name):
    assert task_name("", name) == name
    assert task_name("sub", name) == f"sub/dvc.yaml:{name}"


@pytest.mark.parametrize(("name", "escaped"), [
    ("a:b", "a%3Ab"), ("a=b", "a%3Db"), ("a*", "a%2A"), ("-x", "%2Dx"), ("x-y", "x-y"),
    ("50%", "50%25"), ("a\nb", "a%0Ab"), ("a\tb", "a%09b"), ("--help", "%2D-help"),
])
def test_what_doit_gives_a_meaning_is_escaped(name, escaped):
    assert doit_escape(name) == escaped


@given(subdirs, names)
def test_every_name_is_a_task_doit_accepts_and_reads_as_a_name(subdir, name):
    task = task_name(subdir, name)
    dict_to_task({"name": task, "actions": []})  # doit refuses '=' here
    assert DoitMain().process_args([task]) == [task]  # not taken for `VAR=value`
    assert not task.startswith("-") and "*" not in task
    assert task.count(":") == (1 if subdir else 0)  # only the dvc.yaml separator
    assert task.isprintable()


@given(subdirs, names)
def test_a_task_name_gives_back_its_stage(subdir, name):
    task = task_name(subdir, name)
    rel, sep, escaped = task.rpartition(":")
    assert urllib.parse.unquote(escaped, errors="surrogatepass") == name
    if sep:
        assert urllib.parse.unquote(rel) == os.path.join(subdir, "dvc.yaml")


@given(subdirs, names, subdirs, names)
def test_two_stages_never_share_a_task(d1, n1, d2, n2):
    if (d1, n1) != (d2, n2):
        assert task_name(d1, n1) != task_name(d2, n2)


# ------------------------------------------------------------------------ the database


def doit_db(path: Path, rows: dict[str, str]) -> None:
    """A database as doit's sqlite3 backend writes it."""
    conn = sqlite3.connect(path)
    conn.execute("create table doit (task_id text not null primary key, task_data json)")
    conn.executemany("insert into doit values (?, ?)", rows.items())
    conn.commit()
    conn.close()


def test_a_database_doit_can_use_passes(tmp_path):
    db = tmp_path / "doit.sqlite3"
    assert _db_problem(str(db)) is None  # none yet: doit makes it
    db.write_bytes(b"")
    assert _db_problem(str(db)) is None  # SQLite takes an empty file as a database
    db.unlink()
    doit_db(db, {f"t{i}": f'{{"_values_:": {{}}, "n": {i}}}' for i in range(500)})
    assert _db_problem(str(db)) is None


def broken(kind: str, db: Path, tmp_path: Path) -> None:
    if kind == "garbage":
        db.write_bytes(b"this is not SQLite\n" * 10)
    elif kind == "truncated":
        doit_db(db, {f"t{i}": '{"x": "' + "y" * 200 + '"}' for i in range(2000)})
        db.write_bytes(db.read_bytes()[:5000])
    elif kind == "header only":
        db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 84)
    elif kind == "directory":
        db.mkdir()
    elif kind == "symlink":
        os.symlink(tmp_path / "elsewhere.db", db)
    elif kind == "not json":
        doit_db(db, {"a": "{not json"})
    elif kind == "not a mapping":
        doit_db(db, {"a": "[1, 2]"})
    elif kind == "other table shape":
        conn = sqlite3.connect(db)
        conn.execute("create table doit (x integer)")
        conn.execute("insert into doit values (1)")
        conn.commit()
        conn.close()


KINDS = ["garbage", "truncated", "header only", "directory", "symlink", "not json",
         "not a mapping", "other table shape"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_database_doit_would_choke_on_is_found(kind, tmp_path):
    db = tmp_path / "doit.sqlite3"
    broken(kind, db, tmp_path)
    assert _db_problem(str(db))


def fake_repo(tmp_path: Path):
    state = tmp_path / ".dvc" / "tmp" / "lode"
    return types.SimpleNamespace(root=str(tmp_path), state_dir=str(state))


@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_database_is_rebuilt_with_a_warning(kind, tmp_path):
    repo = fake_repo(tmp_path)
    os.makedirs(repo.state_dir)
    db = Path(repo.state_dir) / "doit.sqlite3"
    broken(kind, db, tmp_path)
    (Path(repo.state_dir) / "doit.sqlite3-journal").write_bytes(b"stale")
    said: list[str] = []
    assert usable_state_db(repo, said.append) == str(db)
    assert len(said) == 1 and said[0].startswith("WARNING: ")
    assert ".dvc/tmp/lode/doit.sqlite3" in said[0] and "rebuilt" in said[0]
    assert not os.path.lexists(db) and not os.path.lexists(f"{db}-journal")
    assert not (tmp_path / "elsewhere.db").exists()  # a link is removed, never followed
    said.clear()
    doit_db(db, {"a": "{}"})
    assert usable_state_db(repo, said.append) == str(db) and said == []


def test_a_database_that_cannot_be_removed_is_a_sentence(tmp_path):
    repo = fake_repo(tmp_path)
    db = Path(repo.state_dir) / "doit.sqlite3"
    db.mkdir(parents=True)
    (db / "someone's file").write_text("keep me")
    with pytest.raises(StateError) as e:
        usable_state_db(repo, print)
    assert ".dvc/tmp/lode/doit.sqlite3" in str(e.value) and "Remove" in str(e.value)
    assert (db / "someone's file").read_text() == "keep me"

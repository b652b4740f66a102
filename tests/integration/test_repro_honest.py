"""`lode repro`, plain `doit` and `lode run` never report a success that did not happen,
on real repositories through the real CLI (and the real dvc for the names they share):

- every stage name DVC accepts runs under `lode repro` and under `doit` (as an escaped
  doit task name where doit gives a character a meaning), `lode repro NAME` takes the DVC
  name, and the dvc.lock it writes leaves `dvc status` clean; a name DVC refuses is
  refused with one sentence naming it;
- a stage killed by a signal, one that did not produce its output, `-k` with one failure:
  non-zero, the failed stage named, the stages that did not run said so;
- lode's doit database broken in every way a disk or a hand can break it is rebuilt with
  a warning (or refused with a sentence), never a traceback nor a false success;
- a stage or recipe step doit skipped on its own (a `doit ignore` mark) is a failure.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from lode import yamlio

from .pipeline_helpers import (
    DVC_CLEAN,
    assert_one_error,
    doit_runner,
    lock_stages,
    log_lines,
    project,
    ran,
    status_json,
)

# every kind of name DVC 3 runs (checked against the real dvc below): punctuation doit
# reads as syntax, a leading '-', digits first, letters of other scripts, '/', spaces,
# and foreach/matrix names with '-' and '.' in their keys
AWKWARD = {
    "a:b": "colon", "a=b": "equals", "-x": "dash", "a*b": "star", "50%": "percent",
    "1st": "digit", "é_ü": "unicode", "a b": "space", "a/b": "slash", "a.b": "dot",
    "list": "command",
}
AWKWARD_YAML = "stages:\n" + "".join(
    f"  '{name}':\n    cmd: echo {out} >> LOG && echo {out} > {out}.txt\n"
    f"    outs: [{out}.txt]\n" for name, out in AWKWARD.items()
) + """\
  build:
    foreach: [a, 1-x, x.y]
    do:
      cmd: echo build-${item} >> LOG && echo ${item} > build-${item}.txt
      outs: ["build-${item}.txt"]
  train:
    matrix:
      lr: [1, 2]
      kind: [x, y.z]
    cmd: echo train >> LOG && echo ${item.lr} > train-${item.lr}-${item.kind}.txt
    outs: ["train-${item.lr}-${item.kind}.txt"]
"""
GENERATED = ["build@a", "build@1-x", "build@x.y", "train@1-x", "train@1-y.z", "train@2-x",
             "train@2-y.z"]
# what `doit list` shows for them: '%'-escaped where doit gives the character a meaning
DOIT_NAMES = {"a:b": "a%3Ab", "a=b": "a%3Db", "-x": "%2Dx", "a*b": "a%2Ab", "50%": "50%25"}


@pytest.fixture
def log(tmp_path) -> Path:
    return tmp_path / "runs.log"


@pytest.fixture
def make(lode, git_repo, log):
    def make_project(dvc_yaml: str, files: dict[str, str] | None = None) -> Path:
        fill = {k: v.replace("LOG", str(log)) for k, v in (files or {}).items()}
        return project(lode, git_repo, dvc_yaml.replace("LOG", str(log)), fill)

    return make_project


@pytest.fixture
def doit(lode):
    return doit_runner(lode)


def locked(repo: Path) -> list[str]:
    """The stage names of dvc.lock, in file order, as YAML reads them."""
    return list(yamlio.loads((repo / "dvc.lock").read_text())["stages"])


def no_traceback(proc) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def errors(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]


# ------------------------------------------------------------------------ stage names


@pytest.mark.dvc
def test_every_name_dvc_runs_runs_under_lode_and_dvc_agrees(make, lode, dvc, log):
    repo = make(AWKWARD_YAML)
    proc = lode("repro", "-j", "1", cwd=repo)
    assert ran(proc) == [*AWKWARD, *GENERATED]
    assert sorted(log_lines(log)) == sorted([*AWKWARD.values(), "build-a", "build-1-x",
                                             "build-x.y", *["train"] * 4])
    assert locked(repo) == [*AWKWARD, *GENERATED]
    assert dvc("status", cwd=repo).stdout.strip() == DVC_CLEAN
    assert dvc("repro", cwd=repo).stdout.count("didn't change, skipping") == \
        len(AWKWARD) + len(GENERATED)
    assert status_json(lode, repo) == {}
    again = lode("repro", cwd=repo)
    assert ran(again) == [] and DVC_CLEAN in again.stdout

    # targets take the DVC name, bare or after dvc.yaml:
    (repo / "equals.txt").write_text("changed\n")
    (repo / "dash.txt").unlink()
    proc = lode("repro", "dvc.yaml:a=b", "build@1-x", "--", "-x", cwd=repo)
    assert sorted(ran(proc)) == ["-x", "a=b"]
    assert dvc("status", cwd=repo).stdout.strip() == DVC_CLEAN


@pytest.mark.dvc
def test_lode_takes_over_what_dvc_ran_with_those_names(make, lode, dvc, log):
    repo = make(AWKWARD_YAML)
    dvc("repro", cwd=repo)
    count = len(log_lines(log))
    assert status_json(lode, repo) == {}
    proc = lode("repro", cwd=repo)
    assert ran(proc) == [] and DVC_CLEAN in proc.stdout
    assert len(log_lines(log)) == count


def test_doit_lists_and_runs_every_name(make, lode, doit, log):
    repo = make(AWKWARD_YAML)
    listing = doit("list", cwd=repo).stdout
    shown = {line.split("  ")[0].strip() for line in listing.splitlines() if line.strip()}
    expected = {DOIT_NAMES.get(n, n) for n in [*AWKWARD, *GENERATED]}
    assert shown == expected, listing
    assert "(stage 'a:b')" in listing  # an escaped task says which stage it is

    for name in [*AWKWARD, *GENERATED]:
        task = DOIT_NAMES.get(name, name)
        args = ("run", task) if task == "list" else (task,)  # `doit list` is doit's own
        proc = doit(*args, cwd=repo, check=False)
        assert proc.returncode == 0, (name, proc.stdout, proc.stderr)
    assert sorted(locked(repo)) == sorted([*AWKWARD, *GENERATED])
    assert status_json(lode, repo) == {}
    assert len(log_lines(log)) == len(AWKWARD) + len(GENERATED)


def test_a_stage_and_a_recipe_step_never_share_a_doit_task(make, lode, doit, log):
    """Recipe `a`'s step `b` is doit's `a:b`; stage `a:b` is `a%3Ab`; a stage in
    sub/dvc.yaml is `sub/dvc.yaml:NAME`."""
    repo = make("stages:\n  'a:b':\n    cmd: echo stage >> LOG\n",
                {"recipes.yaml": "recipes:\n  a:\n    pre: [{name: b, cmd: echo step >> LOG}]\n",
                 "sub/dvc.yaml": "stages:\n  'x:y':\n    cmd: echo sub >> LOG\n"})
    listing = doit("list", "--all", cwd=repo).stdout
    assert "a%3Ab" in listing and "a:b" in listing and "sub/dvc.yaml:x%3Ay" in listing
    doit("a%3Ab", cwd=repo)
    assert log_lines(log) == ["stage"]
    doit("sub/dvc.yaml:x%3Ay", cwd=repo)
    assert log_lines(log) == ["stage", "sub"]
    proc = lode("run", "a", cwd=repo)
    assert log_lines(log)[2] == "step", proc.stdout + proc.stderr


REFUSED = {
    "a number": ("  1:\n    cmd: 'true'\n", "1"),
    "null": ("  null:\n    cmd: 'true'\n", "null"),
    "empty": ("  '':\n    cmd: 'true'\n", "empty"),
    "a plain @": ("  x@y:\n    cmd: 'true'\n", "'x@y'"),
    "a foreach key with @": ("  g:\n    foreach: [u@v]\n    do:\n      cmd: 'true'\n",
                             "'g@u@v'"),
}


@pytest.mark.dvc
@pytest.mark.parametrize("case", list(REFUSED))
def test_a_name_dvc_refuses_is_one_sentence(case, make, lode, dvc, doit):
    body, named = REFUSED[case]
    repo = make("stages:\n" + body)
    assert dvc("repro", cwd=repo, check=False).returncode != 0  # DVC refuses it too
    line = assert_one_error(lode("repro", cwd=repo, check=False))
    assert named in line and "dvc.yaml" in line, line
    proc = doit("list", cwd=repo, check=False)
    assert proc.returncode != 0 and len(errors(proc)) == 1, proc.stderr
    no_traceback(proc)
    assert not (repo / "dvc.lock").exists()


# ------------------------------------------------------------------- failed stages

FAILURES = """\
stages:
  first:
    cmd: echo first >> LOG && echo 1 > first.txt
    outs: [first.txt]
  killed:
    cmd: echo killed >> LOG && kill -9 $$
    deps: [first.txt]
    outs: [killed.txt]
  after:
    cmd: echo after >> LOG && cp killed.txt after.txt
    deps: [killed.txt]
    outs: [after.txt]
  empty-handed:
    cmd: echo empty-handed >> LOG
    outs: [nothing.txt]
  aside:
    cmd: echo aside >> LOG && echo 2 > aside.txt
    outs: [aside.txt]
"""


def test_a_killed_stage_stops_the_run_and_is_named(make, lode, log):
    repo = make(FAILURES)
    proc = lode("repro", "-j", "1", cwd=repo, check=False)
    line = assert_one_error(proc)
    assert "stage 'killed' failed" in line and "killed by signal 9" in line
    assert proc.returncode == 1
    assert log_lines(log) == ["first", "killed"]
    for name in ("after", "empty-handed", "aside"):
        assert f"Stage '{name}' did not run" in proc.stdout, proc.stdout
    assert "Stage 'after' did not run (after 'killed' failed)" in proc.stdout
    assert lock_stages(repo / "dvc.lock") == ["first"]


def test_keep_going_runs_the_rest_and_names_each_failure(make, lode, log):
    repo = make(FAILURES)
    proc = lode("repro", "-k", "-j", "1", cwd=repo, check=False)
    assert proc.returncode == 1
    no_traceback(proc)
    lines = errors(proc)
    assert len(lines) == 2, proc.stderr
    assert "stage 'killed' failed" in lines[0] and "killed by signal 9" in lines[0]
    assert "stage 'empty-handed' failed" in lines[1] and "'nothing.txt'" in lines[1]
    assert "Stage 'after' did not run (after 'killed' failed)" in proc.stdout
    assert sorted(log_lines(log)) == ["aside", "empty-handed", "first", "killed"]
    assert lock_stages(repo / "dvc.lock") == ["first", "aside"]

    parallel = lode("repro", "-k", "-j", "4", cwd=repo, check=False)
    assert parallel.returncode == 1 and len(errors(parallel)) == 2, parallel.stderr


def test_doit_names_the_failed_stage_and_fails(make, doit, log):
    repo = make(FAILURES)
    proc = doit("after", cwd=repo, check=False)
    assert proc.returncode != 0
    assert "stage 'killed' failed" in proc.stdout + proc.stderr
    no_traceback(proc)
    assert log_lines(log) == ["first", "killed"]


# --------------------------------------------------------------------- doit's database

ONE = "stages:\n  one:\n    cmd: echo one >> LOG && echo 1 > one.txt\n    outs: [one.txt]\n"


def database(repo: Path) -> Path:
    return repo / ".dvc" / "tmp" / "lode" / "doit.sqlite3"


def real_db(path: Path, rows: int = 2000) -> None:
    conn = sqlite3.connect(path)
    conn.execute("create table doit (task_id text not null primary key, task_data json)")
    conn.executemany("insert into doit values (?, ?)",
                     [(f"t{i}", '{"v": "' + "x" * 100 + '"}') for i in range(rows)])
    conn.commit()
    conn.close()


def break_db(kind: str, db: Path, outside: Path) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    if db.exists() and not db.is_dir():
        db.unlink()
    if kind == "garbage":
        db.write_bytes(b"\x00garbage\xff" * 100)
    elif kind == "truncated":
        real_db(db)
        db.write_bytes(db.read_bytes()[:3000])
    elif kind == "directory":
        db.mkdir()
    elif kind == "symlink":
        os.symlink(outside, db)
    elif kind == "bad row":
        real_db(db, 0)
        conn = sqlite3.connect(db)
        conn.execute("insert into doit values ('one', '{not json')")
        conn.commit()
        conn.close()
    elif kind == "unreadable":
        real_db(db, 1)
        db.chmod(0)


KINDS = ["garbage", "truncated", "directory", "symlink", "bad row", "unreadable"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_doit_database_is_rebuilt_and_said(kind, make, lode, doit, log, tmp_path):
    if kind == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads a file whatever its mode")
    repo = make(ONE)
    outside = tmp_path / "outside.db"
    for attempt, run in enumerate((lambda: lode("repro", "-f", cwd=repo, check=False),
                                   lambda: doit("one", cwd=repo, check=False))):
        break_db(kind, database(repo), outside)
        (repo / "one.txt").unlink(missing_ok=True)  # out of date for doit too (no run cache:
        proc = run()  # the stage has no deps)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        no_traceback(proc)
        warnings = [w for w in proc.stderr.splitlines() if w.startswith("WARNING:")]
        assert len(warnings) == 1 and ".dvc/tmp/lode/doit.sqlite3" in warnings[0], proc.stderr
        assert "rebuilt" in warnings[0]
        assert len(log_lines(log)) == attempt + 1  # the stage really ran
        assert database(repo).is_file() and not database(repo).is_symlink()
        sqlite3.connect(database(repo)).execute("select * from doit").fetchall()
        assert not outside.exists()  # a link is removed, never written through
    quiet = lode("repro", cwd=repo)
    assert "WARNING" not in quiet.stderr  # rebuilt once, then used


def test_a_doit_database_that_cannot_be_rebuilt_is_one_sentence(make, lode, doit, log):
    repo = make(ONE)
    db = database(repo)
    db.mkdir(parents=True)
    (db / "notes").write_text("not lode's")
    line = assert_one_error(lode("repro", cwd=repo, check=False))
    assert ".dvc/tmp/lode/doit.sqlite3" in line and "Remove" in line
    proc = doit("one", cwd=repo, check=False)
    assert proc.returncode != 0 and len(errors(proc)) == 1, proc.stderr
    no_traceback(proc)
    assert log_lines(log) == [] and not (repo / "dvc.lock").exists()
    assert (db / "notes").read_text() == "not lode's"


def test_a_broken_doit_database_does_not_stop_a_recipe(make, lode, log):
    repo = make(ONE, {"recipes.yaml": "recipes:\n  r: {}\n"})
    break_db("garbage", database(repo), repo / "unused")
    proc = lode("run", "r", cwd=repo, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    no_traceback(proc)
    assert "rebuilt" in proc.stderr and log_lines(log) == ["one"]


# ---------------------------------------------------- what doit skips on its own


def test_a_stage_doit_was_told_to_ignore_is_not_a_success(make, lode, doit, log):
    repo = make(ONE)
    doit("ignore", "one", cwd=repo)
    line = assert_one_error(lode("repro", cwd=repo, check=False))
    assert "stage 'one'" in line and "doit forget one" in line
    assert log_lines(log) == [] and not (repo / "dvc.lock").exists()
    doit("forget", "one", cwd=repo)
    lode("repro", cwd=repo)
    assert log_lines(log) == ["one"]


def test_a_recipe_step_doit_was_told_to_ignore_is_not_a_success(make, lode, doit, log):
    repo = make(ONE, {"recipes.yaml":
                      "recipes:\n  r:\n    pre: [{name: hello, cmd: echo hello >> LOG}]\n"})
    doit("ignore", "r:hello", cwd=repo)
    proc = lode("run", "r", cwd=repo, check=False)
    line = assert_one_error(proc)
    assert "step 'hello'" in line and "doit forget r:hello" in line
    assert log_lines(log) == []
    record = lode("runs", "--json", cwd=repo).stdout
    assert '"state": "failed"' in record


def test_doit_refusing_its_command_line_is_a_failure_of_lode_run(make, lode, log):
    repo = make(ONE, {"recipes.yaml": "recipes:\n  r: {}\n"})
    proc = lode("run", "r", "--", "--no-such-option", cwd=repo, check=False)
    assert proc.returncode != 0
    no_traceback(proc)
    assert len(errors(proc)) == 1, proc.stderr
    assert log_lines(log) == []


def test_a_failing_recipe_step_is_a_failure(make, lode, log):
    repo = make(ONE, {"recipes.yaml": "recipes:\n  r:\n    pre: [{name: no, cmd: exit 4}]\n"})
    proc = lode("run", "r", cwd=repo, check=False)
    assert proc.returncode == 1
    no_traceback(proc)
    assert "no" in proc.stdout + proc.stderr
    assert log_lines(log) == []


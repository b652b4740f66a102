"""`lode repro`, `lode status` and plain `doit` on real dvc.yaml pipelines in real Git
repositories: what runs, what is skipped or restored, what dvc.lock and the cache hold
afterwards, and how bad pipelines are refused.

Most pipelines are small shell stages whose commands append their name to a run log
outside the repository (`echo a >> LOG`), so a test sees exactly which commands ran. A
few tests run the churn demo (templates/churn, scikit-learn) end to end.
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import sys
import time
from pathlib import Path

import pytest

from .pipeline_helpers import (
    DVC_CLEAN,
    assert_one_error,
    cache_snapshot,
    churn_python,
    copy_churn,
    doit_runner,
    lock_stages,
    log_lines,
    project,
    ran,
    restored,
    skipped,
    status_json,
    write,
)

PY = shlex.quote(sys.executable)

# a -> b -> c, and d beside them (d reads the same input as a, nothing reads d)
CHAIN = """\
stages:
  a:
    desc: First link of the chain.
    cmd: echo a >> LOG && cp in.txt a.txt
    deps:
    - in.txt
    params:
    - x
    outs:
    - a.txt
  b:
    cmd: echo b >> LOG && cat a.txt a.txt > b.txt
    deps:
    - a.txt
    outs:
    - b.txt
  c:
    cmd: echo c >> LOG && cat b.txt > c.txt
    deps:
    - b.txt
    outs:
    - c.txt
  d:
    cmd: echo d >> LOG && cp in.txt d.txt
    deps:
    - in.txt
    outs:
    - d.txt
"""
CHAIN_FILES = {"in.txt": "hello\n", "params.yaml": "x: 1\n"}


@pytest.fixture
def log(tmp_path) -> Path:
    return tmp_path / "runs.log"


@pytest.fixture
def make(lode, git_repo, log):
    """`make(dvc_yaml, files)`: a lode project in the git repository; `LOG` in the texts
    is replaced by the run log's path."""

    def make_project(dvc_yaml: str, files: dict[str, str] | None = None) -> Path:
        fill = {k: v.replace("LOG", str(log)) for k, v in (files or {}).items()}
        return project(lode, git_repo, dvc_yaml.replace("LOG", str(log)), fill)

    return make_project


@pytest.fixture
def doit(lode):
    return doit_runner(lode)


def set_param(repo: Path, old: str, new: str, name: str = "params.yaml") -> None:
    path = repo / name
    text = path.read_text()
    assert old in text, text
    path.write_text(text.replace(old, new))


# ----------------------------------------------------------------- 1. churn end to end


def test_churn_runs_skips_reruns_and_restores_from_run_cache(lode, git_repo, log):
    churn_python(lode)
    repo = git_repo
    lode("init", "-q", cwd=repo)
    copy_churn(repo, log=log)

    first = lode("repro", cwd=repo)
    assert ran(first) == ["load", "train", "eval"]
    assert log_lines(log) == ["load", "train", "eval"]
    assert lock_stages(repo / "dvc.lock") == ["load", "train", "eval"]
    for out in ("data/train.csv", "data/test.csv", "model.pkl", "metrics.json", "confusion.csv"):
        assert (repo / out).is_file(), out
    lock_1 = (repo / "dvc.lock").read_bytes()
    model_1 = (repo / "model.pkl").read_bytes()
    metrics_1 = (repo / "metrics.json").read_bytes()

    again = lode("repro", cwd=repo)
    assert ran(again) == [] and restored(again) == []
    assert skipped(again) == ["load", "train", "eval"]
    assert DVC_CLEAN in again.stdout
    assert log_lines(log) == ["load", "train", "eval"]
    assert (repo / "dvc.lock").read_bytes() == lock_1

    set_param(repo, "C: 0.5", "C: 1.5")
    changed = lode("repro", cwd=repo)
    assert ran(changed) == ["train", "eval"]
    assert skipped(changed) == ["load"]
    assert log_lines(log) == ["load", "train", "eval", "train", "eval"]
    assert (repo / "model.pkl").read_bytes() != model_1
    assert "train.C: 1.5" in (repo / "dvc.lock").read_text()

    set_param(repo, "C: 1.5", "C: 0.5")
    back = lode("repro", cwd=repo)
    assert ran(back) == [], back.stdout
    assert restored(back) == ["train", "eval"]
    assert skipped(back) == ["load"]
    assert log_lines(log) == ["load", "train", "eval", "train", "eval"]  # nothing ran
    assert (repo / "model.pkl").read_bytes() == model_1
    assert (repo / "metrics.json").read_bytes() == metrics_1  # cache: false, restored too
    assert (repo / "dvc.lock").read_bytes() == lock_1
    assert status_json(lode, repo) == {}


def test_churn_stages_in_doit_list_with_their_descriptions(lode, git_repo, doit):
    repo = git_repo
    lode("init", "-q", cwd=repo)
    copy_churn(repo)
    listing = doit("list", cwd=repo).stdout
    descs = dict(re.findall(r"^  (\w+):\n    desc: (.*)$", (repo / "dvc.yaml").read_text(), re.M))
    assert set(descs) == {"load", "train", "eval"}
    lines = {line.split()[0]: line for line in listing.splitlines() if line.strip()}
    for name, desc in descs.items():
        assert name in lines, listing
        assert desc in lines[name], listing


# ------------------------------------------------------------------------- 2. failures

FAILING = {
    "exit": "echo partial > bad.txt; exit 3",
    "raise": f"{PY} -c \"open('bad.txt', 'w').write('partial'); raise ValueError('boom')\"",
    "no output": "echo did nothing",
}


@pytest.mark.parametrize("how", sorted(FAILING))
def test_failed_stage_leaves_lock_and_cache_as_they_were(make, lode, log, how):
    repo = make(CHAIN, CHAIN_FILES)
    lode("repro", cwd=repo)
    lock = (repo / "dvc.lock").read_bytes()
    cache = cache_snapshot(repo)
    assert cache

    yaml = (repo / "dvc.yaml").read_text()
    cmd = f"echo b >> {log} && cat a.txt a.txt > b.txt"
    (repo / "dvc.yaml").write_text(yaml.replace(cmd, FAILING[how]))
    proc = lode("repro", cwd=repo, check=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and "'b'" in errors[0], proc.stderr
    if how == "raise":  # the stage's own traceback reaches the user, and only that one
        assert "ValueError: boom" in proc.stderr
        assert proc.stderr.count("Traceback") == 1
    else:
        assert "Traceback" not in proc.stderr
    assert ran(proc) == ["b"]
    assert (repo / "dvc.lock").read_bytes() == lock
    assert cache_snapshot(repo) == cache


def test_failure_stops_the_run_and_locks_what_finished_before(make, lode, log):
    repo = make(CHAIN.replace("cat a.txt a.txt > b.txt", "exit 3"), CHAIN_FILES)
    proc = lode("repro", "-j", "1", cwd=repo, check=False)
    assert proc.returncode != 0
    error = assert_one_error(proc)
    assert "'b'" in error and re.search(r"\b3\b", error), error
    assert log_lines(log) == ["a", "b"]  # neither c (after b) nor d (after it in order)
    assert lock_stages(repo / "dvc.lock") == ["a"]
    assert not (repo / "c.txt").exists()
    assert status_json(lode, repo, "a") == {}


def test_keep_going_runs_the_independent_branch(make, lode, log):
    repo = make(CHAIN.replace("cat a.txt a.txt > b.txt", "exit 3"), CHAIN_FILES)
    proc = lode("repro", "-k", "-j", "1", cwd=repo, check=False)
    assert proc.returncode != 0
    assert "'b'" in proc.stderr, proc.stderr
    assert sorted(log_lines(log)) == ["a", "b", "d"]  # c needs b: never started
    assert sorted(lock_stages(repo / "dvc.lock")) == ["a", "d"]
    assert (repo / "d.txt").read_text() == "hello\n"
    assert not (repo / "c.txt").exists()


# ------------------------------------------------------------------------- 3. parallel

SLEEPERS = """\
stages:
  one:
    cmd: sleep 3 && echo one > one.txt
    outs:
    - one.txt
  two:
    cmd: sleep 3 && echo two > two.txt
    outs:
    - two.txt
"""


def test_independent_stages_run_in_parallel_with_jobs(make, lode):
    """Slow-ish (about 10 s): two 3-second stages, at once and then one after the other."""
    repo = make(SLEEPERS)
    start = time.monotonic()
    proc = lode("repro", "-j", "2", cwd=repo)
    parallel = time.monotonic() - start
    assert sorted(ran(proc)) == ["one", "two"]
    assert parallel < 5.5, f"-j 2 took {parallel:.1f} s"
    assert (repo / "one.txt").read_text() == "one\n"
    lock = (repo / "dvc.lock").read_bytes()

    start = time.monotonic()
    proc = lode("repro", "-f", "-j", "1", cwd=repo)
    serial = time.monotonic() - start
    assert ran(proc) == ["one", "two"]
    assert serial >= 6, f"-j 1 took {serial:.1f} s"
    # whichever finished first, the lock file lists the stages in pipeline order
    assert (repo / "dvc.lock").read_bytes() == lock
    assert lock_stages(repo / "dvc.lock") == ["one", "two"]


# ---------------------------------------------------------------- 4. options, targets


def test_dry_prints_what_would_run_and_why_and_runs_nothing(make, lode, log):
    repo = make(CHAIN, CHAIN_FILES)
    dry = lode("repro", "--dry", cwd=repo)
    for name in "abcd":
        assert re.search(rf"^would run\s+{name}: never ran$", dry.stdout, re.M), dry.stdout
    assert not (repo / "dvc.lock").exists()
    assert not log.exists()
    assert not any((repo / f"{n}.txt").exists() for n in "abcd")
    assert not (repo / ".gitignore").exists()

    lode("repro", cwd=repo)
    lock = (repo / "dvc.lock").read_bytes()
    set_param(repo, "x: 1", "x: 2")
    dry = lode("repro", "--dry", cwd=repo)
    lines = dict(re.findall(r"^(?:would run|skip)\s+(\w+): (.*)$", dry.stdout, re.M))
    assert "changed params: x" in lines["a"], dry.stdout
    assert re.search(r"^would run\s+a:", dry.stdout, re.M)
    assert re.search(r"^would run\s+b:", dry.stdout, re.M), dry.stdout  # after a
    assert re.search(r"^skip\s+d: up to date$", dry.stdout, re.M), dry.stdout
    assert (repo / "dvc.lock").read_bytes() == lock
    assert sorted(log_lines(log)) == ["a", "b", "c", "d"]  # the first repro's only


def test_force_reruns_up_to_date_stages(make, lode, log):
    repo = make(CHAIN, CHAIN_FILES)
    lode("repro", cwd=repo)
    lock = (repo / "dvc.lock").read_bytes()
    log.unlink()
    proc = lode("repro", "-f", "-j", "1", cwd=repo)
    assert ran(proc) == ["a", "b", "c", "d"]
    assert log_lines(log) == ["a", "b", "c", "d"]
    assert (repo / "dvc.lock").read_bytes() == lock


def test_force_with_nothing_changed_suggests_no_empty_git_add(make, lode):
    repo = make(CHAIN, CHAIN_FILES)
    lode("repro", cwd=repo)
    proc = lode("repro", "-f", cwd=repo)
    assert not [line for line in proc.stdout.splitlines() if line.strip() == "git add"], (
        proc.stdout
    )


def test_single_item_and_downstream(make, lode, log):
    repo = make(CHAIN, CHAIN_FILES)
    lode("repro", cwd=repo)
    assert sorted(log_lines(log)) == ["a", "b", "c", "d"]
    log.unlink()

    (repo / "in.txt").write_text("changed\n")  # a and d are now out of date
    proc = lode("repro", "-s", "-f", "b", cwd=repo)
    assert ran(proc) == ["b"]
    assert log_lines(log) == ["b"]
    assert set(status_json(lode, repo)) == {"a", "d"}

    proc = lode("repro", "-s", "b", cwd=repo)  # b itself is up to date: nothing runs
    assert ran(proc) == []
    log.unlink()

    proc = lode("repro", "--downstream", "-j", "1", "b", "-f", cwd=repo)
    assert ran(proc) == ["b", "c"]  # not a above it, not d beside it
    log.unlink()

    proc = lode("repro", "--downstream", "-j", "1", "a", cwd=repo)
    assert ran(proc) == ["a", "b", "c"]
    assert (repo / "c.txt").read_text() == "changed\nchanged\n"
    assert set(status_json(lode, repo)) == {"d"}


TARGETS = """\
stages:
  a:
    cmd: echo a >> LOG && cp in.txt a.txt
    deps:
    - in.txt
    outs:
    - a.txt
  grp:
    foreach:
    - x
    - y
    do:
      cmd: echo grp-${item} >> LOG && echo ${item} > g-${item}.txt
      outs:
      - g-${item}.txt
"""
SUB = """\
stages:
  s:
    cmd: echo s >> LOG && cat ../a.txt ../a.txt > s.txt
    deps:
    - ../a.txt
    outs:
    - s.txt
"""


def test_targets_stage_group_dvcfile_and_dvcfile_stage(make, lode, log):
    repo = make(TARGETS, {"in.txt": "hi\n", "sub/dvc.yaml": SUB})

    assert ran(lode("repro", "a", cwd=repo)) == ["a"]
    assert sorted(ran(lode("repro", "grp", cwd=repo))) == ["grp@x", "grp@y"]
    assert (repo / "g-x.txt").read_text() == "x\n"

    proc = lode("repro", "sub/dvc.yaml", cwd=repo)
    assert ran(proc) == ["sub/dvc.yaml:s"]
    assert skipped(proc) == ["a"]
    assert (repo / "sub" / "s.txt").read_text() == "hi\nhi\n"
    assert lock_stages(repo / "sub" / "dvc.lock") == ["s"]
    assert lock_stages(repo / "dvc.lock") == ["a", "grp@x", "grp@y"]

    proc = lode("repro", "-f", "dvc.yaml:grp@y", cwd=repo)
    assert ran(proc) == ["grp@y"]
    proc = lode("repro", "-f", "-s", "sub/dvc.yaml:s", cwd=repo)
    assert ran(proc) == ["sub/dvc.yaml:s"]
    lines = log_lines(log)
    assert lines[0] == "a" and sorted(lines[1:3]) == ["grp-x", "grp-y"], lines
    assert lines[3:] == ["s", "grp-y", "s"], lines

    proc = lode("repro", "dvc.yaml", cwd=repo)
    assert ran(proc) == [] and DVC_CLEAN in proc.stdout
    assert status_json(lode, repo) == {}


def test_nested_dvcfile_runs_in_its_directory_from_the_root(make, lode, log):
    sub = SUB.replace("../a.txt", "in.txt")
    repo = make("stages: {}\n", {"sub/dvc.yaml": sub, "sub/in.txt": "nested\n"})
    proc = lode("repro", "sub/dvc.yaml", cwd=repo)
    assert ran(proc) == ["sub/dvc.yaml:s"]
    assert (repo / "sub" / "s.txt").read_text() == "nested\nnested\n"
    assert not (repo / "s.txt").exists()
    assert lock_stages(repo / "sub" / "dvc.lock") == ["s"]
    assert not (repo / "dvc.lock").exists()
    assert "/s.txt" in (repo / "sub" / ".gitignore").read_text().splitlines()
    assert "- path: in.txt" in (repo / "sub" / "dvc.lock").read_text()  # relative to sub/

    inside = lode("repro", cwd=repo / "sub")
    assert ran(inside) == [] and skipped(inside) == ["s"]
    assert status_json(lode, repo) == {}
    assert log_lines(log) == ["s"]


# ------------------------------------------------------------------ 5. refused pipelines

ONE = """\
stages:
  a:
    cmd: echo a >> LOG && echo > o.txt
    outs:
    - o.txt
"""

INVALID = {
    "cycle": (
        """\
        stages:
          a:
            cmd: echo a >> LOG && cp b.txt a.txt
            deps:
            - b.txt
            outs:
            - a.txt
          b:
            cmd: echo b >> LOG && cp a.txt b.txt
            deps:
            - a.txt
            outs:
            - b.txt
        """,
        (),
        ("cycle", r"\ba -> b -> a\b|\bb -> a -> b\b"),
    ),
    "two stages, one output": (
        """\
        stages:
          a:
            cmd: echo a >> LOG && echo > o.txt
            outs:
            - o.txt
          b:
            cmd: echo b >> LOG && echo > o.txt
            outs:
            - o.txt
        """,
        (),
        ("o.txt", "'a'", "'b'"),
    ),
    "output inside an output": (
        """\
        stages:
          a:
            cmd: echo a >> LOG && mkdir -p d && echo > d/x.txt
            outs:
            - d
          b:
            cmd: echo b >> LOG && mkdir -p d && echo > d/y.txt
            outs:
            - d/y.txt
        """,
        (),
        ("d/y.txt", "'d'", "'a'", "'b'"),
    ),
    "unknown target": (ONE, ("nope",), ("'nope'",)),
    "missing params key": (
        ONE.replace("    outs:", "    params:\n    - train.lr\n    outs:"),
        (),
        ("'train.lr'", "params.yaml"),
    ),
    "missing dependency": (
        ONE.replace("    outs:", "    deps:\n    - nothere.txt\n    outs:"),
        (),
        ("nothere.txt",),
    ),
    "malformed yaml": (
        ONE.replace("    - o.txt", "    - [o.txt"),
        (),
        ("dvc.yaml", r"line [56]\b"),
    ),
    "unknown stage field": (ONE.replace("outs:", "outz:"), (), ("'outz'", "'a'")),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_pipeline_is_refused_before_anything_runs(make, lode, log, case):
    dvc_yaml, targets, expected = INVALID[case]
    repo = make(dvc_yaml, {"params.yaml": "x: 1\n"})
    proc = lode("repro", *targets, cwd=repo, check=False)
    error = assert_one_error(proc)
    for pattern in expected:
        assert re.search(pattern, error), error
    assert not log.exists(), "a stage ran"
    assert not (repo / "dvc.lock").exists()
    assert not (repo / "o.txt").exists()
    assert cache_snapshot(repo) == {}


# ------------------------------------------------- 6. vars, ${}, foreach, matrix: names

GENERATED = """\
vars:
- config.yaml
- suffix: txt
  models:
  - small
  - large
stages:
  prep:
    cmd: echo prep >> LOG && echo ${train.lr} ${train.epochs} > prep.${suffix}
    params:
    - train.lr
    outs:
    - prep.${suffix}
  per_model:
    foreach: ${models}
    do:
      cmd: echo per_model >> LOG && echo ${item} > model-${item}.${suffix}
      deps:
      - prep.${suffix}
      outs:
      - model-${item}.${suffix}
  per_region:
    foreach:
      us: 1
      eu: 2
    do:
      cmd: echo per_region >> LOG && echo ${key}=${item} > region-${key}.txt
      outs:
      - region-${key}.txt
  grid:
    matrix:
      model: ${models}
      lr: [0.1, 1]
    cmd: echo grid >> LOG && echo ${item.model} ${item.lr} > grid-${item.model}-${item.lr}.txt
    deps:
    - model-${item.model}.${suffix}
    outs:
    - grid-${item.model}-${item.lr}.txt
  escaped:
    cmd: echo escaped >> LOG && echo '\\${suffix}' ${suffix} > escaped.txt
    outs:
    - escaped.txt
"""
GENERATED_NAMES = [
    "prep",
    "per_model@small",
    "per_model@large",
    "per_region@us",
    "per_region@eu",
    "grid@small-0.1",
    "grid@small-1",
    "grid@large-0.1",
    "grid@large-1",
    "escaped",
]


def test_vars_interpolation_foreach_and_matrix(make, lode, log):
    repo = make(
        GENERATED,
        {"params.yaml": "train:\n  lr: 0.01\n", "config.yaml": "train:\n  epochs: 3\n"},
    )
    proc = lode("repro", "-j", "1", cwd=repo)
    assert sorted(ran(proc)) == sorted(GENERATED_NAMES)
    assert sorted(lock_stages(repo / "dvc.lock")) == sorted(GENERATED_NAMES)
    assert (repo / "prep.txt").read_text() == "0.01 3\n"
    assert (repo / "model-large.txt").read_text() == "large\n"
    assert (repo / "region-eu.txt").read_text() == "eu=2\n"
    assert (repo / "grid-small-1.txt").read_text() == "small 1\n"
    assert (repo / "escaped.txt").read_text() == "${suffix} txt\n"
    assert len(log_lines(log)) == len(GENERATED_NAMES)

    listing = lode("repro", "--dry", cwd=repo).stdout
    assert sorted(re.findall(r"^skip\s+(\S+):", listing, re.M)) == sorted(GENERATED_NAMES)
    assert status_json(lode, repo) == {}

    # a var is not a param: what changes is the command that uses it
    set_param(repo, "epochs: 3", "epochs: 4", "config.yaml")
    assert status_json(lode, repo) == {"prep": ["changed command"]}
    proc = lode("repro", "grid@large-1", cwd=repo)
    assert ran(proc) == ["prep", "per_model@large"]  # model-large.txt unchanged: not grid
    assert (repo / "prep.txt").read_text() == "0.01 4\n"


@pytest.mark.parametrize(
    ("dep", "out"), [("data.csv", "data.csv"), ("data/rows.csv", "data")], ids=["file", "dir"]
)
def test_dependency_that_is_also_the_output_is_refused_and_kept(make, lode, log, dep, out):
    # DVC 3: "ERROR: Same item(s) are defined as both a dependency and an output in stage: a."
    repo = make(
        f"""\
        stages:
          sort:
            cmd: echo sort >> LOG && sort {dep} -o {dep}
            deps:
            - {dep}
            outs:
            - {out}
        """,
        {dep: "b\na\nprecious\n"},
    )
    proc = lode("repro", cwd=repo, check=False)
    assert (repo / dep).is_file(), "the stage's input was deleted"
    assert (repo / dep).read_text() == "b\na\nprecious\n"
    error = assert_one_error(proc)
    assert "sort" in error and dep.split("/")[0] in error, error
    assert not log.exists()


def test_always_changed_stage_runs_every_time(make, lode, log):
    repo = make(
        """\
        stages:
          fetch:
            cmd: echo fetch >> LOG && cat LOG > fetched.txt
            outs:
            - fetched.txt
            always_changed: true
        """
    )
    lode("repro", cwd=repo)
    assert status_json(lode, repo) == {"fetch": ["always changed"]}  # as DVC says
    proc = lode("repro", cwd=repo)
    assert ran(proc) == ["fetch"], proc.stdout
    assert log_lines(log) == ["fetch", "fetch"]
    assert (repo / "fetched.txt").read_text() == "fetch\nfetch\n"


def test_frozen_stage_is_not_run_and_its_missing_output_is_an_error(make, lode, log):
    repo = make(CHAIN, CHAIN_FILES)
    lode("repro", cwd=repo)
    set_param(repo, "    - d.txt\n", "    - d.txt\n    frozen: true\n", "dvc.yaml")
    (repo / "in.txt").write_text("changed\n")
    (repo / "d.txt").unlink()
    log.unlink()
    proc = lode("repro", "-j", "1", cwd=repo, check=False)
    assert "d" not in log_lines(log)  # frozen: never run, whatever changed
    assert ran(proc) == ["a", "b", "c"]
    # DVC 3: "ERROR: failed to reproduce 'd': missing data 'source': d.txt"
    assert proc.returncode != 0
    assert "'d'" in proc.stderr and "d.txt" in proc.stderr, proc.stderr


# -------------------------------------------------------------------------------- 7. doit


def test_doit_list_info_and_run(make, lode, doit, log):
    repo = make(
        CHAIN.replace("  b:\n", "  b:\n    desc: Doubles a.\n"),
        {**CHAIN_FILES, "params.yaml": "x: 1\ntrain:\n  C: 0.5\n"},
    )
    set_param(repo, "    - x\n", "    - x\n    - train.C\n", "dvc.yaml")
    assert (repo / "dodo.py").is_file()

    listing = doit("list", cwd=repo).stdout
    lines = {line.split()[0]: line for line in listing.splitlines() if line.strip()}
    assert set(lines) == {"a", "b", "c", "d"}, listing
    assert "First link of the chain." in lines["a"]
    assert "Doubles a." in lines["b"]
    assert "cat b.txt > c.txt" in lines["c"]  # no desc: the command

    info = doit("info", "a", cwd=repo, check=False)
    assert info.returncode != 0
    assert "never ran" in info.stdout, info.stdout

    proc = doit("b", cwd=repo)  # b and what it needs
    assert log_lines(log) == ["a", "b"], proc.stdout
    assert lock_stages(repo / "dvc.lock") == ["a", "b"]
    assert (repo / "b.txt").read_text() == "hello\nhello\n"
    assert status_json(lode, repo, "a", "b") == {}
    assert "/b.txt" in (repo / ".gitignore").read_text().splitlines()

    info = doit("info", "a", cwd=repo)
    assert "up-to-date" in info.stdout, info.stdout

    set_param(repo, "C: 0.5", "C: 1.5")
    info = doit("info", "a", cwd=repo, check=False)
    assert info.returncode != 0
    assert "changed params: train.C" in info.stdout, info.stdout

    lode("repro", "-j", "1", cwd=repo)  # serial: the log order below is the run order
    info = doit("info", "a", cwd=repo)
    assert info.returncode == 0 and "up-to-date" in info.stdout, info.stdout
    assert log_lines(log)[:3] == ["a", "b", "a"]  # b: a.txt did not change
    assert sorted(log_lines(log)[3:]) == ["c", "d"]
    doit("c", cwd=repo)
    assert len(log_lines(log)) == 5
    assert lock_stages(repo / "dvc.lock") == ["a", "b", "c", "d"]

    # doit keeps its state under .dvc/tmp/lode/, nothing in the project
    assert list((repo / ".dvc" / "tmp" / "lode").glob("doit*"))
    assert not [p.name for p in repo.iterdir() if p.name.startswith(".doit")]


def test_doit_stage_is_up_to_date_after_repro_and_run_by_doit(make, lode, doit, log):
    repo = make(CHAIN, CHAIN_FILES)
    lode("repro", cwd=repo)
    before = (repo / "dvc.lock").read_bytes()
    doit("c", cwd=repo)
    assert len(log_lines(log)) == 4  # nothing ran again under doit
    assert (repo / "dvc.lock").read_bytes() == before

    (repo / "in.txt").write_text("other\n")
    doit("c", cwd=repo)
    assert log_lines(log)[4:] == ["a", "b", "c"]  # d is not c's upstream
    assert set(status_json(lode, repo)) == {"d"}


def test_init_dodo_adds_only_the_dodo_file(lode, git_repo, doit):
    repo = git_repo
    lode("init", "-q", cwd=repo)
    (repo / "dodo.py").unlink()
    write(repo, {"dvc.yaml": CHAIN.replace("LOG", "/dev/null"), **CHAIN_FILES})
    before = sorted(p.name for p in repo.iterdir())
    lode("init", "--dodo", cwd=repo)
    assert sorted(p.name for p in repo.iterdir()) == sorted([*before, "dodo.py"])
    assert "a" in doit("list", cwd=repo).stdout

    (repo / "dodo.py").write_text("# mine\n")
    lode("init", "--dodo", cwd=repo)
    assert (repo / "dodo.py").read_text() == "# mine\n"


def test_doit_reports_a_failed_stage_and_locks_what_ran_before(make, lode, doit):
    repo = make(
        """\
        stages:
          ok:
            cmd: cp in.txt ok.txt
            deps:
            - in.txt
            outs:
            - ok.txt
          bad:
            cmd: exit 3
            deps:
            - ok.txt
            outs:
            - bad.txt
        """,
        {"in.txt": "hi\n"},
    )
    proc = doit("bad", cwd=repo, check=False)
    assert proc.returncode != 0
    assert "'bad'" in proc.stdout + proc.stderr
    assert lock_stages(repo / "dvc.lock") == ["ok"]
    assert status_json(lode, repo, "ok") == {}


def test_parallel_doit_waits_once_for_the_repository_lock(make, lode, doit):
    """Another writer (here: the test) holds .dvc/tmp/lock while `doit -n 2` starts two
    stages; both must wait for it and then run. Without holding it first the same race
    makes `doit -n 2` fail about every other run."""
    repo = make(SLEEPERS.replace("sleep 3 && ", ""))
    (repo / ".dvc" / "tmp").mkdir(exist_ok=True)
    fd = os.open(repo / ".dvc" / "tmp" / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        proc = doit.popen("-n", "2", "-P", "thread", "one", "two", cwd=repo)
        time.sleep(1.5)  # both stages are waiting for the lock by now
    finally:
        os.close(fd)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert lock_stages(repo / "dvc.lock") == ["one", "two"]
    assert status_json(lode, repo) == {}


def test_doit_on_an_invalid_pipeline_prints_one_error(make, doit):
    repo = make(INVALID["cycle"][0])
    proc = doit("list", cwd=repo, check=False)
    assert proc.returncode != 0
    assert "cycle" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr

"""Pipelines shared by lode and the real DVC 3: each accepts the dvc.lock, the outputs,
the cache and the run cache the other wrote, and both write the same dvc.lock bytes.

Every test drives real processes: git, `python -m lode` and the `dvc` of the side virtual
environment (see conftest.py: LODE_DVC, or the paths .ci/run installs it to).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .pipeline_helpers import (
    DVC_CLEAN,
    churn_python,
    copy_churn,
    lock_stages,
    log_lines,
    ran,
    restored,
    status_json,
    write,
)

pytestmark = pytest.mark.dvc

# Everything DVC writes into dvc.lock that has a shape of its own: float params (in
# exponent notation too), a whole-dict param, a command longer than 80 columns (ruamel
# folds it), a directory output, a cache: false metric, foreach and matrix stages, and a
# stage in a sub/dvc.yaml that reads the root pipeline's output.
RICH = {
    "params.yaml": """\
        lr: 0.001
        alpha: 1.5e-05
        ratio: 0.1
        big: 10000000000.0
        epochs: 10
        name: churn model
        flag: true
        train:
          C: 0.5
          layers:
          - 16
          - 32
        """,
    "raw.txt": "hello\n",
    "dvc.yaml": """\
        vars:
        - shards:
          - a
          - b
        stages:
          prepare:
            cmd: PREPARE_CMD
            deps:
            - raw.txt
            params:
            - lr
            - alpha
            - ratio
            - big
            - name
            outs:
            - prepared
          shard:
            foreach: ${shards}
            do:
              cmd: SHARD_CMD
              deps:
              - prepared
              outs:
              - shard-${item}.txt
          grid:
            matrix:
              model: [small, large]
              lr: [0.1, 1.5]
            cmd: GRID_CMD
            deps:
            - shard-a.txt
            params:
            - train.C
            - epochs
            outs:
            - grid-${item.model}-${item.lr}.txt
          evaluate:
            cmd: EVALUATE_CMD
            deps:
            - grid-small-0.1.txt
            - shard-b.txt
            params:
            - flag
            - train
            metrics:
            - metrics.json:
                cache: false
        """,
    "sub/dvc.yaml": """\
        stages:
          report:
            cmd: echo report >> LOG && cat ../metrics.json > report.txt
            deps:
            - ../metrics.json
            outs:
            - report.txt
        """,
}
LONG_CMDS = {
    "PREPARE_CMD": "echo prepare >> LOG && mkdir -p prepared && cp raw.txt prepared/one.txt"
    " && printf 'two\\n' > prepared/two.txt"
    ' && echo "a long command line, well beyond eighty columns" > /dev/null',
    "SHARD_CMD": "echo shard >> LOG && cat prepared/one.txt > shard-${item}.txt"
    " && echo ${item} >> shard-${item}.txt",
    "GRID_CMD": "echo grid >> LOG && echo ${item.model} ${item.lr}"
    " > grid-${item.model}-${item.lr}.txt",
    "EVALUATE_CMD": "echo evaluate >> LOG && python3 -c \"import json;"
    " json.dump(dict(acc=0.75, loss=1.25), open('metrics.json', 'w'))\"",
}
RICH_STAGES = [
    "prepare",
    "shard@a",
    "shard@b",
    "grid@small-0.1",
    "grid@small-1.5",
    "grid@large-0.1",
    "grid@large-1.5",
    "evaluate",
]
LOCKS = ("dvc.lock", "sub/dvc.lock")


def rich(repo: Path, log: Path) -> Path:
    files = dict(RICH)
    for name, cmd in LONG_CMDS.items():
        files["dvc.yaml"] = files["dvc.yaml"].replace(name, cmd)
    write(repo, {k: v.replace("LOG", str(log)) for k, v in files.items()})
    return repo


def read_locks(repo: Path) -> dict[str, bytes]:
    return {name: (repo / name).read_bytes() for name in LOCKS}


def cache_files(repo: Path, part: str) -> set[str]:
    root = repo / ".dvc" / "cache" / part
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def assert_dvc_clean(dvc, repo: Path) -> None:
    proc = dvc("status", cwd=repo)
    assert DVC_CLEAN in proc.stdout, proc.stdout + proc.stderr
    assert status_json(dvc, repo) == {}


def assert_lode_clean(lode, repo: Path) -> None:
    proc = lode("status", cwd=repo)
    assert "up to date" in proc.stdout + proc.stderr, proc.stdout
    assert status_json(lode, repo) == {}


# ------------------------------------------------------------------ each accepts the other


def test_dvc_accepts_what_lode_repro_wrote(lode, dvc, git_repo, tmp_path):
    log = tmp_path / "runs.log"
    repo = rich(git_repo, log)
    lode("init", "-q", cwd=repo)
    lode("repro", "dvc.yaml", "sub/dvc.yaml", cwd=repo)
    assert len(log_lines(log)) == len(RICH_STAGES) + 1
    locks = read_locks(repo)

    assert_dvc_clean(dvc, repo)
    proc = dvc("repro", "dvc.yaml", "sub/dvc.yaml", cwd=repo)
    assert ran(proc) == [], proc.stdout
    assert len(log_lines(log)) == len(RICH_STAGES) + 1
    assert read_locks(repo) == locks


def test_lode_accepts_what_dvc_repro_wrote(lode, dvc, git_repo, tmp_path):
    log = tmp_path / "runs.log"
    repo = rich(git_repo, log)
    dvc("init", "-q", cwd=repo)
    dvc("repro", "dvc.yaml", "sub/dvc.yaml", cwd=repo)
    assert len(log_lines(log)) == len(RICH_STAGES) + 1
    locks = read_locks(repo)

    assert_lode_clean(lode, repo)
    proc = lode("repro", "dvc.yaml", "sub/dvc.yaml", cwd=repo)
    assert ran(proc) == [] and restored(proc) == [], proc.stdout
    assert DVC_CLEAN in proc.stdout
    assert len(log_lines(log)) == len(RICH_STAGES) + 1
    assert read_locks(repo) == locks


def test_churn_repro_by_lode_is_up_to_date_for_dvc(lode, dvc, git_repo):
    churn_python(lode)
    repo = git_repo
    lode("init", "-q", cwd=repo)
    churn = copy_churn(repo / "pipelines" / "churn")
    proc = lode("repro", "pipelines/churn/dvc.yaml", cwd=repo)
    assert len(ran(proc)) == 3, proc.stdout
    lock = (churn / "dvc.lock").read_bytes()

    assert_dvc_clean(dvc, repo)
    proc = dvc("repro", cwd=churn)
    assert ran(proc) == [], proc.stdout
    assert (churn / "dvc.lock").read_bytes() == lock


# ---------------------------------------------------------------------- the same bytes


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_fresh_repro_writes_the_same_lock_files_as_dvc(lode, dvc, tmp_path, make_git_repo, jobs):
    # logs at paths of one length: ruamel folds the long command at the same places
    (tmp_path / "d").mkdir()
    (tmp_path / "l").mkdir()
    by_dvc = rich(make_git_repo(tmp_path / "by-dvc"), tmp_path / "d" / "runs.log")
    by_lode = rich(make_git_repo(tmp_path / "by-lode"), tmp_path / "l" / "runs.log")
    dvc("init", "-q", cwd=by_dvc)
    dvc("repro", "dvc.yaml", "sub/dvc.yaml", cwd=by_dvc)
    lode("init", "-q", cwd=by_lode)
    lode("repro", "-j", jobs, "dvc.yaml", "sub/dvc.yaml", cwd=by_lode)

    # the logs' paths differ, and they are in the commands: compare with them swapped
    theirs = {
        name: data.replace(b"/d/runs.log", b"/l/runs.log")
        for name, data in read_locks(by_dvc).items()
    }
    assert lock_stages(by_dvc / "dvc.lock") == RICH_STAGES
    for name, data in read_locks(by_lode).items():
        assert data.decode() == theirs[name].decode(), name
    # the same objects in the cache, and a run-cache entry for the same stages (their keys
    # differ: the commands name different log files)
    assert cache_files(by_lode, "files") == cache_files(by_dvc, "files")
    assert len(cache_files(by_lode, "runs")) == len(cache_files(by_dvc, "runs"))
    for name in (".gitignore", "sub/.gitignore"):
        ours = (by_lode / name).read_text().splitlines()
        assert sorted(ours) == sorted((by_dvc / name).read_text().splitlines()), name
        if jobs == "1":
            assert (by_lode / name).read_bytes() == (by_dvc / name).read_bytes(), name


# ---------------------------------------------------------------------- the same status

CHAIN = """\
stages:
  a:
    cmd: cp in.txt a.txt
    deps:
    - in.txt
    params:
    - x
    - opt.lr
    outs:
    - a.txt
  b:
    cmd: cat a.txt a.txt > b.txt && echo {} > m.json
    deps:
    - a.txt
    outs:
    - b.txt
    metrics:
    - m.json:
        cache: false
"""
SUB = """\
stages:
  s:
    cmd: cat ../b.txt > s.txt
    deps:
    - ../b.txt
    - local.txt
    outs:
    - s.txt
"""


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _rewrite(path: Path, text: str) -> None:
    path.unlink()  # the workspace copy may be a read-only link into the cache
    path.write_text(text)


def _drop_from_cache(repo: Path, out: str) -> None:
    """Delete the cache object of a stage output (its workspace copy stays)."""
    lock = (repo / "dvc.lock").read_text()
    md5 = re.search(rf"- path: {re.escape(out)}\n +hash: md5\n +md5: (\w+)\n", lock)[1]
    (repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]).unlink()


CHANGES = {
    "dep modified": lambda r: _rewrite(r / "in.txt", "changed\n"),
    "param changed": lambda r: _replace(r / "params.yaml", "lr: 0.1", "lr: 0.2"),
    "param deleted": lambda r: _replace(r / "params.yaml", "x: 1\n", ""),
    "out deleted": lambda r: (r / "b.txt").unlink(),
    "out modified": lambda r: _rewrite(r / "sub" / "s.txt", "tampered\n"),
    "metric deleted": lambda r: (r / "m.json").unlink(),
    "cmd changed": lambda r: _replace(r / "dvc.yaml", "cp in.txt a.txt", "cp  in.txt a.txt"),
    "sub dep modified": lambda r: _rewrite(r / "sub" / "local.txt", "other\n"),
    "params file deleted": lambda r: (r / "params.yaml").unlink(),
    "out not in cache": lambda r: _drop_from_cache(r, "b.txt"),
}


@pytest.fixture
def chain_repo(lode, git_repo, git):
    write(
        git_repo,
        {
            "dvc.yaml": CHAIN,
            "sub/dvc.yaml": SUB,
            "sub/local.txt": "local\n",
            "in.txt": "hello\n",
            "params.yaml": "x: 1\nopt:\n  lr: 0.1\n",
        },
    )
    lode("init", "-q", cwd=git_repo)
    lode("repro", "dvc.yaml", "sub/dvc.yaml", cwd=git_repo)
    git("add", "-A", cwd=git_repo)
    git("commit", "-q", "-m", "pipeline", cwd=git_repo)
    return git_repo


@pytest.mark.parametrize("change", list(CHANGES))
def test_status_json_matches_dvc_after_a_change(lode, dvc, chain_repo, change):
    repo = chain_repo
    assert status_json(lode, repo) == {} == status_json(dvc, repo)
    CHANGES[change](repo)
    ours = status_json(lode, repo)
    assert ours, "lode sees no change"
    assert ours == status_json(dvc, repo)


def test_status_json_matches_dvc_after_all_changes_at_once(lode, dvc, chain_repo):
    repo = chain_repo
    for change in CHANGES.values():
        change(repo)
    ours = status_json(lode, repo)
    assert ours == status_json(dvc, repo)
    assert set(ours) == {"a", "b", "sub/dvc.yaml:s"}
    for target in ("a", "sub/dvc.yaml:s", "sub/dvc.yaml"):
        assert status_json(lode, repo, target) == status_json(dvc, repo, target), target
    # from a subdirectory, where DVC names stages and paths relative to it
    assert status_json(lode, repo / "sub") == status_json(dvc, repo / "sub")


# -------------------------------------------------------------------- the same run cache

TRAIN = """\
stages:
  train:
    cmd: echo train >> LOG && cat params.yaml data.txt > model.txt
    deps:
    - data.txt
    params:
    - train.C
    outs:
    - model.txt
"""


def _train_repo(repo: Path, log: Path) -> Path:
    write(repo, {"dvc.yaml": TRAIN.replace("LOG", str(log)), "data.txt": "rows\n",
                 "params.yaml": "train:\n  C: 0.5\n"})
    return repo


@pytest.mark.parametrize("writer", ["lode", "dvc"])
def test_run_cache_written_by_one_is_used_by_the_other(lode, dvc, git_repo, tmp_path, writer):
    tools = {"lode": lode, "dvc": dvc}
    first, second = tools[writer], tools["dvc" if writer == "lode" else "lode"]
    log = tmp_path / "runs.log"
    repo = _train_repo(git_repo, log)
    first("init", "-q", cwd=repo)
    first("repro", cwd=repo)
    lock = (repo / "dvc.lock").read_bytes()
    model = (repo / "model.txt").read_bytes()
    _replace(repo / "params.yaml", "C: 0.5", "C: 1.5")
    first("repro", cwd=repo)
    assert log_lines(log) == ["train", "train"]
    assert (repo / "model.txt").read_bytes() != model

    _replace(repo / "params.yaml", "C: 1.5", "C: 0.5")
    proc = second("repro", cwd=repo)
    assert restored(proc) == ["train"], proc.stdout  # "is cached - skipping run"
    assert log_lines(log) == ["train", "train"]
    assert (repo / "model.txt").read_bytes() == model
    assert (repo / "dvc.lock").read_bytes() == lock
    assert status_json(lode, repo) == {} == status_json(dvc, repo)


NO_CACHE = """\
stages:
  a:
    cmd: cp in.txt a.txt && echo big > big.bin && echo 1 > m.json
    deps:
    - in.txt
    outs:
    - a.txt
    - big.bin:
        cache: false
    metrics:
    - m.json:
        cache: false
"""


def test_cache_false_output_stays_out_of_the_cache_as_with_dvc(lode, dvc, tmp_path,
                                                                make_git_repo):
    by_dvc = make_git_repo(tmp_path / "by-dvc")
    by_lode = make_git_repo(tmp_path / "by-lode")
    for repo in (by_dvc, by_lode):
        write(repo, {"dvc.yaml": NO_CACHE, "in.txt": "hi\n"})
    dvc("init", "-q", cwd=by_dvc)
    dvc("repro", cwd=by_dvc)
    lode("init", "-q", cwd=by_lode)
    lode("repro", cwd=by_lode)
    assert (by_lode / "dvc.lock").read_bytes() == (by_dvc / "dvc.lock").read_bytes()
    assert cache_files(by_dvc, "runs") == set()  # DVC: no run cache with a cache: false out
    assert cache_files(by_dvc, "files") == {"md5/76/4efa883dda1e11db47671c4a3bbd9e"}  # a.txt only
    assert cache_files(by_lode, "files") == cache_files(by_dvc, "files")
    assert cache_files(by_lode, "runs") == set()

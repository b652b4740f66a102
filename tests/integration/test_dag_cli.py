"""`lode dag` end to end, and against the real `dvc dag` on the same repository."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Until `dag` is in lode.cli.COMMANDS, run the command module the way the CLI would,
# rendering errors with the CLI's own renderer.
_STANDALONE = textwrap.dedent("""\
    import argparse, sys
    from lode.cli import _render
    from lode.cli.dag import configure, run_dag
    p = argparse.ArgumentParser(prog="lode dag")
    configure(p)
    try:
        sys.exit(run_dag(p.parse_args(sys.argv[1:])))
    except Exception as e:
        sys.exit(_render(e, 0))
    """)


def lode_dag(lode, *args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    from lode.cli import COMMANDS

    if "dag" in COMMANDS:
        return lode("dag", *args, cwd=cwd, check=check)
    proc = subprocess.run([sys.executable, "-c", _STANDALONE, *args], cwd=cwd, env=lode.env,
                          capture_output=True, text=True, timeout=120)
    assert not check or proc.returncode == 0, proc.stderr
    return proc


DVC_YAML = """\
stages:
  load:
    cmd: python load.py
    deps: [data/raw.csv]
    outs: [data/clean.csv]
  train:
    cmd: python train.py
    deps: [data/clean.csv]
    params: [lr]
    outs: [model.pkl]
  eval:
    cmd: python eval.py
    deps: [model.pkl, data/clean.csv]
    metrics:
      - metrics.json:
          cache: false
    plots: [plots/roc.csv]
  lint:
    cmd: flake8
    outs: [lint.txt]
"""

# In data/prep/ so that every directory holds at most one pipeline file: DVC lists one
# directory's files in the file system's order, lode sorts them.
PREP_YAML = """\
stages:
  prep:
    cmd: cp ../../model.pkl m2
    deps: [../../model.pkl]
    outs: [m2]
  frz:
    cmd: cp ../../lint.txt l2
    frozen: true
    deps: [../../lint.txt]
    outs: [l 2]
"""


def write_pipeline(repo: Path) -> None:
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / "params.yaml").write_text("lr: 0.1\n")
    (repo / "data" / "prep").mkdir(parents=True, exist_ok=True)
    (repo / "data" / "prep" / "dvc.yaml").write_text(PREP_YAML)


@pytest.fixture
def repo(git_repo, lode):
    lode("init", cwd=git_repo)
    (git_repo / "data").mkdir()
    (git_repo / "data" / "raw.csv").write_text("a,b\n1,2\n")
    lode("add", "data/raw.csv", cwd=git_repo)
    write_pipeline(git_repo)
    return git_repo


def test_text_shows_each_pipeline_in_layers(lode, repo):
    assert lode_dag(lode, cwd=repo).stdout == textwrap.dedent("""\
        1  data/raw.csv.dvc
        2  load                     <- data/raw.csv.dvc
        3  train                    <- load
        4  eval                     <- load, train
        4  data/prep/dvc.yaml:prep  <- train

        1  lint
        2  data/prep/dvc.yaml:frz  <- lint
        """)
    assert lode_dag(lode, "eval", cwd=repo).stdout.splitlines()[-1] == (
        "4  eval              <- load, train")


def test_dot_and_mermaid_with_targets(lode, repo):
    assert lode_dag(lode, "--dot", "train", cwd=repo).stdout == textwrap.dedent("""\
        strict digraph {
        "load";
        "train";
        "data/raw.csv.dvc";
        "load" -> "train";
        "data/raw.csv.dvc" -> "load";
        }

        """)
    full = lode_dag(lode, "--mermaid", "--full", "lint", cwd=repo).stdout
    assert full == ('flowchart TD\n\tnode1["data/prep/dvc.yaml:frz"]\n\tnode2["lint"]\n'
                    "\tnode2-->node1\n")
    md = lode_dag(lode, "--md", "-o", "data/prep/dvc.yaml:frz", cwd=repo).stdout
    assert md.startswith("```mermaid\nflowchart TD\n") and md.endswith("```\n")
    assert '["data/prep/l 2"]' in md


def test_names_are_relative_to_the_working_directory(lode, repo):
    out = lode_dag(lode, "--dot", "prep", cwd=repo / "data" / "prep").stdout
    assert '"../../dvc.yaml:train" -> "prep";' in out
    assert '"../raw.csv.dvc" -> "../../dvc.yaml:load";' in out


def test_mistakes_are_one_line_errors(lode, repo, tmp_path):
    for target in ("nope", "data/prep/dvc.yaml:nope", "missing/dvc.yaml:x"):
        proc = lode_dag(lode, target, cwd=repo, check=False)
        assert proc.returncode == 1 and proc.stdout == "", proc
        assert proc.stderr.startswith("ERROR: ") and "Traceback" not in proc.stderr
        assert len(proc.stderr.splitlines()) == 1
    outside = lode_dag(lode, cwd=tmp_path, check=False)
    assert outside.returncode == 253 and "not a lode/DVC repository" in outside.stderr


@pytest.mark.dvc
def test_dot_and_mermaid_match_dvc(git_repo, git, dvc, lode):
    repo = git_repo
    dvc("init", "-q", cwd=repo)
    (repo / "data").mkdir()
    (repo / "data" / "raw.csv").write_text("a,b\n1,2\n")
    dvc("add", "-q", "data/raw.csv", cwd=repo)
    write_pipeline(repo)
    cases = [
        (repo, ["--dot"]),
        (repo, ["--dot", "train"]),
        (repo, ["--dot", "--full", "train"]),
        (repo, ["--dot", "data/clean.csv"]),
        (repo, ["--dot", "--outs"]),
        (repo, ["--mermaid"]),
        (repo, ["--md", "--outs"]),
        (repo / "data" / "prep", ["--dot", "prep"]),
    ]
    for cwd, args in cases:
        theirs = dvc("dag", *args, cwd=cwd).stdout
        assert lode_dag(lode, *args, cwd=cwd).stdout == theirs, (cwd, args, theirs)

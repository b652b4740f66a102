"""`metrics show`, `metrics diff` and `params diff` on real Git repositories built by
`lode repro`, checked for exact output and against the real dvc's output on the same
repository.

The commands run in-process through lode.cli.reports (their parser arguments come from
`configure_metrics`/`configure_params`), so these tests do not depend on the command
table in lode/cli/__init__.py; `test_wired_into_lode` checks that table once it lists them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest

import lode.cli as lode_cli
from lode.cli import reports

TRAIN = """\
import json, sys
lr = float(open("params.yaml").read().split("lr:")[1].split()[0])
json.dump({"acc": round(0.5 + lr, 4), "loss": 1.25, "per_class": {"a": 1, "b": 2}},
          open("metrics.json", "w"))
json.dump({"auc": round(0.25 + lr, 4)}, open("cached.json", "w"))
"""

DVC_YAML = """\
metrics:
- summary.yaml
stages:
  train:
    cmd: python3 train.py
    deps: [train.py]
    params: [train.lr, seed]
    metrics:
    - metrics.json:
        cache: false
    - cached.json
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lode")
    p.set_defaults(verbose=0, quiet=False)
    sub = p.add_subparsers(dest="command", required=True)
    reports.configure_metrics(sub.add_parser("metrics"))
    reports.configure_params(sub.add_parser("params"))
    return p


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.returncode, self.stdout, self.stderr = code, out, err

    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def cli(monkeypatch, capsys):
    """`cli(*args, cwd=...)`: one report command in this process, errors rendered as
    lode's CLI renders them."""

    def run(*args: str, cwd: Path) -> Result:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        ns = _parser().parse_args(list(args))
        handler = reports.run_metrics if ns.command == "metrics" else reports.run_params
        try:
            code = handler(ns) or 0
        except Exception as e:  # noqa: BLE001 - rendered as the CLI renders it
            code = lode_cli._render(e, 0)
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture(scope="module")
def project_template(tmp_path_factory, lode, git) -> Path:
    """Two commits ('v1' on main, tagged; then lr 0.1 -> 0.3 on branch 'exp', tagged
    'v2'), then the workspace with lr 0.6, reproduced but not committed. Built once;
    each test gets a copy."""
    repo = tmp_path_factory.mktemp("reports") / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    git("commit", "-q", "--allow-empty", "-m", "initial", cwd=repo)
    lode("init", cwd=repo)
    write(repo / "train.py", TRAIN)
    write(repo / "dvc.yaml", DVC_YAML)
    write(repo / "summary.yaml", "epochs: 10\n")
    write(repo / "params.yaml", "seed: 7\ntrain:\n  lr: 0.1\n  batch: 32\n")
    lode("repro", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "v1", cwd=repo)
    git("tag", "v1", cwd=repo)
    git("checkout", "-q", "-b", "exp", cwd=repo)
    write(repo / "params.yaml", "seed: 7\ntrain:\n  lr: 0.3\n  batch: 32\n")
    lode("repro", cwd=repo)
    git("commit", "-q", "-am", "v2", cwd=repo)
    git("tag", "v2", cwd=repo)
    write(repo / "params.yaml", "seed: 7\ntrain:\n  lr: 0.6\n  batch: 64\n")
    lode("repro", cwd=repo)
    return repo


@pytest.fixture
def project(project_template: Path, tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(project_template, repo, symlinks=True)
    return repo


def tree_state(root: Path) -> dict[str, bytes]:
    out = {}
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x not in (".git", "tmp")]
        for f in files:
            p = Path(d) / f
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


# -- metrics show ---------------------------------------------------------------------
def test_metrics_show_workspace(cli, project):
    r = cli("metrics", "show", cwd=project)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "Path          acc    auc    epochs    loss    per_class.a    per_class.b\n"
        "metrics.json  1.1    -      -         1.25    1              2\n"
        "cached.json   -      0.85   -         -       -              -\n"
        "summary.yaml  -      -      10        -       -              -\n"
    )
    assert r.stderr == ""
    assert cli("metrics", "show", "--json", cwd=project).json() == {"": {"data": {
        "metrics.json": {"data": {"acc": 1.1, "loss": 1.25, "per_class": {"a": 1, "b": 2}}},
        "cached.json": {"data": {"auc": 0.85}},
        "summary.yaml": {"data": {"epochs": 10}},
    }}}


def test_metrics_show_markdown_and_targets(cli, project):
    r = cli("metrics", "show", "--md", "summary.yaml", cwd=project)
    assert r.stdout == (
        "| Path         | epochs   |\n"
        "|--------------|----------|\n"
        "| summary.yaml | 10       |\n\n"
    )


def test_metrics_show_all_branches_hides_workspace_equal_to_branch(cli, project, git):
    r = cli("metrics", "show", "-a", "metrics.json", cwd=project)
    assert r.stdout.splitlines() == [
        "Revision    Path          acc    loss    per_class.a    per_class.b",
        "workspace   metrics.json  1.1    1.25    1              2",
        "exp         metrics.json  0.8    1.25    1              2",
        "main        metrics.json  0.6    1.25    1              2",
    ]
    git("stash", "-q", cwd=project)  # the workspace now equals 'exp': DVC leaves it out
    data = cli("metrics", "show", "-a", "--json", "metrics.json", cwd=project).json()
    assert list(data) == ["exp", "main"]
    data = cli("metrics", "show", "-T", "--json", "metrics.json", cwd=project).json()
    assert list(data) == ["workspace", "v1", "v2"]
    shas = git("rev-list", "--all", cwd=project).stdout.split()
    data = cli("metrics", "show", "-A", "--json", cwd=project).json()
    assert list(data) == ["workspace", *shas]
    assert data[shas[-1]] == {"data": {}}  # the first, empty commit has no pipeline


def test_cached_metric_is_read_from_the_cache(cli, project):
    (project / "cached.json").unlink()
    before = tree_state(project)
    r = cli("metrics", "diff", "v1", "--json", "--targets", "cached.json", cwd=project)
    assert r.json() == {"cached.json": {"auc": {"old": 0.35, "new": 0.85, "diff": 0.5}}}
    assert tree_state(project) == before  # nothing was checked out or written


def test_missing_metric_is_a_warning(cli, project):
    (project / "summary.yaml").unlink()
    r = cli("metrics", "show", "--json", cwd=project)
    assert r.returncode == 0
    assert r.json()[""]["data"]["summary.yaml"]["error"]["type"] == "FileNotFoundError"
    assert r.stderr == (
        "WARNING: cannot read metrics in the workspace: 'summary.yaml' does not exist.\n"
    )


# -- metrics diff ---------------------------------------------------------------------
def test_metrics_diff_text(cli, project):
    r = cli("metrics", "diff", cwd=project)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "Path          Metric    HEAD    workspace    Change    Change %\n"
        "cached.json   auc       0.55    0.85         0.3       +54.55%\n"
        "metrics.json  acc       0.8     1.1          0.3       +37.50%\n"
    )
    r = cli("metrics", "diff", "v1", "v2", "--all", "--no-path", "--precision", "1",
            "--targets", "metrics.json", cwd=project)
    assert r.stdout == (
        "Metric       v1    v2    Change    Change %\n"
        "acc          0.6   0.8   0.2       +33.33%\n"
        "loss         1.2   1.2   0.0       +0.00%\n"
        "per_class.a  1     1     0         +0.00%\n"
        "per_class.b  2     2     0         +0.00%\n"
    )


def test_metrics_diff_json_and_markdown(cli, project):
    assert cli("metrics", "diff", "main", "--json", cwd=project).json() == {
        "metrics.json": {"acc": {"old": 0.6, "new": 1.1, "diff": 0.5000000000000001}},
        "cached.json": {"auc": {"old": 0.35, "new": 0.85, "diff": 0.5}},
    }
    r = cli("metrics", "diff", "v1", "v2", "--md", "--targets", "cached.json", cwd=project)
    assert r.stdout == (
        "| Path        | Metric   | v1   | v2   | Change   | Change %   |\n"
        "|-------------|----------|------|------|----------|------------|\n"
        "| cached.json | auc      | 0.35 | 0.55 | 0.2      | +57.14%    |\n\n"
    )


def test_metrics_diff_nothing_changed(cli, project):
    r = cli("metrics", "diff", "v2", "exp", cwd=project)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert cli("metrics", "diff", "v2", "exp", "--json", cwd=project).json() == {}


def test_unknown_revision_is_one_error(cli, project):
    r = cli("metrics", "diff", "nosuch", cwd=project)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.startswith("ERROR: unknown Git revision 'nosuch'.")
    assert len(r.stderr.strip().splitlines()) == 1
    r = cli("params", "diff", "HEAD", "nosuch", cwd=project)
    assert r.returncode == 1 and "unknown Git revision 'nosuch'" in r.stderr


def test_broken_pipeline_in_history_is_a_warning_in_workspace_an_error(cli, project, git):
    good = (project / "dvc.yaml").read_text()
    (project / "dvc.yaml").write_text("stages: [\n")
    git("commit", "-q", "-am", "broken", cwd=project)
    r = cli("metrics", "show", cwd=project)
    assert r.returncode == 1 and r.stderr.startswith("ERROR: dvc.yaml is not valid YAML")
    (project / "dvc.yaml").write_text(good)
    r = cli("metrics", "diff", "--json", cwd=project)
    assert r.returncode == 0
    assert "metrics.json" in r.json()  # HEAD had nothing readable: all is new
    assert r.stderr.startswith("WARNING: cannot read metrics at revision 'HEAD': dvc.yaml")


def test_outside_git(cli, tmp_path, lode):
    (tmp_path / "p").mkdir()
    lode("init", "--no-scm", cwd=tmp_path / "p")
    r = cli("metrics", "diff", cwd=tmp_path / "p")
    assert r.returncode == 1
    assert r.stderr == "ERROR: cannot read Git history: this repository is not in Git.\n"


# -- params diff ----------------------------------------------------------------------
def test_params_diff(cli, project):
    r = cli("params", "diff", cwd=project)
    assert r.stdout == (
        "Path         Param        HEAD    workspace\n"
        "params.yaml  train.batch  32      64\n"
        "params.yaml  train.lr     0.3     0.6\n"
    )
    assert cli("params", "diff", "--json", cwd=project).json() == {"params.yaml": {
        "train.batch": {"old": 32, "new": 64, "diff": 32},
        "train.lr": {"old": 0.3, "new": 0.6, "diff": 0.3},
    }}
    # --deps: only what stages list; unchanged ones with --all
    assert cli("params", "diff", "v1", "--deps", "--all", "--json", cwd=project).json() == {
        "params.yaml": {
            "seed": {"old": 7, "new": 7, "diff": 0},
            "train.lr": {"old": 0.1, "new": 0.6, "diff": 0.5},
        }
    }
    r = cli("params", "diff", "v1", "v2", "--md", "--no-path", cwd=project)
    assert r.stdout == (
        "| Param    | v1   | v2   |\n"
        "|----------|------|------|\n"
        "| train.lr | 0.1  | 0.3  |\n\n"
    )


def test_params_of_subdirectory_pipeline_and_vars(cli, git_repo, lode, git):
    lode("init", cwd=git_repo)
    write(git_repo / "sub" / "dvc.yaml", """\
        params:
        - top.yaml
        vars:
        - v.yaml
        stages:
          s:
            foreach: ${models}
            do:
              cmd: echo ${item} ${opt.lr}
              params:
              - p.json: [lr]
              - q.toml:
    """)
    write(git_repo / "sub" / "v.yaml", "models: [a, b]\nopt: {lr: 0.1, unused: 1}\n")
    write(git_repo / "sub" / "top.yaml", "t: 1\n")
    write(git_repo / "sub" / "p.json", '{"lr": 0.1, "other": 1}')
    write(git_repo / "sub" / "q.toml", "a = 1\n[b]\nc = [1, 2]\n")
    git("add", "-A", cwd=git_repo)
    git("commit", "-q", "-m", "v1", cwd=git_repo)
    write(git_repo / "sub" / "q.toml", "a = 2\n[b]\nc = [1, 3]\n")
    write(git_repo / "sub" / "v.yaml", "models: [a, c]\nopt: {lr: 0.2, unused: 2}\n")
    r = cli("params", "diff", "--json", cwd=git_repo / "sub")
    assert r.json() == {
        "q.toml": {"a": {"old": 1, "new": 2, "diff": 1},
                   "b.c": {"old": "[1, 2]", "new": "[1, 3]"}},
        "v.yaml": {"models.1": {"old": "b", "new": "c"},
                   "opt.lr": {"old": 0.1, "new": 0.2, "diff": 0.1}},
    }


def test_wired_into_lode(lode, project):
    if "metrics" not in lode_cli.COMMANDS:
        pytest.skip("lode/cli/__init__.py does not list the report commands yet")
    r = lode("metrics", "diff", "--json", "--targets", "metrics.json", cwd=project)
    assert json.loads(r.stdout) == {"metrics.json": {"acc": {"old": 0.8, "new": 1.1,
                                                             "diff": 0.30000000000000004}}}
    r = lode("params", "diff", "nosuch", cwd=project, check=False)
    assert r.returncode == 1 and r.stderr.startswith("ERROR: unknown Git revision")


# -- the real dvc on the same repositories --------------------------------------------
COMPARED = [
    ("metrics", "show", "--json"),
    ("metrics", "show", "-a", "--json"),
    ("metrics", "show", "-T", "--json"),
    ("metrics", "diff", "--json"),
    ("metrics", "diff", "--all", "--json"),
    ("metrics", "diff", "v1", "v2", "--json"),
    ("metrics", "diff", "v1", "--json", "--targets", "cached.json"),
    ("params", "diff", "--json"),
    ("params", "diff", "--all", "--json"),
    ("params", "diff", "--deps", "--all", "--json"),
    ("params", "diff", "v1", "exp", "--json"),
]


@pytest.mark.dvc
@pytest.mark.parametrize("args", COMPARED, ids=" ".join)
def test_json_matches_dvc(cli, dvc, project, args):
    (project / "cached.json").unlink()  # the workspace falls back to the cache, as DVC's
    ours = cli(*args, cwd=project)
    theirs = dvc(*args, cwd=project)
    assert ours.returncode == 0, ours.stderr
    assert ours.json() == json.loads(theirs.stdout)


@pytest.mark.dvc
@pytest.mark.parametrize("args", [
    ("metrics", "show"),
    ("metrics", "show", "-a", "--md"),
    ("params", "diff", "v1", "--all"),
    ("params", "diff", "--md"),
], ids=" ".join)
def test_text_matches_dvc(cli, dvc, project, args):
    assert cli(*args, cwd=project).stdout == dvc(*args, cwd=project).stdout


@pytest.mark.dvc
def test_metrics_diff_text_is_dvc_plus_percent(cli, dvc, project):
    ours = cli("metrics", "diff", "v1", "--all", cwd=project).stdout.splitlines()
    theirs = dvc("metrics", "diff", "v1", "--all", cwd=project).stdout.splitlines()
    # lode's last column is its own; the rest is DVC's table, cell for cell (DVC orders
    # the files as a set iterates, lode by path)
    assert sorted(line.split()[:-1] for line in ours[1:]) == sorted(
        line.split() for line in theirs[1:])
    assert ours[0].split()[:-2] == theirs[0].split() and ours[0].endswith("Change %")


@pytest.mark.dvc
def test_subdirectory_and_vars_match_dvc(cli, dvc, git_repo, lode, git):
    test_params_of_subdirectory_pipeline_and_vars(cli, git_repo, lode, git)
    for args in (("params", "diff", "--json"), ("params", "diff", "--all", "--json"),
                 ("params", "diff", "--deps", "--json")):
        for cwd in (git_repo, git_repo / "sub"):
            assert cli(*args, cwd=cwd).json() == json.loads(dvc(*args, cwd=cwd).stdout), args


# -- directories and DVC roots below the Git root -------------------------------------
MAKE_DIR = """\
import json, os, sys
os.makedirs("mdir", exist_ok=True)
v = float(sys.argv[1])
json.dump({"acc": v}, open("mdir/a.json", "w"))
open("mdir/b.yaml", "w").write(f"loss: {1 - v}\\n")
"""


@pytest.fixture
def dir_project(git_repo: Path, lode, git) -> Path:
    """A cached directory of metrics (in the cache, not in Git) at two revisions."""
    lode("init", cwd=git_repo)
    write(git_repo / "make.py", MAKE_DIR)
    write(git_repo / "dvc.yaml", "stages:\n  m:\n    cmd: python3 make.py 0.5\n"
                                 "    metrics:\n    - mdir\n")
    lode("repro", cwd=git_repo)
    git("add", "-A", cwd=git_repo)
    git("commit", "-q", "-m", "v1", cwd=git_repo)
    write(git_repo / "dvc.yaml", "stages:\n  m:\n    cmd: python3 make.py 0.75\n"
                                 "    metrics:\n    - mdir\n")
    lode("repro", cwd=git_repo)
    return git_repo


def test_cached_directory_of_metrics(cli, dir_project):
    shutil.rmtree(dir_project / "mdir")  # both sides now come from the cache manifests
    assert cli("metrics", "diff", "--json", cwd=dir_project).json() == {
        "mdir/a.json": {"acc": {"old": 0.5, "new": 0.75, "diff": 0.25}},
        "mdir/b.yaml": {"loss": {"old": 0.5, "new": 0.25, "diff": -0.25}},
    }


@pytest.mark.dvc
def test_cached_directory_of_metrics_matches_dvc(cli, dvc, dir_project):
    for args in (("metrics", "diff", "--json"), ("metrics", "show", "--json")):
        assert cli(*args, cwd=dir_project).json() == json.loads(
            dvc(*args, cwd=dir_project).stdout)


def test_dvc_root_below_git_root(cli, git_repo, git):
    proj = git_repo / "proj"
    (proj / ".dvc").mkdir(parents=True)
    (proj / ".dvc" / "config").write_text("[core]\n")
    write(proj / "dvc.yaml", "metrics:\n- m.json\n- mdir\n")
    write(proj / "m.json", '{"a": 1}')
    write(proj / "mdir" / "x.json", '{"x": 1}')
    git("add", "-A", cwd=git_repo)
    git("commit", "-q", "-m", "v1", cwd=git_repo)
    write(proj / "m.json", '{"a": 2}')
    write(proj / "mdir" / "x.json", '{"x": 3}')
    assert cli("metrics", "diff", "--json", cwd=proj).json() == {
        "m.json": {"a": {"old": 1, "new": 2, "diff": 1}},
        "mdir/x.json": {"x": {"old": 1, "new": 3, "diff": 2}},
    }
    assert cli("metrics", "show", "-a", cwd=proj / "mdir").stdout.splitlines() == [
        "Revision    Path       a    x",
        "workspace   ../m.json  2    -",
        "workspace   x.json     -    3",
        "main        ../m.json  1    -",
        "main        x.json     -    1",
    ]

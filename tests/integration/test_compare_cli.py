"""`lode compare` through the real CLI on real Git: the churn project with three commits
of different train.C (built once for the module: each `lode repro` trains a model), and
small hand-made repositories for unreadable files and a repository outside Git."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest

C_VALUES = (0.5, 1.5, 0.05)  # HEAD~2, HEAD~1, HEAD
REVS = ("HEAD~2", "HEAD~1", "HEAD")


def _out(proj: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=proj, capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture(scope="module")
def churn(lode, git, tmp_path_factory) -> Path:
    """The churn project: the scaffold commit (no dvc.lock), then one commit per train.C."""
    pytest.importorskip("sklearn", reason="the churn pipeline needs the demo extra")
    proj = tmp_path_factory.mktemp("compare") / "churn"
    lode("init", "--template", "churn", str(proj), cwd=proj.parent)
    params = proj / "params.yaml"
    for c in C_VALUES:
        params.write_text(params.read_text().replace("C: 0.5", f"C: {c}"))
        lode("repro", cwd=proj)
        git("add", "dvc.lock", "metrics.json", "confusion.csv", cwd=proj)
        git("commit", "-q", "-am", f"train.C = {c}", cwd=proj)
        params.write_text(params.read_text().replace(f"C: {c}", "C: 0.5"))
    git("checkout", "-q", "params.yaml", cwd=proj)
    assert _out(proj, "status", "--porcelain") == ""
    return proj


def _metrics_at(proj: Path, rev: str) -> dict:
    return json.loads(_out(proj, "show", f"{rev}:metrics.json"))


def _json(lode, proj: Path, *args: str) -> list[dict]:
    return json.loads(lode("compare", *args, "--json", cwd=proj).stdout)


def test_three_commits_give_three_rows_with_their_values(lode, churn):
    rows = _json(lode, churn, *REVS)
    assert [r["rev"] for r in rows] == list(REVS)  # the order they were named in
    assert [r["params"]["train.C"] for r in rows] == list(C_VALUES)
    for row, rev in zip(rows, REVS, strict=True):
        assert row["sha"] == _out(churn, "rev-parse", rev).strip()
        assert row["metrics"] == _metrics_at(churn, rev)
        assert row["message"] == f"train.C = {row['params']['train.C']}"
        assert row["author"] == "Lode Test" and row["date"][:2] == "20"
    assert len({r["metrics"]["roc_auc"] for r in rows}) > 1
    # load did not rerun: the data is the same; the model (a dep of eval) changed each time
    assert len({r["deps"]["data/train.csv"] for r in rows}) == 1
    assert len({r["deps"]["model.pkl"] for r in rows}) == 3
    assert rows[0]["changed"] == []  # the oldest
    for row in rows[1:]:
        assert {"train.C", "model.pkl"} <= set(row["changed"])
        assert "data/train.csv" not in row["changed"] and "seed" not in row["changed"]
    assert "train.py" not in rows[0]["deps"]  # code is not data


def test_metrics_diff_and_params_diff_agree_with_compare(lode, churn):
    old, new = _json(lode, churn, "HEAD~1", "HEAD")
    diff = json.loads(lode("metrics", "diff", "HEAD~1", "HEAD", "--json", "--all",
                           cwd=churn).stdout)
    assert set(diff) == {"metrics.json"}
    for key, change in diff["metrics.json"].items():
        assert change["old"] == old["metrics"][key] and change["new"] == new["metrics"][key]
    changed_metrics = {k for k, ch in diff["metrics.json"].items() if ch["old"] != ch["new"]}
    assert changed_metrics == {k for k in new["changed"] if k in new["metrics"]}
    params = json.loads(lode("params", "diff", "HEAD~1", "HEAD", "--json", cwd=churn).stdout)
    assert list(params) == ["params.yaml"] and list(params["params.yaml"]) == ["train.C"]
    change = params["params.yaml"]["train.C"]
    assert (change["old"], change["new"]) == (old["params"]["train.C"], new["params"]["train.C"])
    assert [k for k in new["changed"] if k in new["params"]] == ["train.C"]


def test_default_lists_the_commits_with_a_dvc_lock_newest_first(lode, churn):
    rows = _json(lode, churn)
    # the scaffold commit has no dvc.lock; the workspace matches HEAD
    assert [r["rev"] for r in rows] == ["HEAD", "HEAD~1", "HEAD~2"]
    assert [r["params"]["train.C"] for r in rows] == [0.05, 1.5, 0.5]
    assert [r["rev"] for r in _json(lode, churn, "-n", "2")] == ["HEAD", "HEAD~1"]


def test_the_workspace_comes_first_when_it_differs_from_head(lode, churn):
    params = churn / "params.yaml"
    before = params.read_text()
    try:
        params.write_text(before.replace("threshold: 0.5", "threshold: 0.25"))
        rows = _json(lode, churn, "-n", "1")
        assert [r["rev"] for r in rows] == ["workspace", "HEAD"]
        assert rows[0]["sha"] is None and rows[0]["changed"] == ["threshold"]
        named = _json(lode, churn, "HEAD", "workspace")
        assert [r["rev"] for r in named] == ["HEAD", "workspace"]
        assert named[1]["changed"] == ["threshold"]  # the workspace is the newest
    finally:
        params.write_text(before)


def test_csv_and_markdown_parse_back(lode, churn):
    rows = _json(lode, churn)
    text = lode("compare", "--csv", cwd=churn).stdout
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert [r["rev"] for r in parsed] == [r["rev"] for r in rows]
    assert [float(r["train.C"]) for r in parsed] == [r["params"]["train.C"] for r in rows]
    assert [float(r["roc_auc"]) for r in parsed] == [r["metrics"]["roc_auc"] for r in rows]
    assert parsed[0]["model.pkl"] == rows[0]["deps"]["model.pkl"]  # full md5

    md = lode("compare", "--md", "--precision", "2", cwd=churn).stdout.strip().splitlines()
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in md]
    header, table = cells[0], [dict(zip(cells[0], r, strict=True)) for r in cells[2:]]
    assert header[:3] == ["Revision", "SHA", "Date"] and set(md[1]) == {"|", "-"}
    assert [r["Revision"] for r in table] == ["HEAD", "HEAD~1", "HEAD~2"]
    assert table[0]["train.C"] == "**0.05**" and table[2]["train.C"] == "0.5"
    assert table[0]["model.pkl"] == f"**{rows[0]['deps']['model.pkl'][:8]}**"
    assert table[0]["data/train.csv"] == rows[0]["deps"]["data/train.csv"][:8]
    assert table[0]["roc_auc"].strip("*") == str(round(rows[0]["metrics"]["roc_auc"], 2))


def test_terminal_table_marks_changes_and_only_changed_drops_the_rest(lode, churn):
    out = lode("compare", "--only-changed", cwd=churn).stdout.splitlines()
    assert out[0].split()[0] == "params"
    header = out[1].split()
    assert header[:3] == ["Revision", "SHA", "Date"]
    assert "train.C" in header and "model.pkl" in header and "seed" not in header
    assert "data/train.csv" not in header
    assert out[2].startswith("HEAD ") and "0.05*" in out[2]
    assert "*" not in out[4]  # the oldest row: nothing before it
    assert out[-1] == "(*: changed from the next older revision)"


def test_sort_by_a_metric_orders_rows_best_first(lode, churn):
    rows = _json(lode, churn, "--sort-by", "roc_auc")
    aucs = [r["metrics"]["roc_auc"] for r in rows]
    assert aucs == sorted(aucs, reverse=True)
    qualified = _json(lode, churn, "--sort-by", "metrics.json:roc_auc")
    assert [r["rev"] for r in qualified] == [r["rev"] for r in rows]
    by_c = _json(lode, churn, "--sort-by", "train.C")
    assert [r["params"]["train.C"] for r in by_c] == [0.05, 0.5, 1.5]
    bad = lode("compare", "--sort-by", "f1", cwd=churn, check=False)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith("ERROR: there is no column 'f1' to sort by; the columns are:")
    assert "roc_auc" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_branches_and_tags_are_added_once_each(lode, git, churn):
    git("branch", "feature", "HEAD~2", cwd=churn)
    git("tag", "v1", "HEAD~1", cwd=churn)
    try:
        rows = _json(lode, churn, "-a", "-T", "-n", "1")
        assert [r["rev"] for r in rows] == ["HEAD,main", "v1", "feature"]
        assert [r["params"]["train.C"] for r in rows] == [0.05, 1.5, 0.5]
    finally:
        git("branch", "-D", "feature", cwd=churn)
        git("tag", "-d", "v1", cwd=churn)


def test_an_unknown_revision_is_one_sentence(lode, churn):
    bad = lode("compare", "HEAD", "nosuch", cwd=churn, check=False)
    assert bad.returncode == 1 and "unknown Git revision 'nosuch'" in bad.stderr
    assert "Traceback" not in bad.stderr


# -- small repositories, no training ---------------------------------------------------
DVC_YAML = """\
stages:
  score:
    cmd: python3 -c "print()"
    deps: [raw.csv]
    metrics:
    - m.json:
        cache: false
"""


def test_an_unreadable_metrics_file_is_a_warning_and_its_cells_are_empty(lode, git, git_repo):
    lode("init", cwd=git_repo)
    (git_repo / "dvc.yaml").write_text(DVC_YAML)
    (git_repo / "params.yaml").write_text("lr: 0.1\n")
    (git_repo / "m.json").write_text('{"acc": 0.5}')
    git("add", "-A", cwd=git_repo)
    git("commit", "-q", "-m", "good", cwd=git_repo)
    (git_repo / "m.json").write_text("{not json")
    git("commit", "-q", "-am", "broken", cwd=git_repo)
    proc = lode("compare", "HEAD~1", "HEAD", "--json", cwd=git_repo)
    good, broken = json.loads(proc.stdout)
    assert good["metrics"] == {"acc": 0.5} and broken["metrics"] == {"acc": None}
    assert broken["params"] == {"lr": 0.1} and broken["changed"] == ["acc"]
    assert "WARNING: cannot read metrics at revision 'HEAD'" in proc.stderr
    assert "'m.json' is not valid JSON" in proc.stderr
    table = lode("compare", "HEAD~1", "HEAD", cwd=git_repo).stdout.splitlines()
    assert table[3].split()[-1] == "-*" and table[2].split()[-1] == "0.5"


def test_a_repository_outside_git_is_one_sentence(lode, tmp_path):
    lode("init", "--no-scm", cwd=tmp_path)
    bad = lode("compare", cwd=tmp_path, check=False)
    assert bad.returncode == 1
    assert bad.stderr == "ERROR: cannot read Git history: this repository is not in Git.\n"

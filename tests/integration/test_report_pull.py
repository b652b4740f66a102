"""Reports of revisions whose cached metric and plot files are not in this cache: with
--pull they come from the remote (verified, as every download), without it they are
named as missing and the rest of the report still comes."""

from __future__ import annotations

import json
import shutil

STAGE = """\
stages:
  train:
    cmd: python3 -c "import json,yaml; r=yaml.safe_load(open('params.yaml'))['rate'];
      json.dump({'loss':round(1/r,4)}, open('m.json','w'));
      json.dump([{'step':i,'loss':round(1/(r*(i+1)),4)} for i in range(5)], open('loss.json','w'))"
    deps: [params.yaml]
    metrics: [m.json]
    plots: [loss.json]
"""


def _commit_run(lode, git, repo, rate: int) -> None:
    (repo / "params.yaml").write_text(f"rate: {rate}\n")
    lode("repro", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", f"rate {rate}", cwd=repo)
    lode("push", cwd=repo)


def test_compare_plots_and_report_pull_what_the_cache_lacks(lode, git, git_repo, tmp_path):
    repo = git_repo
    lode("init", cwd=repo)
    lode("remote", "add", "-d", "store", str(tmp_path / "store"), cwd=repo)
    (repo / "dvc.yaml").write_text(STAGE)
    _commit_run(lode, git, repo, 2)
    _commit_run(lode, git, repo, 4)
    shutil.rmtree(repo / ".dvc" / "cache")

    proc = lode("compare", "HEAD~1", "HEAD", "--json", cwd=repo)
    rows = json.loads(proc.stdout)
    assert "m.json" in proc.stderr  # named as unreadable here
    assert all(r["metrics"].get("loss") is None for r in rows)

    rows = json.loads(lode("compare", "HEAD~1", "HEAD", "--json", "--pull", cwd=repo).stdout)
    assert [r["metrics"]["loss"] for r in rows] == [0.5, 0.25]

    shutil.rmtree(repo / ".dvc" / "cache")
    data = json.loads(lode("plots", "diff", "HEAD~1", "HEAD", "--json", "--pull",
                           cwd=repo).stdout)
    (plot,) = [p for p in data["plots"] if p["id"] == "loss.json"]
    assert {"HEAD~1", "HEAD"} <= set(plot["revisions"])
    assert all(plot["revisions"][r]["data"] for r in ("HEAD~1", "HEAD"))

    shutil.rmtree(repo / ".dvc" / "cache")
    proc = lode("report", "HEAD~1", "HEAD", "--pull", "-o", tmp_path / "r.html", cwd=repo)
    assert "WARNING" not in proc.stderr
    html = (tmp_path / "r.html").read_text()
    assert "0.25" in html and "loss.json" in html


def test_report_without_revisions_takes_the_recent_history(lode, git, git_repo, tmp_path):
    repo = git_repo
    lode("init", cwd=repo)
    lode("remote", "add", "-d", "store", str(tmp_path / "store"), cwd=repo)
    (repo / "dvc.yaml").write_text(STAGE)
    for rate in (1, 2, 4):
        _commit_run(lode, git, repo, rate)
    proc = lode("report", "-n", "2", "-o", tmp_path / "r.html", cwd=repo)
    assert "2 revision(s), baseline HEAD~1" in proc.stdout
    html = (tmp_path / "r.html").read_text()
    assert "data-rev='HEAD'" in html and "data-rev='HEAD~1'" in html
    assert "data-rev='HEAD~2'" not in html

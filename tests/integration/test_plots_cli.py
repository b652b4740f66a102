"""`lode plots show` and `lode plots diff`: the real CLI on real Git repositories — the
churn template with two commits of different `train.C`, a pipeline whose stage writes a
PNG (cached, so a revision's image comes from the cache), and a top-level `plots:`
section drawing fields of two files — and the real dvc's plot ids beside lode's."""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections import Counter
from pathlib import Path

import pytest

from .pipeline_helpers import assert_one_error, project


def _specs(html: str) -> list[dict]:
    """The Vega-Lite specs the page's chart blocks hold."""
    found = re.findall(r'data-vega-spec=""><script type="application/json">(.*?)</script>',
                       html, flags=re.S)
    return [json.loads(text) for text in found]


def _offline(html: str) -> None:
    assert "<script src=" not in html and "<link" not in html and "url(http" not in html
    assert "default-src 'none'" in html


# -- the churn template, two commits --------------------------------------------------
@pytest.fixture(scope="module")
def churn(tmp_path_factory, lode, git) -> Path:
    pytest.importorskip("sklearn", reason="the churn pipeline needs the demo extra")
    root = tmp_path_factory.mktemp("plots")
    lode("init", "--template", "churn", root / "churn", cwd=root)
    proj = root / "churn"
    lode("repro", cwd=proj, timeout=300)
    git("add", "-A", cwd=proj)
    git("commit", "-q", "-m", "train.C = 0.5", cwd=proj)
    params = proj / "params.yaml"
    params.write_text(params.read_text().replace("C: 0.5", "C: 0.02"))
    lode("repro", cwd=proj, timeout=300)
    git("add", "-A", cwd=proj)
    git("commit", "-q", "-m", "train.C = 0.02", cwd=proj)
    return proj


def test_diff_json_holds_both_confusion_matrices(churn, lode):
    data = json.loads(lode("plots", "diff", "HEAD~1", "HEAD", "--json", cwd=churn).stdout)
    assert data["revisions"] == ["HEAD~1", "HEAD"]
    (plot,) = data["plots"]
    assert (plot["id"], plot["kind"], plot["props"]["template"]) == (
        "confusion.csv", "vega", "confusion")
    assert (plot["props"]["x"], plot["props"]["y"]) == ("actual", "predicted")
    old, new = (plot["revisions"][r]["data"] for r in ("HEAD~1", "HEAD"))
    assert len(old) == len(new) == 500  # one record per test sample
    assert set(old[0]) == {"actual", "predicted"}
    # a different C moves some predictions; the true labels stay
    assert [r["actual"] for r in old] == [r["actual"] for r in new]
    assert old != new
    # what HEAD~1 held is exactly the file committed there
    import subprocess

    committed = subprocess.run(["git", "show", "HEAD~1:confusion.csv"], cwd=churn,
                               capture_output=True, text=True, check=True).stdout
    rows = [line.split(",") for line in committed.split()[1:]]
    assert [[str(r["actual"]), str(r["predicted"])] for r in old] == rows


def test_diff_html_holds_both_revisions_and_nothing_external(churn, lode, tmp_path):
    out = tmp_path / "out.html"
    proc = lode("plots", "diff", "HEAD~1", "HEAD", "-o", out, cwd=churn)
    assert proc.stdout.strip() == str(out)
    html = out.read_text(encoding="utf-8")
    _offline(html)
    (spec,) = _specs(html)
    assert [layer["mark"]["type"] for layer in spec["spec"]["layer"]] == ["rect", "text"]
    data = json.loads(lode("plots", "diff", "HEAD~1", "HEAD", "--json", cwd=churn).stdout)
    for rev in ("HEAD~1", "HEAD"):
        want = Counter((str(r["actual"]), str(r["predicted"]))
                       for r in data["plots"][0]["revisions"][rev]["data"])
        got = {(c["actual"], c["predicted"]): c["count"] for c in spec["data"]["values"]
               if c["rev"] == rev}
        assert got == dict(want) and sum(got.values()) == 500


def test_diff_without_revisions_is_head_and_the_workspace(churn, lode):
    proc = lode("plots", "diff", cwd=churn)
    assert proc.stdout.strip() == "dvc_plots/index.html"
    html = (churn / "dvc_plots" / "index.html").read_text(encoding="utf-8")
    (spec,) = _specs(html)
    assert spec["facet"]["column"]["sort"] == ["HEAD", "workspace"]
    one = json.loads(lode("plots", "diff", "HEAD~1", "--json", cwd=churn).stdout)
    assert one["revisions"] == ["HEAD~1", "workspace"]
    shown = json.loads(lode("plots", "show", "--json", cwd=churn).stdout)
    assert shown["revisions"] == ["workspace"]
    assert shown["plots"][0]["revisions"]["workspace"]["data"] == \
        one["plots"][0]["revisions"]["workspace"]["data"]


def test_bad_input_is_one_sentence(churn, lode):
    line = assert_one_error(lode("plots", "show", "nope.csv", cwd=churn, check=False))
    assert "unknown plot 'nope.csv'" in line
    line = assert_one_error(lode("plots", "diff", "no-such-rev", cwd=churn, check=False))
    assert "unknown Git revision 'no-such-rev'" in line


@pytest.mark.dvc
def test_plot_ids_agree_with_dvc(churn, lode, dvc):
    theirs = json.loads(dvc("plots", "show", "--json", cwd=churn).stdout)
    ours = json.loads(lode("plots", "show", "--json", cwd=churn).stdout)
    assert sorted(theirs["data"]) == sorted(p["id"] for p in ours["plots"]) == [
        "confusion.csv"]


# -- an image plot, cached ------------------------------------------------------------
def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                            0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


DRAW = '''\
import struct, sys, zlib
def chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
red = int(open("level.txt").read())
rows = b"".join(b"\\0" + bytes((red, 0, 0)) * 4 for _ in range(3))
png = (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 3, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
open("roc.png", "wb").write(png)
'''


def test_image_plots_are_inline_per_revision_from_the_cache(lode, git, git_repo, tmp_path):
    repo = project(lode, git_repo, "stages:\n  draw:\n    cmd: python3 draw.py\n"
                   "    deps: [draw.py, level.txt]\n    plots:\n    - roc.png\n",
                   {"draw.py": DRAW, "level.txt": "200\n"})
    lode("repro", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "red 200", cwd=repo)
    first = (repo / "roc.png").read_bytes()
    assert first == _png(4, 3, (200, 0, 0))
    (repo / "level.txt").write_text("90\n")
    lode("repro", cwd=repo)
    second = (repo / "roc.png").read_bytes()

    data = json.loads(lode("plots", "show", "--json", cwd=repo).stdout)
    (plot,) = data["plots"]
    assert (plot["id"], plot["kind"]) == ("roc.png", "image")
    import base64

    assert base64.b64decode(plot["revisions"]["workspace"]["image_b64"]) == second

    # roc.png is cached, not in Git: HEAD's image comes from the cache via dvc.lock
    (repo / "roc.png").unlink()
    proc = lode("plots", "diff", "HEAD", "-o", tmp_path / "img.html", cwd=repo)
    html = (tmp_path / "img.html").read_text(encoding="utf-8")
    _offline(html)
    b64 = base64.b64encode(first).decode()
    assert f'src="data:image/png;base64,{b64}"' in html
    assert "<figcaption>HEAD</figcaption>" in html
    # the workspace lost the file, and its dvc.lock names the second image's md5, which
    # the cache holds: it is drawn from there, as DVC reads outputs
    assert base64.b64encode(second).decode() in html
    assert "WARNING" not in proc.stderr
    (repo / ".dvc" / "cache").rename(tmp_path / "moved-cache")
    proc = lode("plots", "diff", "HEAD", "--json", cwd=repo)
    assert "WARNING: 'roc.png' does not exist at revision 'HEAD'." in proc.stderr
    assert json.loads(proc.stdout)["plots"][0]["revisions"] == {}


# -- the top-level section: x and y across two files ----------------------------------
TRAIN = '''\
import json, os
os.makedirs("logs", exist_ok=True)
lr = float(open("lr.txt").read())
losses = [round(1 / (1 + lr * e), 4) for e in range(1, 6)]
json.dump([{"epoch": e, "loss": l} for e, l in zip(range(1, 6), losses)],
          open("logs/train.json", "w"))
json.dump({"val": [{"epoch": e, "loss": round(l + 0.1, 4)} for e, l in
                   zip(range(1, 6), losses)]}, open("logs/val.json", "w"))
'''
TOP_LEVEL = """\
plots:
  - loss:
      x: epoch
      y:
        logs/train.json: loss
        logs/val.json: loss
      title: Loss per epoch
      y_label: cross-entropy
stages:
  train:
    cmd: python3 train.py
    deps: [train.py, lr.txt]
    outs:
    - logs
"""


def test_top_level_plot_across_two_files_in_two_revisions(lode, git, git_repo, tmp_path):
    repo = project(lode, git_repo, TOP_LEVEL, {"train.py": TRAIN, "lr.txt": "0.5\n"})
    lode("repro", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "lr 0.5", cwd=repo)
    (repo / "lr.txt").write_text("2\n")
    lode("repro", cwd=repo)

    data = json.loads(lode("plots", "diff", "--json", cwd=repo).stdout)
    (plot,) = data["plots"]
    assert plot["id"] == "loss" and plot["sources"] == ["logs/train.json", "logs/val.json"]
    assert plot["props"] == {"template": "linear", "title": "Loss per epoch", "x": "epoch",
                             "y": "loss", "x_label": "epoch", "y_label": "cross-entropy",
                             "series": True}
    head = plot["revisions"]["HEAD"]["data"]  # logs/ is cached: read through dvc.lock
    assert [(r["series"], r["epoch"], r["loss"]) for r in head[:2]] == [
        ("train.json", 1, 0.6667), ("train.json", 2, 0.5)]
    assert [r["loss"] for r in head if r["series"] == "val.json"][0] == 0.7667
    assert plot["revisions"]["workspace"]["data"][0] == {
        "epoch": 1, "loss": 0.3333, "series": "train.json"}

    lode("plots", "diff", "-o", tmp_path / "loss.html", cwd=repo)
    html = (tmp_path / "loss.html").read_text(encoding="utf-8")
    _offline(html)
    (spec,) = _specs(html)
    assert spec["title"]["text"] == "Loss per epoch"
    assert spec["encoding"]["y"]["title"] == "cross-entropy"
    assert spec["encoding"]["color"]["title"] == "revision: series"
    assert {v["line"] for v in spec["data"]["values"]} == {
        "HEAD: train.json", "HEAD: val.json", "workspace: train.json", "workspace: val.json"}

    # a target picks the plot by id; an undeclared data file by its path
    only = json.loads(lode("plots", "show", "logs/val.json", "--json", cwd=repo).stdout)
    assert [p["id"] for p in only["plots"]] == ["logs/val.json"]
    assert only["plots"][0]["revisions"]["workspace"]["data"][0] == {"step": 0, "loss": 0.4333}


def test_no_plots_means_no_page_and_a_sentence(lode, git_repo):
    lode("init", cwd=git_repo)
    proc = lode("plots", "show", cwd=git_repo)
    assert "No plots to show" in proc.stdout
    assert not (git_repo / "dvc_plots").exists()

"""The parts of `lode plots` that need no Git: data files, DVC 3's x/y rules, plot
definitions in dvc.yaml, the Vega-Lite spec of each template, and the HTML page."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from lode.ops.reports import html, plots, vega
from lode.ops.reports.plots import PlotsError, datapoints, parse_data, series
from lode.pipeline.revisions import WorkspaceTree
from lode.repo import Repo

# -- data files -----------------------------------------------------------------------


@pytest.mark.parametrize("name, text, expected", [
    ("a.json", '[{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]',
     [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]),
    ("a.json", '{"train": [{"loss": 0.5}, {"loss": 0.4}]}', [{"loss": 0.5}, {"loss": 0.4}]),
    ("a.yaml", "- {x: 1, y: 2}\n- {x: 2, y: 3}\n", [{"x": 1, "y": 2}, {"x": 2, "y": 3}]),
    ("a.yml", "points:\n  - {x: 1, on: yes}\n", [{"x": 1, "on": "yes"}]),  # YAML 1.2
    ("a.csv", "epoch,loss,name\n1,0.5,a\n2,1e-3,b\n",
     [{"epoch": 1, "loss": 0.5, "name": "a"}, {"epoch": 2, "loss": 0.001, "name": "b"}]),
    ("a.tsv", "actual\tpredicted\n0\t1\n1\t1\n",
     [{"actual": 0, "predicted": 1}, {"actual": 1, "predicted": 1}]),
])
def test_parse_each_format(name, text, expected):
    assert parse_data(text.encode(), name) == expected


def test_lists_side_by_side_merge_record_by_record_as_dvc():
    doc = {"train": {"loss": [{"loss": 0.5}, {"loss": 0.4}]},
           "acc": [{"acc": 0.6}, {"acc": 0.7}], "meta": {"n": 2}, "skip": [1, 2]}
    assert datapoints(doc) == [{"loss": 0.5, "acc": 0.6}, {"loss": 0.4, "acc": 0.7}]


def test_csv_without_header_numbers_its_columns():
    assert parse_data(b"1,2\n3,4\n", "a.csv", header=False) == [
        {"0": 1, "1": 2}, {"0": 3, "1": 4}]


@pytest.mark.parametrize("name, raw, message", [
    ("m.json", b"{not json", "'m.json' is not valid JSON: "),
    ("m.yaml", b"a: [", "'m.yaml' is not valid YAML: "),
    ("m.json", b'{"a": 1}', "'m.json' holds no records"),
    ("m.csv", b"\xff\xfe", "'m.csv' is not valid CSV: "),
    ("m.txt", b"1 2 3", "'m.txt' is not a plot file"),
])
def test_unreadable_data_is_one_sentence(name, raw, message):
    with pytest.raises(PlotsError) as e:
        parse_data(raw, name)
    assert str(e.value).startswith(message)
    assert "\n" not in str(e.value)


# -- x and y, as DVC 3 reads them -----------------------------------------------------
LOG = [{"epoch": 1, "loss": 0.5, "acc": 0.6}, {"epoch": 2, "loss": 0.3, "acc": 0.8}]


def test_defaults_are_the_index_and_the_last_field():
    records, props = series("log.json", {}, {"log.json": LOG})
    assert records == [{"step": 0, "acc": 0.6}, {"step": 1, "acc": 0.8}]
    assert props == {"template": "linear", "title": "log.json", "x": "step", "y": "acc",
                     "x_label": "step", "y_label": "acc", "series": False}


def test_a_list_of_y_fields_is_one_series_each():
    records, props = series("log.json", {"x": "epoch", "y": ["loss", "acc"],
                                         "title": "Training", "y_label": "metric"},
                            {"log.json": LOG})
    assert (props["x"], props["y"], props["series"]) == ("epoch", "value", True)
    assert (props["title"], props["x_label"], props["y_label"]) == (
        "Training", "epoch", "metric")
    assert records == [
        {"epoch": 1, "value": 0.5, "series": "loss"}, {"epoch": 2, "value": 0.3, "series": "loss"},
        {"epoch": 1, "value": 0.6, "series": "acc"}, {"epoch": 2, "value": 0.8, "series": "acc"}]


def test_y_as_a_mapping_across_files_with_x_for_each():
    val = [{"epoch": 1, "loss": 0.7}, {"epoch": 2, "loss": 0.6}]
    records, props = series("curves", {"x": "epoch", "y": {"logs/train.json": "loss",
                                                          "logs/val.json": "loss"}},
                            {"logs/train.json": LOG, "logs/val.json": val})
    assert (props["x"], props["y"], props["y_label"]) == ("epoch", "loss", "loss")
    assert [r["series"] for r in records] == ["train.json", "train.json", "val.json",
                                              "val.json"]
    assert [r["loss"] for r in records] == [0.5, 0.3, 0.7, 0.6]


def test_x_from_another_file_is_joined_by_position():
    steps = [{"t": 10}, {"t": 20}]
    records, props = series("p", {"x": {"time.json": "t"}, "y": {"log.json": ["loss", "acc"]}},
                            {"log.json": LOG, "time.json": steps})
    assert props["x"] == "t"
    assert records[:2] == [{"t": 10, "value": 0.5, "series": "loss"},
                           {"t": 20, "value": 0.3, "series": "loss"}]


def test_a_file_missing_at_a_revision_leaves_only_its_series_out():
    records, props = series("c", {"y": {"a.json": "loss", "b.json": "loss"}}, {"a.json": LOG})
    assert records == [{"step": 0, "loss": 0.5}, {"step": 1, "loss": 0.3}]
    assert props["series"] is False


@pytest.mark.parametrize("props, message", [
    ({"y": "nope"}, "'log.json' has no field 'nope' (its fields: epoch, loss, acc)."),
    ({"x": {"a.json": "t", "b.json": "t"}, "y": {"log.json": ["loss", "acc", "epoch"]}},
     "plot 'log.json' has 2 x sources for 3 y sources"),
    ({"x": {"short.json": "t"}, "y": "loss"},
     "cannot pair x 't' of 'short.json' with y 'loss' of 'log.json': they have 1 and 2"),
])
def test_bad_axes_are_one_sentence(props, message):
    with pytest.raises(PlotsError, match=re.escape(message)):
        series("log.json", props, {"log.json": LOG, "short.json": [{"t": 1}],
                                   "a.json": LOG, "b.json": LOG})


# -- definitions in dvc.yaml ----------------------------------------------------------
DVC_YAML = """\
plots:
  - logs/train.json
  - loss_curves:
      x: epoch
      y:
        logs/train.json: loss
        logs/val.json: loss
      title: Loss
  - confusion.csv:
      template: confusion
      x: actual
      y: predicted
  - images
stages:
  s:
    cmd: echo
    plots:
    - confusion.csv:
        cache: false
        template: confusion
        x: actual
        y: predicted
        desc: not a plot property
"""
SUB_DVC_YAML = """\
plots:
  - ../logs/val.json:
      y: loss
  - loss_curves:
      y:
        ../logs/train.json: acc
"""
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / ".dvc").mkdir()
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "dvc.yaml").write_text(SUB_DVC_YAML)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "train.json").write_text(json.dumps(LOG))
    (tmp_path / "logs" / "val.json").write_text(json.dumps(
        {"val": [{"epoch": 1, "loss": 0.7}, {"epoch": 2, "loss": 0.6}]}))
    (tmp_path / "confusion.csv").write_text("actual,predicted\n0,0\n0,1\n1,1\n1,1\n")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "roc.png").write_bytes(PNG)
    (tmp_path / "images" / "notes.txt").write_text("not a plot")
    return tmp_path


def test_definitions_of_both_sections(project):
    defs = plots.definitions(WorkspaceTree(Repo(str(project))))
    got = [(d.config, d.name, d.sources) for d in defs]
    assert got == [
        ("dvc.yaml", "logs/train.json", ["logs/train.json"]),
        ("dvc.yaml", "loss_curves", ["logs/train.json", "logs/val.json"]),
        ("dvc.yaml", "confusion.csv", ["confusion.csv"]),
        ("dvc.yaml", "images/roc.png", ["images/roc.png"]),
        ("sub/dvc.yaml", "logs/val.json", ["logs/val.json"]),
        ("sub/dvc.yaml", "loss_curves", ["logs/train.json"]),
        ("", "confusion.csv", ["confusion.csv"]),
    ]
    # {file: field} is rebased from its dvc.yaml to the root; non-plot keys are dropped
    assert defs[5].props == {"y": {"logs/train.json": "acc"}}
    assert defs[6].props == {"template": "confusion", "x": "actual", "y": "predicted"}


def test_collect_names_plots_as_dvc_and_reads_them(project):
    report = plots.collect(Repo(str(project)), cwd=str(project))
    data = report.data
    assert report.warnings == []
    assert data["revisions"] == ["workspace"]
    # the ids `dvc plots show --json` gives on this project (dvc 3.67.1)
    assert [p["id"] for p in data["plots"]] == [
        "logs/train.json", "dvc.yaml::loss_curves", "dvc.yaml::confusion.csv",
        "images/roc.png", "logs/val.json", "sub/dvc.yaml::loss_curves", "confusion.csv"]
    by_id = {p["id"]: p for p in data["plots"]}
    image = by_id["images/roc.png"]
    assert image["kind"] == "image"
    assert base64.b64decode(image["revisions"]["workspace"]["image_b64"]) == PNG
    assert by_id["logs/val.json"]["revisions"]["workspace"]["data"] == [
        {"step": 0, "loss": 0.7}, {"step": 1, "loss": 0.6}]
    assert by_id["confusion.csv"]["props"]["template"] == "confusion"
    json.dumps(data)  # all of it JSON-able


def test_targets_select_by_id_file_directory_or_dvc_yaml(project):
    repo = Repo(str(project))

    def ids(*targets, cwd=project):
        return [p["id"] for p in plots.collect(repo, None, list(targets), cwd=str(cwd))
                .data["plots"]]

    assert ids("confusion.csv") == ["dvc.yaml::confusion.csv", "confusion.csv"]
    assert ids("loss_curves") == ["dvc.yaml::loss_curves", "sub/dvc.yaml::loss_curves"]
    assert ids("sub/dvc.yaml::loss_curves") == ["loss_curves"]  # no longer ambiguous
    assert ids("images") == ["images/roc.png"]
    assert ids("../logs", cwd=project / "sub") == ["logs/train.json", "logs/val.json"]
    assert ids("sub/dvc.yaml") == ["logs/val.json", "loss_curves"]


def test_a_target_nothing_declares_is_drawn_with_defaults_or_refused(project):
    repo = Repo(str(project))
    (project / "other.csv").write_text("a,b\n1,2\n2,4\n")
    data = plots.collect(repo, None, ["other.csv"], cwd=str(project)).data
    assert data["plots"][0]["id"] == "other.csv"
    assert data["plots"][0]["revisions"]["workspace"]["data"] == [
        {"step": 0, "b": 2}, {"step": 1, "b": 4}]
    with pytest.raises(PlotsError, match="unknown plot 'nope.csv': no dvc.yaml declares it"):
        plots.collect(repo, None, ["nope.csv"], cwd=str(project))


def test_missing_and_broken_files_are_warnings(project):
    (project / "logs" / "val.json").unlink()
    (project / "confusion.csv").write_text("")
    (project / "sub" / "dvc.yaml").write_text("plots:\n- a.json:\n    template: fancy\n")
    (project / "sub" / "a.json").write_text('[{"x": 1}]')
    report = plots.collect(Repo(str(project)), cwd=str(project))
    by_id = {p["id"]: p for p in report.data["plots"]}
    assert report.warnings == [
        "'logs/val.json' does not exist in the workspace.",
        "cannot draw plot 'dvc.yaml::confusion.csv' in the workspace: 'confusion.csv' holds "
        "no records (a list of fields and values).",
        "cannot draw plot 'confusion.csv' in the workspace: 'confusion.csv' holds no records "
        "(a list of fields and values).",
        "plot 'sub/a.json' asks for template 'fancy', which lode does not draw; it is drawn "
        "as 'linear'.",
    ]
    # the partly missing plot draws what is there; the broken one records its error
    assert by_id["loss_curves"]["revisions"]["workspace"]["data"] == [
        {"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.3}]
    assert by_id["confusion.csv"]["revisions"]["workspace"]["error"].startswith(
        "'confusion.csv' holds no records")
    body = plots.render(report.data)
    assert "Not drawn for workspace: &#x27;confusion.csv&#x27; holds no records" in body


def test_a_broken_plots_section_in_the_workspace_is_an_error(project):
    (project / "dvc.yaml").write_text("plots:\n- a: 1\n  b: 2\n")
    with pytest.raises(PlotsError, match=r"dvc.yaml: a 'plots' entry must be a path"):
        plots.collect(Repo(str(project)), cwd=str(project))


# -- Vega-Lite specs ------------------------------------------------------------------
def _plot(template: str, revisions: dict, **props) -> dict:
    base = {"template": template, "title": "T", "x": "step", "y": "loss",
            "x_label": "step", "y_label": "loss", "series": False}
    return {"id": "p", "kind": "vega", "props": {**base, **props},
            "revisions": {rev: {"data": data, "image_b64": None, "error": None}
                          for rev, data in revisions.items()}}


TWO_REVS = {"HEAD~1": [{"step": 0, "loss": 0.5}, {"step": 1, "loss": 0.4}],
            "HEAD": [{"step": 0, "loss": 0.6}, {"step": 1, "loss": 0.3}]}


def test_linear_colours_by_revision_with_titles_legend_and_tooltips():
    s = vega.spec(_plot("linear", TWO_REVS))
    assert s["mark"]["type"] == "line" and s["mark"]["point"] is True
    assert s["title"]["text"] == "T"
    enc = s["encoding"]
    assert (enc["x"]["title"], enc["y"]["title"], enc["x"]["type"]) == (
        "step", "loss", "quantitative")
    assert enc["color"]["field"] == "line" and enc["color"]["title"] == "revision"
    assert [t["field"] for t in enc["tooltip"]] == ["rev", "step", "loss"]
    values = s["data"]["values"]
    assert {(v["rev"], v["line"]) for v in values} == {("HEAD~1", "HEAD~1"), ("HEAD", "HEAD")}


def test_one_revision_one_series_needs_no_legend():
    s = vega.spec(_plot("simple", {"workspace": TWO_REVS["HEAD"]}))
    assert s["mark"]["point"] is False
    assert "field" not in s["encoding"]["color"]


def test_series_and_revisions_together_name_both_in_the_legend():
    data = {rev: [{**r, "series": name} for name in ("train", "val") for r in recs]
            for rev, recs in TWO_REVS.items()}
    s = vega.spec(_plot("scatter", data, series=True))
    assert s["mark"]["type"] == "point"
    assert s["encoding"]["color"]["title"] == "revision: series"
    assert "HEAD~1: val" in {v["line"] for v in s["data"]["values"]}


def test_smooth_draws_points_under_a_loess_line():
    s = vega.spec(_plot("smooth", TWO_REVS))
    assert [layer["mark"]["type"] for layer in s["layer"]] == ["point", "line"]
    assert s["layer"][1]["transform"][0]["loess"] == "loss"


def test_bars_are_horizontal_and_sorted_on_request():
    recs = {"HEAD": [{"importance": 0.2, "feature": "a"}, {"importance": 0.7, "feature": "b"}]}
    s = vega.spec(_plot("bar_horizontal_sorted", recs, x="importance", y="feature",
                        x_label="importance", y_label="feature"))
    assert s["mark"]["type"] == "bar"
    assert {"field": "feature", "type": "nominal", "sort": "-x"}.items() <= \
        s["encoding"]["y"].items()
    assert s["encoding"]["x"]["type"] == "quantitative"


def test_confusion_is_a_heatmap_of_counts_per_revision():
    recs = {"HEAD~1": [{"actual": 0, "predicted": 0}, {"actual": 1, "predicted": 1},
                       {"actual": 1, "predicted": 1}],
            "HEAD": [{"actual": 0, "predicted": 1}, {"actual": 1, "predicted": 1}]}
    s = vega.spec(_plot("confusion", recs, x="actual", y="predicted", x_label="actual",
                        y_label="predicted"))
    assert s["facet"]["column"]["field"] == "rev"
    assert s["facet"]["column"]["sort"] == ["HEAD~1", "HEAD"]
    assert [layer["mark"]["type"] for layer in s["spec"]["layer"]] == ["rect", "text"]
    assert s["spec"]["layer"][1]["encoding"]["text"]["field"] == "count"
    assert s["spec"]["encoding"]["x"]["title"] == "actual"
    cells = {(c["rev"], c["actual"], c["predicted"]): c["count"] for c in s["data"]["values"]}
    assert cells == {("HEAD~1", "0", "0"): 1, ("HEAD~1", "0", "1"): 0,
                     ("HEAD~1", "1", "0"): 0, ("HEAD~1", "1", "1"): 2,
                     ("HEAD", "0", "0"): 0, ("HEAD", "0", "1"): 1,
                     ("HEAD", "1", "0"): 0, ("HEAD", "1", "1"): 1}
    n = vega.spec(_plot("confusion_normalized", recs, x="actual", y="predicted"))
    assert n["spec"]["layer"][1]["encoding"]["text"]["field"] == "share"
    shares = {(c["rev"], c["actual"], c["predicted"]): c["share"] for c in n["data"]["values"]}
    assert shares[("HEAD~1", "1", "1")] == 1.0 and shares[("HEAD", "0", "1")] == 1.0


# -- the HTML page --------------------------------------------------------------------
def test_blocks_escape_what_could_end_their_element():
    block = html.vega_block({"title": "</script><script>alert(1)</script>"}, 'a"b')
    assert "</script><script>" not in block and 'id="a&quot;b"' in block
    inner = block.split('<script type="application/json">')[1].rsplit("</script>", 1)[0]
    assert json.loads(inner)["title"] == "</script><script>alert(1)</script>"
    svg = html.image_block(b"<svg/>", "plots/a.svg", caption="HEAD")
    assert 'src="data:image/svg+xml;base64,PHN2Zy8+"' in svg and "<figcaption>HEAD<" in svg
    assert html.escape("<a & 'b'>") == "&lt;a &amp; &#x27;b&#x27;&gt;"


def test_the_page_references_nothing_outside_itself(project, tmp_path):
    data = plots.collect(Repo(str(project)), cwd=str(project)).data
    page = html.page("plots <1>", plots.render(data), cache_dir=str(tmp_path / "cache"))
    assert page.startswith("<!DOCTYPE html>") and "<title>plots &lt;1&gt;</title>" in page
    assert "<script src=" not in page and "<link" not in page and "url(http" not in page
    assert "default-src 'none'" in page  # the browser refuses any request
    assert page.count('<script type="module">') == 1
    assert page.count('data-vega-spec=""') == 6  # each data plot; the image is inline
    assert "data:image/png;base64," in page
    assert (tmp_path / "cache").is_dir()  # the bundle is kept for the next run
    bare = html.page("t", "<p>x</p>", scripts=False)
    assert "<script" not in bare


def test_the_bundle_on_disk_is_reused_and_a_damaged_one_rebuilt(tmp_path, monkeypatch):
    first = html.bundle(str(tmp_path))  # built, or this process's copy
    monkeypatch.setattr(html, "_bundle", None)
    cached = next(tmp_path.glob("vega-bundle-*.js"), None)
    if cached is None:  # the process had it already: write it as a run would
        html.bundle(str(tmp_path))
        cached = next(tmp_path.glob("vega-bundle-*.js"))
    monkeypatch.setattr(html, "_bundle", None)
    assert html.bundle(str(tmp_path)) == first
    cached.write_text(first[: len(first) // 2])  # cut short
    monkeypatch.setattr(html, "_bundle", None)
    assert html.bundle(str(tmp_path)) == first
    assert cached.read_text() == first

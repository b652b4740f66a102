"""lode.ops.reports.history's pure parts: columns, changed cells, sorting and the renderers,
on revisions made up in the test (the real CLI on real Git runs in
tests/integration/test_compare_cli.py)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from lode.ops.reports import history, history_render
from lode.ops.reports.history import CompareError, Revision


def _rev(label: str, c: float | None, auc: float | None, model: str = "m0" * 16,
         data: str = "d0" * 16, **kw) -> Revision:
    params = {"params.yaml": {"train.C": c, "seed": 42}} if c is not None else {}
    metrics = {"metrics.json": {"roc_auc": auc, "acc": 0.5}} if auc is not None else {}
    return Revision(label, sha=kw.pop("sha", f"{label:0<40}"), date="2024-05-01T10:20:30+02:00",
                    author="Ada", message=f"try {label}", params=params, metrics=metrics,
                    deps={"data/train.csv": data, "model.pkl": model}, **kw)


@pytest.fixture
def three() -> list[Revision]:
    """Newest first: C 0.05 -> 1.5 -> 0.5, the model changing each time."""
    return [_rev("HEAD", 0.05, 0.8233, "cc" * 16), _rev("HEAD~1", 1.5, 0.8229, "bb" * 16),
            _rev("HEAD~2", 0.5, 0.8228, "aa" * 16)]


# -- columns and rows -----------------------------------------------------------------
def test_columns_are_grouped_params_metrics_deps_and_keys_sorted(three):
    c = history.build(three)
    assert c.columns == [("params", "seed"), ("params", "train.C"), ("metrics", "acc"),
                         ("metrics", "roc_auc"), ("deps", "data/train.csv"),
                         ("deps", "model.pkl")]
    row = c.rows[0]
    assert row["rev"] == "HEAD" and row["author"] == "Ada" and row["message"] == "try HEAD"
    assert row["params"] == {"seed": 42, "train.C": 0.05}
    assert row["metrics"] == {"acc": 0.5, "roc_auc": 0.8233}
    assert row["deps"] == {"data/train.csv": "d0" * 16, "model.pkl": "cc" * 16}


def test_the_file_prefixes_keys_only_when_its_group_has_several_files():
    a = Revision("a", params={"params.yaml": {"lr": 1}},
                 metrics={"train.json": {"loss": 1.0}, "eval.json": {"loss": 2.0, "auc": 0.5}})
    c = history.build([a])
    assert c.columns == [("params", "lr"), ("metrics", "eval.json:auc"),
                         ("metrics", "eval.json:loss"), ("metrics", "train.json:loss")]
    assert c.rows[0]["metrics"]["train.json:loss"] == 1.0
    # a bare key names the one column it can be; --sort-by takes it
    assert history.find_column(c, "auc") == ("metrics", "eval.json:auc")
    with pytest.raises(CompareError, match="no column 'loss'"):
        history.find_column(c, "loss")


def test_a_name_in_two_groups_gets_its_file_prefix():
    a = Revision("a", params={"params.yaml": {"acc": 1}}, metrics={"m.json": {"acc": 0.9}})
    c = history.build([a])
    assert c.columns == [("params", "params.yaml:acc"), ("metrics", "m.json:acc")]
    assert history.find_column(c, "acc") == ("metrics", "m.json:acc")  # metrics first


def test_a_file_of_one_value_is_named_by_its_path():
    c = history.build([Revision("a", metrics={"score.txt": {"": 0.75}})])
    assert c.columns == [("metrics", "score.txt")]
    assert c.rows[0]["metrics"] == {"score.txt": 0.75}


def test_missing_values_are_none_and_revisions_keep_their_warnings():
    broken = _rev("HEAD~1", 1.5, None, warnings=["cannot read metrics at revision 'HEAD~1'"])
    c = history.build([_rev("HEAD", 0.5, 0.8), broken, _rev("HEAD~2", 0.5, 0.8)])
    assert c.rows[1]["metrics"] == {"acc": None, "roc_auc": None}
    assert c.warnings == ["cannot read metrics at revision 'HEAD~1'"]
    # '-' where missing, and changed: the older revision had values there
    assert history_render.to_text(c).splitlines()[3].split()[6:8] == ["-*", "-*"]


# -- changed cells --------------------------------------------------------------------
def test_a_cell_is_changed_when_it_differs_from_the_next_older_revision(three):
    c = history.build(three)
    assert c.rows[0]["changed"] == ["train.C", "roc_auc", "model.pkl"]
    assert c.rows[1]["changed"] == ["train.C", "roc_auc", "model.pkl"]
    assert c.rows[2]["changed"] == []  # the oldest has nothing before it


def test_appearing_and_vanishing_values_are_changes():
    c = history.build([_rev("new", 0.5, None), _rev("mid", 0.5, 0.8), _rev("old", 0.5, None)])
    assert c.rows[0]["changed"] == ["acc", "roc_auc"]
    assert c.rows[1]["changed"] == ["acc", "roc_auc"]


def test_changes_follow_age_not_display_order(three):
    # shown oldest first (as `compare HEAD~2 HEAD~1 HEAD`): still compared with the older one
    shown = list(reversed(three))
    c = history.build(shown, chronology=[2, 1, 0])
    assert [r["rev"] for r in c.rows] == ["HEAD~2", "HEAD~1", "HEAD"]
    assert c.rows[0]["changed"] == []
    assert c.rows[2]["changed"] == ["train.C", "roc_auc", "model.pkl"]


def test_only_changed_keeps_the_columns_with_a_change(three):
    c = history.only_changed(history.build(three))
    assert c.columns == [("params", "train.C"), ("metrics", "roc_auc"), ("deps", "model.pkl")]
    assert c.rows[0]["params"] == {"train.C": 0.05}
    assert c.rows[0]["deps"] == {"model.pkl": "cc" * 16}


# -- sorting --------------------------------------------------------------------------
def test_sort_by_a_metric_puts_the_best_first_and_missing_last():
    revs = [_rev("a", 0.5, 0.7), _rev("b", 0.6, None), _rev("c", 0.7, 0.9), _rev("d", 0.8, 0.8)]
    c = history.build(revs, sort_by="roc_auc")
    assert [r["rev"] for r in c.rows] == ["c", "d", "a", "b"]
    # changes were found in age order, before sorting
    assert c.rows[0]["changed"] == ["train.C", "roc_auc"]  # c against d, its elder


def test_sort_by_a_param_is_ascending_and_takes_the_file_prefixed_name(three):
    c = history.build(three, sort_by="params.yaml:train.C")
    assert [r["params"]["train.C"] for r in c.rows] == [0.05, 0.5, 1.5]
    c = history.build(three, sort_by="metrics.json:roc_auc")
    assert [r["rev"] for r in c.rows] == ["HEAD", "HEAD~1", "HEAD~2"]


def test_sort_by_puts_numbers_before_text():
    revs = [Revision(x, metrics={"m.json": {"v": v}}) for x, v in
            (("a", "n/a"), ("b", 2), ("c", None), ("d", 3.5))]
    c = history.build(revs, sort_by="v")
    assert [r["rev"] for r in c.rows] == ["d", "b", "a", "c"]


def test_an_unknown_sort_column_is_one_sentence_listing_the_columns(three):
    with pytest.raises(CompareError) as e:
        history.build(three, sort_by="f1")
    msg = str(e.value)
    assert msg.startswith("there is no column 'f1' to sort by; the columns are: seed, train.C")
    assert msg.endswith("model.pkl.") and "\n" not in msg


# -- rendering ------------------------------------------------------------------------
def test_json_is_the_rows(three):
    c = history.build(three)
    assert json.loads(history_render.to_json(c)) == c.rows


def test_csv_has_a_header_and_one_row_per_revision_with_full_values(three):
    three[1].metrics = {}
    rows = list(csv.DictReader(io.StringIO(history_render.to_csv(history.build(three)))))
    assert list(rows[0]) == ["rev", "sha", "date", "author", "message", "seed", "train.C",
                             "acc", "roc_auc", "data/train.csv", "model.pkl"]
    assert [r["rev"] for r in rows] == ["HEAD", "HEAD~1", "HEAD~2"]
    assert rows[0]["train.C"] == "0.05" and rows[0]["model.pkl"] == "cc" * 16
    assert rows[1]["roc_auc"] == ""  # missing: empty
    assert rows[2]["sha"] == "HEAD~2".ljust(40, "0")


def test_markdown_bolds_changed_cells_and_shortens_hashes(three):
    three[0].metrics["metrics.json"]["roc_auc"] = 0.823312345
    md = history_render.to_markdown(history.build(three), precision=3)
    lines = md.splitlines()
    cells = [[x.strip() for x in line.strip("|").split("|")] for line in lines]
    assert cells[0][:4] == ["Revision", "SHA", "Date", "seed"]
    assert set(lines[1]) == {"|", "-"}
    head = dict(zip(cells[0], cells[2], strict=True))
    assert head["SHA"] == "HEAD000" and head["Date"] == "2024-05-01 10:20"
    assert head["train.C"] == "**0.05**" and head["roc_auc"] == "**0.823**"
    assert head["model.pkl"] == "**cccccccc**" and head["data/train.csv"] == "d0d0d0d0"
    assert "**" not in lines[4]


def test_markdown_escapes_pipes():
    c = history.build([Revision("a|b", metrics={"m.json": {"x|y": 1}})])
    assert "a\\|b" in history_render.to_markdown(c) and "x\\|y" in history_render.to_markdown(c)


def test_text_marks_changes_with_a_star_or_bold(three):
    c = history.build(three)
    plain = history_render.to_text(c, precision=5).splitlines()
    assert plain[0].split() == ["params", "metrics", "data", "(md5)"]
    assert plain[1].split()[:4] == ["Revision", "SHA", "Date", "seed"]
    assert plain[2].split() == ["HEAD", "HEAD000", "2024-05-01", "10:20", "42", "0.05*",
                                "0.5", "0.8233*", "d0d0d0d0", "cccccccc*"]
    assert "*" not in plain[4]
    assert plain[-1] == "(*: changed from the next older revision)"
    # each group's label sits above its first column
    assert plain[0].index("metrics") == plain[1].index("acc")
    assert plain[0].index("data") == plain[1].index("data/train.csv")
    bold = history_render.to_text(c, precision=5, color=True).splitlines()
    assert f"{history_render.BOLD}0.05{history_render.RESET}" in bold[2] and "*" not in bold[2]
    # padding counts the text, not the escape codes
    assert bold[2].replace(history_render.BOLD, "").replace(history_render.RESET, "") == \
        plain[2].replace("*", " ").rstrip()


def test_text_rounds_as_metrics_diff_does():
    c = history.build([Revision("a", metrics={"m.json": {"v": 0.123456789}})])
    assert history_render.to_text(c, precision=3).splitlines()[2].split()[-1] == "0.123"
    assert history_render.to_text(c, precision=None).splitlines()[2].split()[-1] == "0.123456789"

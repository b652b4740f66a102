"""The pure parts of lode.reports: flattening, diffs, metric parsing, params selection,
tables (expected text copied from dvc 3.67.1's output), and workspace trees."""

from __future__ import annotations

import json
import math

import pytest

from lode.ops.reports import compare, metrics, params, table
from lode.pipeline.revisions import WorkspaceTree
from lode.repo import Repo

# -- flattening and diffs -------------------------------------------------------------


def test_flatten_joins_keys_with_dots_and_drops_empty_mappings():
    doc = {"a": {"b": {"c": 1}, "d": {}}, "e": None, "f": [1, 2]}
    assert compare.flatten(doc) == {"a.b.c": 1, "e": None, "f": [1, 2]}


def test_format_dict_turns_lists_into_their_text():
    assert compare.format_dict({"x": [1, "a"], "y": {"z": [0.5]}}) == {
        "x": "[1, 'a']", "y": {"z": "[0.5]"}}


@pytest.mark.parametrize("old, new, unchanged, expected", [
    (0.5, 0.75, False, {"old": 0.5, "new": 0.75, "diff": 0.25}),
    (1, 1, False, {}),
    (1, 1, True, {"old": 1, "new": 1, "diff": 0}),
    ("x", "y", False, {"old": "x", "new": "y"}),
    (0.5, None, False, {"old": 0.5, "new": None}),
    (True, False, False, {"old": True, "new": False, "diff": -1}),
    ([3], [4], False, {"old": 3, "new": 4, "diff": 1}),
])
def test_diff_values(old, new, unchanged, expected):
    assert compare.diff_values(old, new, unchanged) == expected


def test_diff_between_files():
    old = {"m.json": {"data": {"acc": 0.5, "nested": {"a": 1}, "same": 2}},
           "gone.json": {"data": {"x": 1}}}
    new = {"m.json": {"data": {"acc": 0.75, "nested": {"a": 1, "b": [1, 2]}, "same": 2}},
           "broken.json": {"error": {"type": "X", "msg": "y"}}}
    assert compare.diff(old, new) == {
        "gone.json": {"x": {"old": 1, "new": None}},
        "m.json": {"acc": {"old": 0.5, "new": 0.75, "diff": 0.25},
                   "nested.b": {"old": None, "new": "[1, 2]"}},
    }
    assert compare.diff(old, new, with_unchanged=True)["m.json"]["same"] == {
        "old": 2, "new": 2, "diff": 0}


def test_diff_of_scalar_and_unparsable_files():
    assert compare.diff({"s": {"data": 0.5}}, {"s": {"data": 0.7}}) == {
        "s": {"": {"old": 0.5, "new": 0.7, "diff": pytest.approx(0.2)}}}
    # a file that is a string on one side and a mapping on the other, as DVC words it
    assert compare.diff({"f": {"data": "text"}}, {"f": {"data": {"a": 1}}}) == {
        "f": {"a": {"old": "unable to parse", "new": 1}}}


def test_relative_change():
    assert compare.relative_change({"old": 0.5, "new": 0.75, "diff": 0.25}) == 50.0
    assert compare.relative_change({"old": -2, "new": -1, "diff": 1}) == 50.0
    assert compare.relative_change({"old": 0, "new": 1, "diff": 1}) is None
    assert compare.relative_change({"old": "a", "new": "b"}) is None


# -- reading metrics ------------------------------------------------------------------
@pytest.mark.parametrize("name, text, expected", [
    ("m.json", '{"acc": 0.5, "l": [1], "n": null, "s": {"x": true}}',
     {"acc": 0.5, "s": {"x": True}}),
    ("m.yaml", "acc: 0.5\nper_class:\n  a: 0.1\nempty: {}\n",
     {"acc": 0.5, "per_class": {"a": 0.1}}),
    ("m.toml", "acc = 0.5\n[sub]\nx = 1\n", {"acc": 0.5, "sub": {"x": 1}}),
    ("m.csv", "epoch,acc,name\n1,0.5,a\n2,0.75,b\n", {"epoch": 2, "acc": 0.75, "name": "b"}),
    ("m.tsv", "acc\tloss\n0.5\t3\n", {"acc": 0.5, "loss": 3}),
    ("m.csv", "", {}),
    ("m.metric", "0.9\n", 0.9),
])
def test_parse_and_extract(name, text, expected):
    assert metrics.extract(metrics.parse(text, name)) == expected


def test_yaml_metrics_read_booleans_as_yaml_1_2():
    assert metrics.parse("on: yes\nok: true\n", "m.yaml") == {"on": "yes", "ok": True}


# -- params ---------------------------------------------------------------------------
def test_merge_whole_file_wins_over_keys():
    merged = params.merge([("p.yaml", ["a", "b"]), ("q.json", ["x"]), ("p.yaml", None),
                           ("q.json", ["x", "y"])])
    assert merged == {"p.yaml": [], "q.json": ["x", "y"]}


def test_select_nests_dotted_keys_and_skips_absent_ones():
    doc = {"train": {"lr": 0.1, "batch": 32}, "seed": 1, "lst": [1, 2]}
    assert params.select(doc, ["train.lr", "seed", "nope", "train.nope"]) == {
        "train": {"lr": 0.1}, "seed": 1}
    assert params.select(doc, []) is doc


# -- tables (expected text is dvc 3.67.1's) -------------------------------------------
def test_plain_table_pads_each_column_two_past_its_header():
    headers, rows = table.metrics_table(
        {"": {"data": {"metrics.json": {"data": {
            "acc": 0.5, "loss": 1.25, "nested": {"a": 1, "b": {"c": 2}}}}}}},
        show_revision=False, precision=5)
    assert table.tabulate(headers, rows) == (
        "Path          acc    loss    nested.a    nested.b.c\n"
        "metrics.json  0.5    1.25    1           2"
    )
    assert table.tabulate(headers, rows, markdown=True) == (
        "| Path         | acc   | loss   | nested.a   | nested.b.c   |\n"
        "|--------------|-------|--------|------------|--------------|\n"
        "| metrics.json | 0.5   | 1.25   | 1          | 2            |"
    )


def test_empty_markdown_table_is_its_header():
    assert table.tabulate(["Path"], [], markdown=True) == "| Path   |\n|--------|"


def test_metrics_table_with_revisions_errors_and_scalars():
    data = {
        "workspace": {"data": {"m.json": {"data": {"acc": 0.123456789, "ok": True}},
                               "bad.json": {"error": {"type": "E", "msg": "m"}}}},
        "exp": {"data": {"m.json": {"data": {"acc": 0.75, "loss": 1}}, "s": {"data": 3}}},
    }
    headers, rows = table.metrics_table(data, show_revision=True, precision=5)
    assert headers == ["Revision", "Path", "", "acc", "loss", "ok"]
    assert rows == [
        ["workspace", "m.json", "-", "0.12346", "-", "True"],
        ["workspace", "bad.json", "-", "-", "-", "-"],
        ["exp", "m.json", "-", "0.75", "1", "-"],
        ["exp", "s", "3", "-", "-", "-"],
    ]


def test_diff_table_like_dvc_plus_relative_change():
    diff = {"metrics.json": {"loss": {"old": 2.0, "new": 1.0, "diff": -1.0},
                             "acc": {"old": 0.5, "new": 0.75, "diff": 0.25},
                             "gone": {"old": 1, "new": None}}}
    headers, rows = table.diff_table(diff, "Metric", "HEAD", "workspace", relative=True,
                                     precision=5)
    assert table.tabulate(headers, rows) == (
        "Path          Metric    HEAD    workspace    Change    Change %\n"
        "metrics.json  acc       0.5     0.75         0.25      +50.00%\n"
        "metrics.json  gone      1       -            -         -\n"
        "metrics.json  loss      2.0     1.0          -1.0      -50.00%"
    )
    headers, rows = table.diff_table(diff, "Param", "a", "b", no_path=True, show_changes=False)
    assert headers == ["Param", "a", "b"] and rows[0] == ["acc", "0.5", "0.75"]


@pytest.mark.parametrize("value, precision, text", [
    (0.123456789, 5, "0.12346"), (1e-9, 5, "0.0"), (123456.7891234, 5, "123456.78912"),
    (0.75, 0, "0.75"), (True, 5, "True"), (math.nan, 5, "nan"), ("x", 5, "x"),
])
def test_format_value_as_dvc(value, precision, text):
    assert table.format_value(value, precision) == text


# -- workspace trees ------------------------------------------------------------------
@pytest.fixture
def workspace(tmp_path):
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "dvc.yaml").write_text("not: scanned\n")
    (tmp_path / "sub" / "ignored").mkdir(parents=True)
    (tmp_path / ".dvcignore").write_text("sub/ignored\n")
    (tmp_path / "dvc.yaml").write_text(
        "metrics:\n- top.json\nstages:\n  s:\n    cmd: echo\n    metrics:\n"
        "    - m.json:\n        cache: false\n    - dir\n")
    (tmp_path / "sub" / "dvc.yaml").write_text("stages: {}\n")
    (tmp_path / "sub" / "ignored" / "dvc.yaml").write_text("broken: [\n")
    return tmp_path


def test_workspace_tree_lists_pipelines_outside_dvc_and_ignored_dirs(workspace):
    tree = WorkspaceTree(Repo(str(workspace)))
    assert tree.list_dvcfiles() == [str(workspace / "dvc.yaml"),
                                    str(workspace / "sub" / "dvc.yaml")]
    assert tree.read(str(workspace / "nope")) is None
    assert tree.read(str(workspace / "sub" / "dvc.yaml")) == "stages: {}\n"


def test_declared_metrics_and_directory_expansion(workspace):
    tree = WorkspaceTree(Repo(str(workspace)))
    root = str(workspace)
    assert metrics.declared(tree) == [f"{root}/m.json", f"{root}/dir", f"{root}/top.json"]
    (workspace / "dir").mkdir()
    (workspace / "dir" / "b.json").write_text(json.dumps({"b": 2}))
    (workspace / "dir" / "a.yaml").write_text("a: 1\n")
    (workspace / "m.json").write_text('{"acc": 1}')
    got = metrics.gather(tree, None, cwd=str(workspace / "sub"))
    assert got == {
        "../m.json": {"data": {"acc": 1}},
        "../dir/a.yaml": {"data": {"a": 1}},
        "../dir/b.json": {"data": {"b": 2}},
        "../top.json": {"error": {"type": "FileNotFoundError",
                                  "msg": "'../top.json' does not exist."}},
    }


def test_unreadable_metric_is_an_error_record(workspace):
    tree = WorkspaceTree(Repo(str(workspace)))
    (workspace / "m.json").write_text("{not json")
    got = metrics.read_metric(tree, str(workspace / "m.json"), None, "m.json")
    assert got["error"]["type"] == "JSONDecodeError"
    assert got["error"]["msg"].startswith("'m.json' is not valid JSON: ")

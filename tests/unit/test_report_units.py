"""The report's pure parts: metric deltas against a baseline."""

from __future__ import annotations

import pytest

from lode.ops.reports.report import metric_deltas


def _row(rev, **metrics):
    return {"rev": rev, "metrics": metrics}


def test_deltas_are_taken_against_the_baseline_for_every_other_row():
    rows = [_row("HEAD", auc=0.9, loss=0.2), _row("HEAD~1", auc=0.8, loss=0.25),
            _row("HEAD~2", auc=0.8, note="x")]
    deltas = metric_deltas(rows, "HEAD~2")
    assert [(d["rev"], d["metric"]) for d in deltas] == [
        ("HEAD", "auc"), ("HEAD", "loss"), ("HEAD", "note"),
        ("HEAD~1", "auc"), ("HEAD~1", "loss"), ("HEAD~1", "note")]
    head_auc = deltas[0]
    assert head_auc["baseline"] == 0.8 and head_auc["value"] == 0.9
    assert head_auc["diff"] == pytest.approx(0.1)
    assert head_auc["percent"] == pytest.approx(12.5)
    # a metric missing on one side, or not a number, has no difference
    assert deltas[1]["baseline"] is None and deltas[1]["diff"] is None
    assert deltas[2]["value"] is None and deltas[2]["percent"] is None
    assert metric_deltas(rows, "nope") == []


def test_a_zero_baseline_has_a_difference_but_no_percentage():
    deltas = metric_deltas([_row("a", m=0), _row("b", m=2)], "a")
    assert deltas[0]["diff"] == 2 and deltas[0]["percent"] is None

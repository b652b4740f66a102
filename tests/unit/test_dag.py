"""`lode dag`: the graph DVC draws, its selection, and the text, DOT and Mermaid renderings."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

import pytest

from lode.cli.dag import configure_dag, run_dag
from lode.errors import TargetError
from lode.pipeline import dag as D
from lode.pipeline.graph import PipelineError, load_project
from lode.repo import Repo

# load -> train -> eval, load -> eval; raw.dvc -> load; lint -> frz; a lone stage
SMALL = D.make_dag(
    ["load", "train", "eval", "lint", "data/raw.csv.dvc", "sub/dvc.yaml:frz", "alone"],
    [("train", "eval"), ("load", "eval"), ("load", "train"), ("data/raw.csv.dvc", "load"),
     ("lint", "sub/dvc.yaml:frz"), ("load", "train")],
)


# -- the graph -------------------------------------------------------------------------------
def test_make_dag_drops_duplicates_and_orders_edges_by_upstream_then_downstream():
    assert SMALL.edges == (("load", "train"), ("load", "eval"), ("train", "eval"),
                           ("lint", "sub/dvc.yaml:frz"), ("data/raw.csv.dvc", "load"))
    assert D.make_dag(["a", "a", "b"], [("a", "a"), ("a", "b")]) == D.Dag(("a", "b"),
                                                                           (("a", "b"),))


def test_select_keeps_the_targets_and_their_upstream_or_with_full_their_pipeline():
    assert D.select(SMALL, ["train"]).nodes == ("load", "train", "data/raw.csv.dvc")
    assert D.select(SMALL, ["train"], full=True).nodes == ("load", "train", "eval",
                                                           "data/raw.csv.dvc")
    assert D.select(SMALL, ["lint"]).nodes == ("lint",)
    assert D.select(SMALL, ["lint", "alone"], full=True).nodes == ("lint", "sub/dvc.yaml:frz",
                                                                  "alone")
    assert D.select(SMALL, []) == D.Dag((), ())


def test_pipelines_are_ordered_by_their_first_node():
    parts = D.pipelines(SMALL)
    assert [p.nodes for p in parts] == [
        ("load", "train", "eval", "data/raw.csv.dvc"), ("lint", "sub/dvc.yaml:frz"), ("alone",)]
    assert sum(len(p.edges) for p in parts) == len(SMALL.edges)


def test_layers_and_cycles():
    assert D.layers(SMALL) == {"data/raw.csv.dvc": 1, "load": 2, "train": 3, "eval": 4,
                               "lint": 1, "sub/dvc.yaml:frz": 2, "alone": 1}
    assert D.find_cycle(SMALL) == []
    loop = D.make_dag("abcd", [("a", "b"), ("b", "c"), ("c", "b"), ("c", "d")])
    assert D.find_cycle(loop) in (["b", "c", "b"], ["c", "b", "c"])


def test_a_long_chain_needs_no_recursion():
    names = [f"s{i}" for i in range(5000)]
    chain = D.make_dag(names, zip(names[:-1], names[1:], strict=True))
    assert D.layers(chain)["s4999"] == 5000
    assert D.render_text(chain).splitlines()[-1].startswith("5000  s4999")


# -- renderings ------------------------------------------------------------------------------
def test_text_lists_each_pipeline_upstream_first_with_layers():
    assert D.render_text(SMALL) == textwrap.dedent("""\
        1  data/raw.csv.dvc
        2  load              <- data/raw.csv.dvc
        3  train             <- load
        4  eval              <- load, train

        1  lint
        2  sub/dvc.yaml:frz  <- lint

        1  alone""")
    assert D.render_text(D.Dag((), ())) == ""


def test_dot_is_dvcs():
    assert D.render_dot(SMALL) == textwrap.dedent("""\
        strict digraph {
        "load";
        "train";
        "eval";
        "lint";
        "data/raw.csv.dvc";
        "sub/dvc.yaml:frz";
        "alone";
        "load" -> "train";
        "load" -> "eval";
        "train" -> "eval";
        "lint" -> "sub/dvc.yaml:frz";
        "data/raw.csv.dvc" -> "load";
        }
        """)
    assert D.render_dot(D.Dag((), ())) == "strict digraph {\n}\n"
    assert D.render_dot(D.make_dag(['a"b'], [])) == 'strict digraph {\n"a\\"b";\n}\n'


def test_mermaid_numbers_nodes_across_pipelines_sorted_by_name():
    expected = textwrap.dedent("""\
        flowchart TD
        \tnode1["data/raw.csv.dvc"]
        \tnode2["eval"]
        \tnode3["load"]
        \tnode4["train"]
        \tnode1-->node3
        \tnode3-->node2
        \tnode3-->node4
        \tnode4-->node2
        \tnode5["lint"]
        \tnode6["sub/dvc.yaml:frz"]
        \tnode5-->node6
        \tnode7["alone"]""")
    assert D.render_mermaid(SMALL) == expected
    assert D.render_mermaid(SMALL, markdown=True) == f"```mermaid\n{expected}\n```"
    assert D.render_mermaid(D.Dag((), ())) == "flowchart TD"


# -- from a real project ---------------------------------------------------------------------
POINTER = "outs:\n- md5: d41d8cd98f00b204e9800998ecf8427e\n  size: 0\n  hash: md5\n  path: {}\n"


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """dvc.yaml: load -> train -> eval (plus metrics/plots), lint; data/raw.csv.dvc feeds
    load; sub/dvc.yaml: prep after train, frz (frozen) after lint."""
    root = tmp_path / "repo"
    (root / ".dvc").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "data" / "raw.csv.dvc").write_text(POINTER.format("raw.csv"))
    (root / "dvc.yaml").write_text(textwrap.dedent("""\
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
        """))
    (root / "params.yaml").write_text("lr: 0.1\n")
    (root / "sub").mkdir()
    (root / "sub" / "dvc.yaml").write_text(textwrap.dedent("""\
        stages:
          prep:
            cmd: cp ../model.pkl m2
            deps: [../model.pkl]
            outs: [m2]
          frz:
            cmd: cp ../lint.txt l2
            frozen: true
            deps: [../lint.txt]
            outs: [l 2]
        """))
    return root


def _load(root: Path):
    pointers: list = []
    project = load_project(Repo(str(root)), pointers)
    return project, pointers


def test_the_stage_graph_keeps_dvcs_node_order_and_a_frozen_stages_edges(project_dir):
    project, pointers = _load(project_dir)
    g = D.build(project, pointers, str(project_dir))
    assert g.nodes == ("load", "train", "eval", "lint", "data/raw.csv.dvc",
                       "sub/dvc.yaml:prep", "sub/dvc.yaml:frz")
    assert g.edges == (("load", "train"), ("load", "eval"), ("train", "eval"),
                       ("train", "sub/dvc.yaml:prep"), ("lint", "sub/dvc.yaml:frz"),
                       ("data/raw.csv.dvc", "load"))
    # names are relative to the working directory, as DVC prints them
    g = D.build(project, pointers, str(project_dir / "sub"))
    assert g.nodes[:2] == ("../dvc.yaml:load", "../dvc.yaml:train")
    assert ("../data/raw.csv.dvc", "../dvc.yaml:load") in g.edges and "prep" in g.nodes


def test_the_outs_graph_groups_outputs_by_directory(project_dir):
    project, pointers = _load(project_dir)
    g = D.build(project, pointers, str(project_dir), outs=True)
    assert g.nodes == ("data/clean.csv", "data/raw.csv", "model.pkl", "metrics.json",
                       "plots/roc.csv", "lint.txt", "sub/m2", "sub/l 2")
    assert g.edges == (
        ("data/clean.csv", "model.pkl"), ("data/clean.csv", "metrics.json"),
        ("data/clean.csv", "plots/roc.csv"), ("data/raw.csv", "data/clean.csv"),
        ("model.pkl", "metrics.json"), ("model.pkl", "plots/roc.csv"), ("model.pkl", "sub/m2"),
        ("lint.txt", "sub/l 2"))


def test_targets_name_stages_files_dvc_files_and_outputs(project_dir):
    project, pointers = _load(project_dir)
    cwd = str(project_dir)

    def names(target, outs=False):
        return D.target_names(project, pointers, target, cwd, outs)

    assert names("train") == ["train"]
    assert names("sub/dvc.yaml") == ["sub/dvc.yaml:prep", "sub/dvc.yaml:frz"]
    assert names("data/clean.csv") == ["load"]
    assert names("data/raw.csv.dvc") == names("data/raw.csv") == ["data/raw.csv.dvc"]
    assert names("train", outs=True) == ["model.pkl"]
    assert names("data/raw.csv.dvc", outs=True) == ["data/raw.csv"]
    with pytest.raises(TargetError, match="'nope' is not a stage, a .dvc file or an output"):
        names("nope")
    with pytest.raises(TargetError, match="not a stage of sub/dvc.yaml"):
        names("sub/dvc.yaml:nope")
    sel = D.project_dag(project, pointers, cwd, "sub/dvc.yaml:prep")
    assert sel.nodes == ("load", "train", "data/raw.csv.dvc", "sub/dvc.yaml:prep")
    assert D.project_dag(project, pointers, cwd, "train", full=True).nodes == (
        "load", "train", "eval", "data/raw.csv.dvc", "sub/dvc.yaml:prep")


def test_a_cycle_through_a_frozen_stage_is_refused(project_dir):
    (project_dir / "dvc.yaml").write_text(textwrap.dedent("""\
        stages:
          a:
            cmd: x
            frozen: true
            deps: [b.txt]
            outs: [a.txt]
          b:
            cmd: x
            deps: [a.txt]
            outs: [b.txt]
        """))
    (project_dir / "sub" / "dvc.yaml").unlink()
    project, pointers = _load(project_dir)
    with pytest.raises(PipelineError, match="cycle: (a -> b -> a|b -> a -> b)"):
        D.build(project, pointers, str(project_dir))


# -- the command -----------------------------------------------------------------------------
def _run(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="lode dag")
    configure_dag(p)
    return run_dag(p.parse_args(argv))


def test_run_dag_prints_each_format(project_dir, monkeypatch, capsys):
    monkeypatch.chdir(project_dir)
    assert _run(["train"]) == 0
    assert capsys.readouterr().out == (
        "1  data/raw.csv.dvc\n2  load              <- data/raw.csv.dvc\n"
        "3  train             <- load\n")
    assert _run(["--dot", "lint"]) == 0
    assert capsys.readouterr().out == 'strict digraph {\n"lint";\n}\n\n'
    assert _run(["--md", "-o", "sub/dvc.yaml:frz"]) == 0
    assert capsys.readouterr().out == (
        '```mermaid\nflowchart TD\n\tnode1["lint.txt"]\n\tnode2["sub/l 2"]\n'
        "\tnode1-->node2\n```\n")
    assert _run(["--mermaid", "--full", "lint"]) == 0
    assert capsys.readouterr().out.startswith('flowchart TD\n\tnode1["lint"]')


def test_formats_are_exclusive():
    p = argparse.ArgumentParser()
    configure_dag(p)
    with pytest.raises(SystemExit):
        p.parse_args(["--dot", "--md"])
    args = p.parse_args(["-o", "--full", "x"])
    assert (args.outs, args.full, args.target, args.dot, args.markdown) == (
        True, True, "x", False, False)

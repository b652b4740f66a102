"""`lode dag [TARGET] [--dot | --mermaid | --md] [--full] [-o/--outs]`, as `dvc dag`.

The formats and the text layout are described in lode.pipeline.dag.
"""

from __future__ import annotations

import argparse
import os

from lode.pipeline.dag import project_dag, render_dot, render_mermaid, render_text
from lode.pipeline.graph import load_project
from lode.repo import Repo


def configure_dag(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", nargs="?", metavar="TARGET",
                   help="a stage, path/to/dvc.yaml[:stage], a .dvc file or an output: show "
                        "it and what it depends on (default: every pipeline)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--dot", action="store_true", help="Graphviz DOT (pipe to `dot -Tpng`)")
    fmt.add_argument("--mermaid", action="store_true", help="a Mermaid flowchart")
    fmt.add_argument("--md", dest="markdown", action="store_true",
                     help="a Mermaid flowchart in a Markdown ```mermaid block")
    p.add_argument("--full", action="store_true",
                   help="the whole pipeline TARGET belongs to, not only its upstream")
    p.add_argument("-o", "--outs", action="store_true",
                   help="a graph of the outputs instead of the stages")


def render(dag, args: argparse.Namespace) -> str:
    if getattr(args, "dot", False):
        return render_dot(dag)
    if getattr(args, "mermaid", False) or getattr(args, "markdown", False):
        return render_mermaid(dag, markdown=getattr(args, "markdown", False))
    return render_text(dag)


def run_dag(args: argparse.Namespace) -> int:
    repo = Repo.find()
    try:
        pointers: list = []
        project = load_project(repo, pointers)
        dag = project_dag(project, pointers, os.getcwd(), getattr(args, "target", None),
                          full=getattr(args, "full", False), outs=getattr(args, "outs", False))
    finally:
        repo.close()
    text = render(dag, args)
    if text:  # an empty text graph prints nothing rather than DVC's blank line
        print(text)
    return 0

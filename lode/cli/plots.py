"""plots show, plots diff.

`configure_plots(p)` adds the arguments to the `plots` parser; `run_plots(args)` runs
them. Nothing heavy is imported at module level: `lode` builds every parser on every
start.
"""

from __future__ import annotations

import argparse
import json
import os

from lode.atomic import write_text_atomic
from lode.cli.output import say, warn
from lode.cli.reports import verbosity
from lode.ops.reports import plots
from lode.ops.reports.html import escape, page, require_bundle
from lode.ops.targeted import fetch_outputs
from lode.repo import Repo

DEFAULT_OUT = os.path.join("dvc_plots", "index.html")  # where DVC writes its page


def _output(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("-o", "--out", metavar="FILE",
                   help=f"the HTML file to write (default: {DEFAULT_OUT}; a directory "
                   "gets an index.html)")
    g.add_argument("--json", action="store_true",
                   help="print the plots' data as JSON instead of writing HTML")


def configure_plots(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="plots_command", metavar="SUBCOMMAND", required=True)
    help_ = ("Draw the workspace's plots (those dvc.yaml declares, or TARGETs) into one "
             "self-contained HTML file.")
    s = sub.add_parser("show", help=help_, description=help_)
    verbosity(s)
    s.add_argument("targets", nargs="*", metavar="TARGET",
                   help="plot ids, plot files or directories, dvc.yaml files "
                   "(default: every plot dvc.yaml declares)")
    _output(s)
    help_ = ("Draw plots of several revisions over each other (images side by side): "
             "no REV: HEAD and the workspace; one: it and the workspace; more: those.")
    d = sub.add_parser("diff", help=help_, description=help_)
    verbosity(d)
    d.add_argument("revisions", nargs="*", metavar="REV", help="Git revisions")
    d.add_argument("--pull", action="store_true", help="fetch the revisions' cached plot "
                   "files missing here from the default remote first")
    d.add_argument("--targets", nargs="+", metavar="TARGET",
                   help="only these plot ids, plot files or directories")
    _output(d)


def _out_path(out: str | None) -> str:
    if not out:
        return DEFAULT_OUT
    if out.endswith(("/", os.sep)) or os.path.isdir(out):
        return os.path.join(out, "index.html")
    return out


def run_plots(args) -> int:
    if not args.json:
        require_bundle()  # the page needs the 'report' extra; said before any work
    repo = Repo.find()
    try:
        if args.plots_command == "show":
            report = plots.show(repo, args.targets or None)
            title = "lode plots"
        else:
            if args.pull:
                for w in fetch_outputs(repo, [*(args.revisions or ["HEAD"]), "workspace"]):
                    warn(w)
            report = plots.diff(repo, args.revisions, args.targets)
            title = "lode plots diff " + " ".join(report.data["revisions"])
        if not getattr(args, "quiet", False):
            for w in report.warnings:
                warn(w)
        if args.json:
            print(json.dumps(report.data, default=str))
            return 0
        if not report.data["plots"]:  # as DVC: no page for nothing
            say(args, "No plots to show: declare them in dvc.yaml ('plots:' of a stage, "
                      "or the top-level 'plots:'); no page was written.")
            return 0

        body = (f"<header><h1>{escape(title)}</h1><p class='note'>Revisions: "
                f"{escape(', '.join(report.data['revisions']))}</p></header>"
                + plots.render(report.data))
        html = page(title, body, cache_dir=repo.state_dir)
    finally:
        repo.close()
    path = _out_path(args.out)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    write_text_atomic(path, html)
    say(args, path)
    return 0

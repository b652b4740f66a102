"""metrics show, metrics diff, params diff.

`configure_metrics(p)` and `configure_params(p)` add the arguments to the `metrics` and
`params` parsers; `run_metrics(args)` and `run_params(args)` run them. Nothing heavy is
imported at module level: `lode` builds every parser on every start.
"""

from __future__ import annotations

import argparse
import json
import sys

from lode.cli.output import warn
from lode.ops.reports import metrics, params
from lode.ops.reports import table as tables
from lode.repo import Repo


def verbosity(p: argparse.ArgumentParser) -> None:
    # As lode.cli._common for sub-commands: never reset what `lode -v CMD` set.
    g = p.add_mutually_exclusive_group()
    g.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                   help="more output; tracebacks")
    g.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="only errors")


def _output(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="machine-readable output, DVC's shape")
    g.add_argument("--md", action="store_true", dest="markdown",
                   help="a Markdown (GitHub) table")


def _precision(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", type=int, metavar="N",
                   help="round floats to N digits after the point (default: 5)")


def _revisions(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("a_rev", nargs="?", default="HEAD", metavar="A_REV",
                   help="old Git revision (default: HEAD)")
    p.add_argument("b_rev", nargs="?", default="workspace", metavar="B_REV",
                   help="new Git revision (default: the workspace)")
    p.add_argument("--targets", nargs="*", metavar="PATH",
                   help=f"only these {what} files, even if no dvc.yaml declares them")
    p.add_argument("--all", action="store_true", help=f"show unchanged {what} too")
    p.add_argument("--no-path", action="store_true", help="leave out the Path column")


def configure_metrics(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="metrics_command", metavar="SUBCOMMAND", required=True)
    help_ = "Print the metrics of the workspace (or of every branch, tag or commit)."
    s = sub.add_parser("show", help=help_, description=help_)
    verbosity(s)
    s.add_argument("targets", nargs="*", metavar="TARGET",
                   help="metrics files or directories (default: all that dvc.yaml declares)")
    s.add_argument("-a", "--all-branches", action="store_true", help="every branch too")
    s.add_argument("-T", "--all-tags", action="store_true", help="every tag too")
    s.add_argument("-A", "--all-commits", action="store_true", help="every commit too")
    s.add_argument("-R", "--recursive", action="store_true",
                   help="accepted for DVC compatibility (directories are always searched)")
    _output(s)
    _precision(s)
    help_ = ("Compare metrics between two revisions (default: HEAD and the workspace): "
             "old, new, change and change in percent.")
    d = sub.add_parser("diff", help=help_, description=help_)
    verbosity(d)
    _revisions(d, "metrics")
    d.add_argument("-R", "--recursive", action="store_true",
                   help="accepted for DVC compatibility (directories are always searched)")
    _output(d)
    _precision(d)


def configure_params(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="params_command", metavar="SUBCOMMAND", required=True)
    help_ = ("Compare the parameters the pipelines use between two revisions "
             "(default: HEAD and the workspace).")
    d = sub.add_parser("diff", help=help_, description=help_)
    verbosity(d)
    _revisions(d, "params")
    d.add_argument("--deps", action="store_true",
                   help="only the parameters that stages list as dependencies")
    _output(d)


def _print_report(args, report, table) -> None:
    if not getattr(args, "quiet", False):
        for w in report.warnings:
            warn(w)
    if args.json:
        print(json.dumps(report.data, default=str))
        return
    headers, rows = table
    if not rows and not args.markdown:
        return  # DVC prints nothing for nothing (Markdown still gets its header)
    text = tables.tabulate(headers, rows, markdown=args.markdown)
    print(text + "\n" if args.markdown else text)
    sys.stdout.flush()


def run_metrics(args) -> int:
    repo = Repo.find()
    precision = args.precision or tables.DEFAULT_PRECISION
    try:
        if args.metrics_command == "show":
            many = args.all_branches or args.all_tags or args.all_commits
            report = metrics.show(repo, args.targets or None, args.all_branches,
                                  args.all_tags, args.all_commits)
            table = tables.metrics_table(report.data, bool(many), precision)
        else:
            report = metrics.diff(repo, args.a_rev, args.b_rev, args.targets or None, args.all)
            table = tables.diff_table(report.data, "Metric", args.a_rev, args.b_rev,
                                      no_path=args.no_path, relative=True, precision=precision)
    finally:
        repo.close()
    _print_report(args, report, table)
    return 0


def run_params(args) -> int:
    repo = Repo.find()
    try:
        report = params.diff(repo, args.a_rev, args.b_rev, args.targets or None, args.all,
                             args.deps)
    finally:
        repo.close()
    table = tables.diff_table(report.data, "Param", args.a_rev, args.b_rev,
                              no_path=args.no_path, show_changes=False)
    _print_report(args, report, table)
    return 0

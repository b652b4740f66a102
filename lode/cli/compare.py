"""lode compare: revisions x (params, metrics, data hashes), changed cells marked.

`configure_compare(p)` adds the arguments (-v/-q come from lode/cli/__init__.py);
`run_compare(args)` runs it. Nothing heavy is imported at module level.
"""

from __future__ import annotations

import argparse
import os
import sys

from lode.cli.output import warn
from lode.ops.reports import history, history_render
from lode.ops.reports.table import DEFAULT_PRECISION
from lode.repo import Repo


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of commits (1 or more), "
                                         f"got '{text}'")
    return value


def configure_compare(p: argparse.ArgumentParser) -> None:
    p.add_argument("revs", nargs="*", metavar="REV",
                   help="Git revisions to compare, in this order ('workspace' names the "
                        "workspace; default: the workspace if it differs from HEAD, then "
                        "HEAD's history)")
    p.add_argument("-a", "--all-branches", action="store_true", help="every branch too")
    p.add_argument("-T", "--all-tags", action="store_true", help="every tag too")
    p.add_argument("-n", type=positive, metavar="N",
                   help="without REV: the last N commits of HEAD's first-parent history "
                        "that have a dvc.lock (default: 10)")
    p.add_argument("--sort-by", metavar="NAME",
                   help="sort rows by this column: metrics highest first, params and "
                        "hashes ascending, missing last (e.g. roc_auc, metrics.json:roc_auc)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="a JSON list of rows")
    g.add_argument("--csv", action="store_true", help="CSV: a header, one row per revision")
    g.add_argument("--md", action="store_true", dest="markdown",
                   help="a Markdown (GitHub) table, changed cells in bold")
    p.add_argument("--precision", type=int, metavar="N",
                   help="round floats to N digits after the point in tables (default: 5)")
    p.add_argument("--pull", action="store_true", help="fetch the revisions' cached metric "
                   "files missing here from the default remote first")
    p.add_argument("--only-changed", action="store_true",
                   help="only the columns whose value changed in some revision")


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and \
        os.environ.get("TERM") != "dumb"


def run_compare(args) -> int:
    repo = Repo.find()
    try:
        c = history.compare(repo, args.revs or None, args.all_branches, args.all_tags,
                            args.n, args.sort_by, pull=args.pull)
    finally:
        repo.close()
    if args.only_changed:
        c = history.only_changed(c)
    if not getattr(args, "quiet", False):
        for w in c.warnings:
            warn(w)
    precision = args.precision or DEFAULT_PRECISION
    if args.json:
        print(history_render.to_json(c))
    elif args.csv:
        sys.stdout.write(history_render.to_csv(c))
    elif args.markdown:
        print(history_render.to_markdown(c, precision) + "\n")
    elif c.rows:
        print(history_render.to_text(c, precision, color=_color()))
    sys.stdout.flush()
    return 0

"""lode report: one self-contained HTML file comparing revisions."""

from __future__ import annotations

import argparse
import os

from lode.atomic import write_text_atomic
from lode.cli.compare import positive
from lode.cli.output import say, warn
from lode.ops.reports.report import build
from lode.repo import Repo


def configure_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("revs", nargs="*", metavar="REV", help="revisions to compare (default: "
                   "the workspace if changed, then the last commits of HEAD)")
    p.add_argument("-a", "--all-branches", action="store_true", help="every branch too")
    p.add_argument("-T", "--all-tags", action="store_true", help="every tag too")
    p.add_argument("-n", "--num", type=positive, metavar="N", help="without REVs: how many "
                   "commits of HEAD's history (default 10)")
    p.add_argument("--baseline", metavar="REV", help="the revision the metric deltas are "
                   "taken against (default: the oldest one reported)")
    p.add_argument("-o", "--out", default="report.html", metavar="FILE",
                   help="where to write the HTML (default: report.html)")
    p.add_argument("--title", help="the report's title")
    p.add_argument("--pull", action="store_true", help="fetch the revisions' cached metric "
                   "and plot files missing here from the default remote first")


def run_report(args) -> int:
    repo = Repo.find()
    try:
        report = build(repo, args.revs or None, all_branches=args.all_branches,
                       all_tags=args.all_tags, n=args.num, baseline=args.baseline,
                       title=args.title, pull=args.pull)
    finally:
        repo.close()
    for warning in report.warnings:
        warn(warning)
    write_text_atomic(args.out, report.data["html"])
    say(args, f"Wrote {os.path.relpath(args.out)}: {len(report.data['rows'])} revision(s), "
              f"baseline {report.data['baseline']}.")
    return 0

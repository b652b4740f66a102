"""`lode export argo`: the pipeline as an Argo Workflows Workflow (or CronWorkflow)."""

from __future__ import annotations

import argparse


def configure_export(p: argparse.ArgumentParser) -> None:
    """argparse only: imported at start-up."""
    sub = p.add_subparsers(dest="export_command", metavar="ENGINE", required=True)
    a = sub.add_parser("argo", help="an Argo Workflows Workflow (or CronWorkflow with --cron)")
    a.add_argument("targets", nargs="*", metavar="TARGET")
    a.add_argument("-o", "--output", metavar="FILE", help="where to write (default: stdout)")


def run_export(args) -> int:
    raise NotImplementedError  # the Argo export lands here

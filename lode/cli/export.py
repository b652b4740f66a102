"""`lode export ENGINE`: the pipeline for another engine, written by the exporter plugin
registered as ENGINE (`lode.exporters`): argo, an Argo Workflows Workflow (or
CronWorkflow)."""

from __future__ import annotations

import argparse
import os
import sys

from lode.atomic import write_text_atomic
from lode.cli.output import say
from lode.ops import export
from lode.recipes.execute import find as find_recipe
from lode.repo import Repo

# the argo subcommand's options that are the exporter's own (the others are the core's)
ARGO_OPTIONS = ("image", "cron", "name", "secret")


def configure_export(p: argparse.ArgumentParser) -> None:
    """argparse only: imported at start-up."""
    sub = p.add_subparsers(dest="export_command", metavar="ENGINE", required=True)
    a = sub.add_parser("argo", help="an Argo Workflows Workflow (or CronWorkflow with --cron)",
                       description="One DAG task per stage, each running 'lode stage run' at "
                       "the pinned commit in its own pod; a last task merges the results. "
                       "Needs the 'argo' extra: pip install 'lode[argo]'.")
    a.add_argument("targets", nargs="*", metavar="TARGET", help="stage, path/to/dvc.yaml or "
                   "path/to/dvc.yaml:stage, with what it depends on (default: ./dvc.yaml)")
    a.add_argument("-o", "--output", metavar="FILE", help="where to write (default: stdout)")
    a.add_argument("--image", help="the workers' container image, with git, lode and the "
                   "project's requirements (required)")
    a.add_argument("--cron", metavar="SCHEDULE", help="a CronWorkflow on this schedule "
                   "(UTC), e.g. '0 3 * * 1'; each run takes the branch's newest commit")
    a.add_argument("--name", help="the workflow's name (default: lode-DIRECTORY)")
    a.add_argument("--repo", metavar="URL", help="the Git repository the workers clone "
                   "(default: the branch's upstream remote, or origin)")
    a.add_argument("--rev", help="the commit to run (default: HEAD); with --cron, the "
                   "branch to follow (default: the current branch's upstream)")
    a.add_argument("--secret", metavar="NAME", default="lode-remote-credentials",
                   help="the Kubernetes Secret holding the data remote's credentials, one "
                   "key per variable, e.g. AWS_ACCESS_KEY_ID (default: %(default)s)")
    a.add_argument("--recipe", metavar="NAME", help="run this recipe's targets and force, "
                   "and its post-tasks after the merge")
    a.add_argument("-f", "--force", action="store_true", help="run every stage, even cached")
    a.add_argument("-k", "--keep-going", action="store_true", help="failFast: false (Argo "
                   "starts the stages independent of a failed one either way: the merge task "
                   "keeps the DAG running)")


def run_export(args) -> int:
    options = {k: getattr(args, k) for k in ARGO_OPTIONS if getattr(args, k) is not None}
    exporter = export.exporter(args.export_command, options)  # its options checked first
    repo = Repo.find()
    try:
        targets, force, here = args.targets, args.force, os.getcwd()
        if args.recipe:
            try:
                recipe = find_recipe(repo, args.recipe)  # loads dodo.py from the root (chdir)
            finally:
                os.chdir(here)
            if not targets:  # the recipe's, which name stages from the root, as it runs them
                targets, here = recipe.targets or [], repo.root
            force = force or recipe.force
        plan = export.plan(repo, targets, cwd=here, repo_url=args.repo, rev=args.rev,
                           follow_branch=exporter.follows_branch, recipe=args.recipe,
                           force=force, keep_going=args.keep_going)
        done = exporter.export(plan)
    finally:
        repo.close()
    if not args.output or args.output == "-":
        sys.stdout.write(done.text)
        return 0
    write_text_atomic(args.output, done.text)
    say(args, f"Wrote {args.output}: {done.summary}.")
    return 0

"""`lode export argo`: the pipeline as an Argo Workflows Workflow (or CronWorkflow)."""

from __future__ import annotations

import argparse
import sys

from lode.cli.output import say


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
    from lode_plugins.exporters import argo

    from lode.atomic import write_text_atomic
    from lode.repo import Repo

    options = argo.Options(args.targets, image=args.image, cron=args.cron, name=args.name,
                           repo_url=args.repo, rev=args.rev, secret=args.secret,
                           recipe=args.recipe, keep_going=args.keep_going, force=args.force)
    repo = Repo.find()
    try:
        try:
            text, plan = argo.export(repo, options)
        except ImportError as e:
            if not (e.name or "").startswith(("hera", "yaml")):
                raise
            raise argo.ExportError("exporting to Argo needs hera, which is not installed.",
                                   "Install it: pip install 'lode[argo]'.") from None
    finally:
        repo.close()
    if not args.output or args.output == "-":
        sys.stdout.write(text)
        return 0
    write_text_atomic(args.output, text)
    kind = "CronWorkflow" if plan.cron else "Workflow"
    at = f"branch {plan.branch}" if plan.cron else f"commit {plan.rev[:8]}"
    say(args, f"Wrote {args.output}: an Argo {kind} '{plan.name}' of {len(plan.tasks)} "
        f"stage(s) at {at} of {plan.repo_url}; credentials from the Secret '{plan.secret}'.")
    return 0

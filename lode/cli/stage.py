"""`lode stage run` (a worker's side of the remote stage protocol) and `lode stage merge`
(the coordinator's last step when it is not `lode repro`, e.g. Argo's final task)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from lode.atomic import write_text_atomic
from lode.cli.output import say
from lode.ops import settle, worker
from lode.recipes.execute import run_post
from lode.repo import Repo, find_root


def configure_stage(p: argparse.ArgumentParser) -> None:
    """argparse only: imported at start-up."""
    sub = p.add_subparsers(dest="stage_command", metavar="SUBCOMMAND", required=True)
    r = sub.add_parser("run", help="run one stage at a pinned commit in a clone of its own; "
                       "data comes from and goes to the remote")
    r.add_argument("stage", metavar="STAGE", help="name or path/to/dvc.yaml:name, relative "
                   "to the repository root")
    r.add_argument("--rev", required=True, help="the commit (or a ref) to run")
    r.add_argument("--repo", metavar="URL", help="the Git repository to clone (default: "
                   "the current one)")
    r.add_argument("--remote", metavar="NAME", help="the data remote (default: core.remote)")
    r.add_argument("--upstream", action="append", default=[], metavar="RESULT",
                   help="an upstream stage's result (a file, or the JSON itself): its lock "
                   "entry replaces the one at REV; repeatable")
    r.add_argument("--result", metavar="FILE", help="write the result JSON here ('-': the "
                   "last line of stdout)")
    r.add_argument("--workdir", metavar="DIR", help="clone here (default: a new temporary "
                   "directory, removed afterwards)")
    r.add_argument("--keep", action="store_true", help="keep the temporary clone")
    r.add_argument("-f", "--force", action="store_true", help="run even when cached")
    r.add_argument("--no-run-cache", action="store_true", help="neither look up nor save "
                   "run-cache entries")
    m = sub.add_parser("merge", help="merge workers' results into dvc.lock in pipeline "
                       "order and check their outputs out")
    m.add_argument("results", nargs="+", metavar="RESULT", help="a result file, or the JSON")
    m.add_argument("--rev", help="with --repo: the commit the results were made at")
    m.add_argument("--repo", metavar="URL", help="clone this repository (its branch --branch) "
                   "and merge there, instead of the current workspace")
    m.add_argument("--branch", help="with --repo: the branch to commit on (default: the "
                   "remote's HEAD)")
    m.add_argument("--remote", metavar="NAME", help="the data remote (default: core.remote)")
    m.add_argument("--recipe", metavar="NAME", help="then run this recipe's post-tasks "
                   "(commit, push, git_push, notify)")
    m.add_argument("--workdir", metavar="DIR", help="with --repo: clone here")


def run_stage(args) -> int:
    if args.stage_command == "run":
        return _run(args)
    return _merge(args)


def _run(args) -> int:
    url = args.repo if args.repo is not None else find_root()
    doc = worker.run_stage(args.stage, args.rev, url, args.upstream, args.remote,
                             args.workdir, args.keep, args.force, not args.no_run_cache)
    text = json.dumps(doc)
    if args.result == "-":
        sys.stdout.write(text + "\n")
    elif args.result:
        write_text_atomic(os.path.abspath(args.result), text + "\n")
    if doc["status"] in ("failed", "error"):
        print(f"ERROR: stage '{doc['stage']}': {doc['error']}", file=sys.stderr)
        return 1 if doc["status"] == "failed" else 2
    if not args.quiet and args.result != "-":
        print(f"Stage '{doc['stage']}' {doc['status']} at {doc['rev'][:8]} in "
              f"{doc['seconds']:.2f} s", file=sys.stderr)
    return 0


def _merge(args) -> int:
    after = None
    if args.recipe:
        def after(repo: Repo, stages: dict[str, str]) -> list[str]:
            return run_post(repo, args.recipe, stages)  # the recipe's post-tasks

    outcome = settle.merge(args.results, repo_url=args.repo, rev=args.rev,
                           branch=args.branch, remote_name=args.remote,
                           workdir=args.workdir, after=after)
    for line in outcome.lines:
        say(args, line)
    return 0 if outcome.ok else 1

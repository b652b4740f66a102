"""`lode stage run` (a worker's side of the remote stage protocol) and `lode stage merge`
(the coordinator's last step when it is not `lode repro`, e.g. Argo's final task)."""

from __future__ import annotations

import argparse


def configure_stage(p: argparse.ArgumentParser) -> None:
    """argparse only: imported at start-up."""
    sub = p.add_subparsers(dest="stage_command", metavar="SUBCOMMAND", required=True)
    r = sub.add_parser("run", help="run one stage at a pinned commit in a clone of its own; "
                       "data comes from and goes to the remote")
    r.add_argument("stage", metavar="STAGE", help="name or path/to/dvc.yaml:name, relative "
                   "to the repository root")
    r.add_argument("--rev", required=True, help="the commit (or a ref) to run")
    r.add_argument("--repo", metavar="URL", help="the Git repository to clone (default: "
                   "the current one, run in place of a clone)")
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
    raise NotImplementedError

"""repro and dag."""

from __future__ import annotations

import argparse
import os
import sys

from lode.cli.output import say, transfer_outcome
from lode.ops import repro, targeted
from lode.ops.coordinator import choose
from lode.ops.remotes import open_remote
from lode.pipeline.events import line_listener
from lode.repo import Repo


def key_value(text: str) -> str:
    """An --executor-opt value: KEY=VALUE, refused by argparse (exit 2) otherwise."""
    if not text.partition("=")[0] or "=" not in text:
        raise argparse.ArgumentTypeError(f"'{text}' is not KEY=VALUE")
    return text


def configure_repro(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="*", metavar="TARGET",
                   help="stage, path/to/dvc.yaml or path/to/dvc.yaml:stage (default: ./dvc.yaml)")
    p.add_argument("-f", "--force", action="store_true", help="run even the stages up to date")
    p.add_argument("-s", "--single-item", action="store_true", help="only the targets, not "
                   "what they depend on")
    p.add_argument("--downstream", action="store_true", help="the targets and what depends "
                   "on them")
    p.add_argument("--dry", action="store_true", help="print what would run and why")
    p.add_argument("-j", "--jobs", type=int, metavar="N", help="stages at once (default: "
                   "the cores)")
    p.add_argument("-k", "--keep-going", action="store_true", help="run the independent "
                   "stages after a failure")
    p.add_argument("--no-run-cache", action="store_true", help="run stages even when their "
                   "outputs are cached for these inputs")
    p.add_argument("--pull", action="store_true", help="fetch missing inputs first")
    p.add_argument("--executor", metavar="NAME", help="who runs the stages: local (default), "
                   "dask, slurm, ... (config: executor.name)")
    p.add_argument("--executor-opt", action="append", default=[], metavar="K=V", type=key_value,
                   help="an executor option (config: executor.K); repeatable")


def _pull_inputs(args, repo, project, stages) -> None:
    remote = open_remote(repo)
    try:
        result = targeted.pull(repo, remote, project, stages, remote.capabilities.jobs)
    finally:
        remote.close()
    error = transfer_outcome(args, "fetched", result)
    if error is not None:
        raise error


def run_repro(args) -> int:
    repo = Repo.find()
    try:
        executor = choose(repo, args.executor_opt, args.executor)
        project, stages = repro.plan_stages(
            repo, args.targets or None, single=args.single_item, downstream=args.downstream
        )
        if args.dry:
            for stage, why in repro.dry_run(repo, project, stages, args.force):
                verb = "would run" if why not in ("up to date", "frozen") else "skip"
                say(args, f"{verb:<10} {stage.address()}: {why}")
            return 0
        with repo.lock():
            if args.pull:
                _pull_inputs(args, repo, project, stages)
            result = repro.run(repo, project, stages, force=args.force, jobs=args.jobs,
                               keep_going=args.keep_going, run_cache=not args.no_run_cache,
                               listener=line_listener(args.quiet), executor=executor)
    finally:
        repo.close()
    if result.failed:
        for err in result.failed:
            print(f"ERROR: {err}", file=sys.stderr)
        for stage, why in result.not_run:
            say(args, f"Stage '{stage.address()}' did not run ({why}).")
        done = sum(v in ("ran", "restored") for v in result.outcomes.values())
        if done:
            say(args, f"{done} stage(s) finished before and are recorded in dvc.lock.")
        return 1
    if not result.changed:
        say(args, "Data and pipelines are up to date.")
    else:
        say(args, f"\n{len(result.outcomes)} stages: {result.summary()}.")
        files = [os.path.relpath(p) for p in result.lockfiles]
        files += sorted({os.path.relpath(g) for g in result.gitignores})
        if repo.scm and files:
            say(args, "To track the changes with git, run:\n\n\tgit add " + " ".join(files))
    return 0

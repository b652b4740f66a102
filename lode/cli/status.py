"""status, and status -c against a remote."""

from __future__ import annotations

import argparse
import json

from lode.cli.output import say, warn
from lode.ops.cloud_status import cloud_status
from lode.ops.remotes import open_remote, tracked_secrets
from lode.ops.status import status
from lode.ops.used import collect
from lode.repo import Repo


def configure_status(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="*", metavar="TARGET")
    p.add_argument("--json", action="store_true", help="machine-readable output, DVC's shape")
    p.add_argument("-c", "--cloud", action="store_true", help="compare the cache with a remote")
    p.add_argument("-r", "--remote", help="the remote for -c (default: core.remote)")


def _cloud_status(args, repo: Repo) -> int:
    remote = open_remote(repo, args.remote)
    report = cloud_status(repo, remote, collect(repo, args.targets or None))
    if args.json:
        print(json.dumps(report))
    elif not report:
        say(args, f"Cache and remote '{remote.name}' are in sync.")
    else:
        for path, state in report.items():
            say(args, f"\t{(state + ':'):<20}{path}")
    return 1 if report and args.quiet else 0


def _warn_secrets(repo: Repo) -> None:
    if repo.config.level("repo") and any(
        s.startswith('remote "') and len(k) > 1 for s, k in repo.config.level("repo").items()
    ):
        for name in tracked_secrets(repo):
            warn(f"{name} is a secret in the tracked .dvc/config; move it to .dvc/config.local "
                 "('lode remote modify --local') and out of Git history.")


def run_status(args) -> int:
    repo = Repo.find()
    try:
        _warn_secrets(repo)
        if args.cloud or args.remote:
            return _cloud_status(args, repo)
        report = status(repo, args.targets or None)
    finally:
        repo.close()
    if args.json:
        print(json.dumps(report or {}))
        return 0
    if report is None:
        say(args, "There are no data or pipelines tracked in this project yet.")
        return 0
    if not report:
        say(args, "Data and pipelines are up to date.")
        return 0
    if args.quiet:
        return 1  # as `dvc status -q`: the exit code tells
    for name, changes in report.items():
        say(args, f"{name}:")
        for change in changes:
            if isinstance(change, str):
                say(args, f"\t{change}")
                continue
            for kind, items in change.items():
                say(args, f"\t{kind}:")
                for path, state in items.items():
                    if isinstance(state, dict):  # a params file: its keys
                        say(args, f"\t\t{path}:")
                        for key, st in state.items():
                            say(args, f"\t\t\t{(st + ':'):<20}{key}")
                    else:
                        say(args, f"\t\t{(state + ':'):<20}{path}")
    return 0

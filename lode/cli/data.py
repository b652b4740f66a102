"""add, commit, checkout, status, unprotect."""

from __future__ import annotations

import argparse
import json
import sys

from lode.cli.output import say, warn
from lode.ops import gc
from lode.ops.add import add, commit
from lode.ops.checkout import checkout
from lode.ops.cloud_status import cloud_status
from lode.ops.remotes import open_remote, tracked_secrets
from lode.ops.status import status
from lode.ops.unprotect import unprotect
from lode.ops.used import collect
from lode.repo import Repo


def configure_add(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="+", metavar="TARGET")


def configure_commit(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="*", metavar="TARGET")
    p.add_argument("-f", "--force", action="store_true", help="accepted for DVC compatibility")


def configure_checkout(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="*", metavar="TARGET")
    p.add_argument("-f", "--force", action="store_true", help="overwrite local changes")
    p.add_argument("--relink", action="store_true", help="recreate links even if data matches")


def configure_status(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="*", metavar="TARGET")
    p.add_argument("--json", action="store_true", help="machine-readable output, DVC's shape")
    p.add_argument("-c", "--cloud", action="store_true", help="compare the cache with a remote")
    p.add_argument("-r", "--remote", help="the remote for -c (default: core.remote)")


def configure_unprotect(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="+", metavar="TARGET")


def configure_gc(p: argparse.ArgumentParser) -> None:
    p.add_argument("-w", "--workspace", action="store_true", help="keep what the workspace uses")
    p.add_argument("-a", "--all-branches", action="store_true", help="… and every branch")
    p.add_argument("-T", "--all-tags", action="store_true", help="… and every tag")
    p.add_argument("-A", "--all-commits", action="store_true", help="… and every commit")
    p.add_argument("-c", "--cloud", action="store_true", help="delete from the remote too")
    p.add_argument("-r", "--remote", help="the remote for -c (default: core.remote)")
    p.add_argument("--dry", action="store_true", help="list what would go, remove nothing")
    p.add_argument("-f", "--force", action="store_true", help="do not ask")


def _writer(func):
    """Run an operation under the repository lock."""

    def run(args) -> int:
        repo = Repo.find()
        try:
            with repo.lock():
                return func(args, repo)
        finally:
            repo.close()

    run.__name__ = func.__name__
    return run


@_writer
def run_add(args, repo: Repo) -> int:
    results = add(repo, args.targets, scm=repo.scm)
    for r in results:
        say(args, f"{'Added' if r.changed else 'Unchanged'} {r.output} -> {r.pointer}")
    if repo.scm and any(r.changed for r in results):
        files = sorted({r.pointer for r in results if r.changed})
        files += sorted({r.gitignore for r in results if r.gitignore})
        say(args, "\nTo track the changes with git, run:\n\n\tgit add " + " ".join(files))
    return 0


@_writer
def run_commit(args, repo: Repo) -> int:
    for r in commit(repo, args.targets or None):
        if r.changed:
            say(args, f"Committed {r.output} -> {r.pointer}")
    return 0


@_writer
def run_checkout(args, repo: Repo) -> int:
    result = checkout(repo, args.targets or None, force=args.force, relink=args.relink)
    for path in result.added:
        say(args, f"A\t{path}")
    for path in result.modified:
        say(args, f"M\t{path}")
    return 0


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


@_writer
def run_unprotect(args, repo: Repo) -> int:
    for path in unprotect(repo, args.targets):
        if args.verbose:
            say(args, f"unprotected {path}")
    return 0


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def run_gc(args) -> int:
    repo = Repo.find()
    try:
        with repo.lock():
            plan = gc.plan(repo, args.workspace, args.all_branches, args.all_tags,
                           args.all_commits, cloud=args.cloud, remote_name=args.remote)
            remote = plan.remote
            say(args, f"{len(plan.local)} unused object(s) in the cache ({_size(plan.local_size)})"
                + (f", {len(plan.keys)} on remote '{remote.name}'" if remote else "") + ".")
            if args.dry:
                for md5, _, size in plan.local:
                    say(args, f"would remove {md5} ({_size(size)})")
                for key in plan.keys:
                    say(args, f"would remove {remote.name}:{key}")
                return 0
            if plan.empty:
                return 0
            if gc.confirm_needed(plan, args.force, sys.stdin.isatty):
                answer = input("Remove them? [y/N] ").strip().lower()
                if answer not in ("y", "yes"):
                    say(args, "Nothing removed.")
                    return 0
            gc.remove(plan)
            say(args, f"Removed {len(plan.local)} object(s)"
                + (f" and {len(plan.keys)} from '{remote.name}'" if remote else "") + ".")
    finally:
        repo.close()
    return 0

"""gc: remove the cache (and remote) objects nothing chosen references."""

from __future__ import annotations

import argparse
import sys

from lode.cli.output import say
from lode.ops import gc
from lode.repo import Repo


def configure_gc(p: argparse.ArgumentParser) -> None:
    p.add_argument("-w", "--workspace", action="store_true", help="keep what the workspace uses")
    p.add_argument("-a", "--all-branches", action="store_true", help="… and every branch")
    p.add_argument("-T", "--all-tags", action="store_true", help="… and every tag")
    p.add_argument("-A", "--all-commits", action="store_true", help="… and every commit")
    p.add_argument("-c", "--cloud", action="store_true", help="delete from the remote too")
    p.add_argument("-r", "--remote", help="the remote for -c (default: core.remote)")
    p.add_argument("--dry", action="store_true", help="list what would go, remove nothing")
    p.add_argument("-f", "--force", action="store_true", help="do not ask")


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

"""checkout: make the workspace match the pointers, from the cache."""

from __future__ import annotations

import argparse

from lode.cli.output import say, under_lock
from lode.ops.checkout import checkout
from lode.repo import Repo


def configure_checkout(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="*", metavar="TARGET")
    p.add_argument("-f", "--force", action="store_true", help="overwrite local changes")
    p.add_argument("--relink", action="store_true", help="recreate links even if data matches")


@under_lock
def run_checkout(args, repo: Repo) -> int:
    result = checkout(repo, args.targets or None, force=args.force, relink=args.relink)
    for path in result.added:
        say(args, f"A\t{path}")
    for path in result.modified:
        say(args, f"M\t{path}")
    return 0

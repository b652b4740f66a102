"""unprotect: linked, read-only outputs made editable copies."""

from __future__ import annotations

import argparse

from lode.cli.output import say, under_lock
from lode.ops.unprotect import unprotect
from lode.repo import Repo


def configure_unprotect(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="+", metavar="TARGET")


@under_lock
def run_unprotect(args, repo: Repo) -> int:
    for path in unprotect(repo, args.targets):
        if args.verbose:
            say(args, f"unprotected {path}")
    return 0

"""add and commit: cache outputs and record them in their pointers."""

from __future__ import annotations

import argparse

from lode.cli.output import say, under_lock
from lode.ops.add import add, commit
from lode.repo import Repo


def configure_add(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="+", metavar="TARGET")


def configure_commit(p: argparse.ArgumentParser) -> None:
    p.add_argument("targets", nargs="*", metavar="TARGET")
    p.add_argument("-f", "--force", action="store_true", help="accepted for DVC compatibility")


@under_lock
def run_add(args, repo: Repo) -> int:
    results = add(repo, args.targets, scm=repo.scm)
    for r in results:
        say(args, f"{'Added' if r.changed else 'Unchanged'} {r.output} -> {r.pointer}")
    if repo.scm and any(r.changed for r in results):
        files = sorted({r.pointer for r in results if r.changed})
        files += sorted({r.gitignore for r in results if r.gitignore})
        say(args, "\nTo track the changes with git, run:\n\n\tgit add " + " ".join(files))
    return 0


@under_lock
def run_commit(args, repo: Repo) -> int:
    for r in commit(repo, args.targets or None):
        if r.changed:
            say(args, f"Committed {r.output} -> {r.pointer}")
    return 0

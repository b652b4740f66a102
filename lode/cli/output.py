"""Printing helpers shared by the command modules (operations never print)."""

from __future__ import annotations

import sys

from lode.errors import CacheError
from lode.repo import Repo


def say(args, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text)


def warn(text: str) -> None:
    print(f"WARNING: {text}", file=sys.stderr)


def transfer_outcome(args, verb: str, result) -> CacheError | None:
    """Print what a push/pull/fetch moved and what it did not; the error to raise when
    something did not (after the caller printed the rest of its output)."""
    if result.moved or not result.failed:
        say(args, f"{result.moved} file(s) {verb}" + (
            f", {result.present} already there." if result.present else "."))
    if not result.failed:
        return None
    for md5, path, why in result.failed[:20]:
        print(f"ERROR: {path or '?'} ({md5}): {why}.", file=sys.stderr)
    more = len(result.failed) - 20
    tail = f" (and {more} more)" if more > 0 else ""
    return CacheError(
        f"{len(result.failed)} object(s) could not be {verb}{tail}; everything else was.",
        [m for m, _, _ in result.failed],
        "Rerun the command once the cause is fixed; it moves only what is missing.",
    )


def under_lock(func):
    """A command handler `func(args, repo)` run in the repository, under its lock."""

    def run(args) -> int:
        repo = Repo.find()
        try:
            with repo.lock():
                return func(args, repo)
        finally:
            repo.close()

    run.__name__ = func.__name__
    return run

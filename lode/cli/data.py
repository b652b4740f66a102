"""add, commit, checkout, status, unprotect."""

from __future__ import annotations

import json

from lode.cli.output import say
from lode.repo import Repo


def _scm(repo: Repo) -> bool:
    return repo.config.get("core", "no_scm", "false").lower() not in ("true", "1", "yes")


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
    from lode.workspace.add import add

    results = add(repo, args.targets, scm=_scm(repo))
    for r in results:
        say(args, f"{'Added' if r.changed else 'Unchanged'} {r.output} -> {r.pointer}")
    if _scm(repo) and any(r.changed for r in results):
        files = sorted({r.pointer for r in results if r.changed})
        files += sorted({r.gitignore for r in results if r.gitignore})
        say(args, "\nTo track the changes with git, run:\n\n\tgit add " + " ".join(files))
    return 0


@_writer
def run_commit(args, repo: Repo) -> int:
    from lode.workspace.add import commit

    for r in commit(repo, args.targets or None):
        if r.changed:
            say(args, f"Committed {r.output} -> {r.pointer}")
    return 0


@_writer
def run_checkout(args, repo: Repo) -> int:
    from lode.workspace.checkout import checkout

    result = checkout(repo, args.targets or None, force=args.force, relink=args.relink)
    for path in result.added:
        say(args, f"A\t{path}")
    for path in result.modified:
        say(args, f"M\t{path}")
    return 0


def run_status(args) -> int:
    from lode.workspace.status import status

    repo = Repo.find()
    try:
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
    from lode.workspace.unprotect import unprotect

    for path in unprotect(repo, args.targets):
        if args.verbose:
            say(args, f"unprotected {path}")
    return 0

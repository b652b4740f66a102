from __future__ import annotations

import os

from lode.cli.output import say


def run_init(args) -> int:
    from lode.workspace.init import init, write_dodo

    if args.dodo:
        from lode.repo import Repo

        root = Repo.find().root
        if write_dodo(root) is None:
            say(args, "dodo.py exists already; left as it is.")
        else:
            say(args, "Wrote dodo.py: try 'doit list'.")
        return 0
    init(os.getcwd(), no_scm=args.no_scm, force=args.force)
    say(args, "Initialized lode (DVC-compatible) repository.")
    if not args.no_scm:
        say(args, "You can now commit the changes to git.")
    return 0

from __future__ import annotations

import os

from lode.cli.output import say


def run_init(args) -> int:
    from lode.workspace.init import init

    init(os.getcwd(), no_scm=args.no_scm, force=args.force)
    say(args, "Initialized lode (DVC-compatible) repository.")
    if not args.no_scm:
        say(args, "You can now commit the changes to git.")
    return 0

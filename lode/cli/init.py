from __future__ import annotations

import argparse
import os
import shlex

from lode.cli.output import say
from lode.errors import UsageError
from lode.ops.init import init, write_dodo
from lode.ops.template import scaffold, templates
from lode.repo import Repo


def configure_init(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-scm", action="store_true", help="use lode without Git")
    p.add_argument("-f", "--force", action="store_true", help="rewrite existing scaffolding")
    p.add_argument("--dodo", action="store_true", help="only add the dodo.py that shows the "
                   "pipeline to doit (in a repository DVC initialised)")
    p.add_argument("--template", metavar="NAME", help="scaffold a ready project from a "
                   "template into DIR (see 'lode templates')")
    p.add_argument("--data-remote", metavar="URL", help="with --template: the default data "
                   "remote (default: a local directory beside DIR)")
    p.add_argument("--git-remote", metavar="URL", help="with --template: the Git remote "
                   "'origin'")
    p.add_argument("dir", nargs="?", metavar="DIR", help="with --template: where to create "
                   "the project")


def run_init(args) -> int:
    if args.template:
        return _run_template(args)
    extras = [o for o, v in (("DIR", args.dir), ("--data-remote", args.data_remote),
                             ("--git-remote", args.git_remote)) if v]
    if extras:
        raise UsageError(f"{' and '.join(extras)} go with --template only.",
                        "See 'lode templates'; plain 'lode init' works in the current directory.")
    if args.dodo:
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


def _run_template(args) -> int:
    clashes = [o for o, v in (("--no-scm", args.no_scm), ("--dodo", args.dodo),
                              ("--force", args.force)) if v]
    if clashes:
        raise UsageError(f"--template does not go with {' or '.join(clashes)}: a template "
                            "project is a new Git repository with its own dodo.py.")
    if not args.dir:
        raise UsageError("--template needs the project's directory: "
                            f"'lode init --template {args.template} DIR'.")
    made = scaffold(args.template, args.dir, data_remote=args.data_remote,
                    git_remote=args.git_remote)
    say(args, f"Created the {args.template} project in {made.root} "
              f"(Git branch main, commit {made.commit[:7]}):")
    say(args, "  " + ", ".join(made.files))
    say(args, f"  data remote 'storage' (the default): {made.data_remote}")
    say(args, f"  Git remote 'origin': {made.git_remote}" if made.git_remote else
        "  no Git remote yet: 'git remote add origin URL' (an empty repository)")
    if made.next:
        say(args, "Next:")
        say(args, "  " + " && ".join([f"cd {shlex.quote(args.dir)}", *made.next]))
    return 0


def run_templates(args) -> int:
    found = templates()
    width = max((len(t.name) for t in found), default=0)
    for t in found:
        print(f"{t.name:<{width}}  {t.description}")
    if not found:
        say(args, "No templates are installed with this lode.")
    return 0

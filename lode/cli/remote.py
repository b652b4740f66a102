"""remote add|modify|list|remove|default, and push, pull, fetch."""

from __future__ import annotations

from lode.cli.output import say, transfer_outcome
from lode.errors import UsageError
from lode.ops import remotes as rc
from lode.ops import transfer
from lode.ops.doctor import doctor
from lode.repo import Repo


def configure_remote(p) -> None:
    sub = p.add_subparsers(dest="remote_command", metavar="SUBCOMMAND", required=True)
    a = sub.add_parser("add", help="add a remote")
    a.add_argument("-d", "--default", action="store_true", help="make it the default remote")
    a.add_argument("-f", "--force", action="store_true", help="overwrite an existing one")
    a.add_argument("name")
    a.add_argument("url")
    m = sub.add_parser("modify", help="set (or with -u unset) an option of a remote")
    m.add_argument("-u", "--unset", action="store_true")
    m.add_argument("name")
    m.add_argument("option")
    m.add_argument("value", nargs="?")
    sub.add_parser("list", help="the remotes and their URLs")
    r = sub.add_parser("remove", help="remove a remote")
    r.add_argument("name")
    d = sub.add_parser("default", help="show or set the default remote")
    d.add_argument("-u", "--unset", action="store_true")
    d.add_argument("name", nargs="?")
    for s in (a, m, r, d):
        s.add_argument("--local", action="store_true",
                       help="use .dvc/config.local (git-ignored): where secrets belong")


def configure_transfer(p, pull: bool = False) -> None:
    p.add_argument("targets", nargs="*", metavar="TARGET",
                   help="data path, .dvc file, stage or dvc.yaml (default: everything)")
    p.add_argument("-r", "--remote", help="remote name (default: core.remote)")
    p.add_argument("-j", "--jobs", type=int, metavar="N", help="parallel transfers")
    p.add_argument("--run-cache", action="store_true",
                   help="also transfer the run cache (runs/) and the objects it names")
    if pull:
        p.add_argument("-f", "--force", action="store_true", help="overwrite local changes")



def configure_push(p) -> None:
    configure_transfer(p)


def configure_fetch(p) -> None:
    configure_transfer(p)


def configure_pull(p) -> None:
    configure_transfer(p, pull=True)


def run_remote(args) -> int:
    repo = Repo.find()
    cmd = args.remote_command
    if cmd == "list":
        for name, url in rc.listing(repo):
            print(f"{name}\t{rc.redact_url(url)}")  # a url's password is not for the screen
        return 0
    if cmd == "modify" and not args.unset and args.value is None:
        raise UsageError("give a value, or -u to unset the option.")
    with repo.lock():
        if cmd == "add":
            rc.add(repo, args.name, args.url, args.default, args.local, args.force)
        elif cmd == "modify":
            rc.modify(repo, args.name, args.option, None if args.unset else args.value,
                      args.local)
        elif cmd == "remove":
            rc.remove(repo, args.name)
        elif cmd == "default":
            if args.unset or args.name:
                rc.set_default(repo, None if args.unset else args.name, args.local)
            else:
                name = rc.default(repo)
                if name:
                    print(name)
    return 0


def _transfer(args, verb: str) -> int:
    repo = Repo.find()
    try:
        how = dict(targets=args.targets or None, remote=args.remote, jobs=args.jobs,
                   run_cache=args.run_cache)
        if verb == "pulled":
            pulled = transfer.pull(repo, force=args.force, **how)
            error = transfer_outcome(args, "fetched", pulled.fetched)
            if pulled.checkout_error is not None:
                raise pulled.checkout_error
            for path in pulled.added:
                say(args, f"A\t{path}")
            for path in pulled.modified:
                say(args, f"M\t{path}")
        else:
            op = transfer.push if verb == "pushed" else transfer.fetch
            error = transfer_outcome(args, verb, op(repo, **how))
        if error is not None:
            raise error
        return 0
    finally:
        repo.close()


def run_push(args) -> int:
    return _transfer(args, "pushed")


def run_fetch(args) -> int:
    return _transfer(args, "fetched")


def run_pull(args) -> int:
    return _transfer(args, "pulled")


def run_doctor(args) -> int:
    """Findings about the repository's setup, one line each; exit 1 when any is a problem."""
    repo = Repo.find()
    found = doctor(repo)
    for problem in found.problems:
        print(f"PROBLEM: {problem}")
    say(args, f"remotes: {', '.join(found.remotes) or 'none'}; default: "
              f"{found.default or 'none'}")
    if not found.problems:
        say(args, "No problems found.")
    return 1 if found.problems else 0

"""remote add|modify|list|remove|default, and push, pull, fetch."""

from __future__ import annotations

import sys

from lode.cli.output import say
from lode.errors import CacheError
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


def run_remote(args) -> int:
    from lode.ops import remotes as rc

    repo = Repo.find()
    cmd = args.remote_command
    if cmd == "list":
        for name, url in rc.listing(repo):
            print(f"{name}\t{rc.redact_url(url)}")  # a url's password is not for the screen
        return 0
    with repo.lock():
        if cmd == "add":
            rc.add(repo, args.name, args.url, args.default, args.local, args.force)
        elif cmd == "modify":
            if not args.unset and args.value is None:
                from lode.errors import ConfigError

                raise ConfigError("give a value, or -u to unset the option.")
            rc.modify(repo, args.name, args.option, None if args.unset else args.value,
                      args.local)
        elif cmd == "remove":
            rc.remove(repo, args.name)
        elif cmd == "default":
            level = "local" if args.local else "repo"
            if args.unset:
                repo.config.set(level, "core", "remote", None)
            elif args.name:
                rc.open_remote(repo, args.name)  # it must exist
                repo.config.set(level, "core", "remote", args.name)
            else:
                name = repo.config.get("core", "remote")
                if name:
                    print(name)
    return 0


def _report(args, verb: str, result, remote) -> int:
    if result.moved or not result.failed:
        say(args, f"{result.moved} file(s) {verb}" + (
            f", {result.present} already there." if result.present else "."))
    if result.failed:
        for md5, path, why in result.failed[:20]:
            print(f"ERROR: {path or '?'} ({md5}): {why}.", file=sys.stderr)
        more = len(result.failed) - 20
        tail = f" (and {more} more)" if more > 0 else ""
        raise CacheError(
            f"{len(result.failed)} object(s) could not be {verb}{tail}; everything else was.",
            [m for m, _, _ in result.failed],
            "Rerun the command once the cause is fixed; it moves only what is missing.",
        )
    return 0


def _transfer(args, verb: str) -> int:
    from lode.ops import runs_transfer as runs
    from lode.ops.remotes import open_remote
    from lode.ops.used import collect

    repo = Repo.find()
    try:
        remote = open_remote(repo, args.remote)
        jobs = args.jobs or remote.capabilities.jobs
        if args.run_cache:
            runs.require(remote)  # before anything moves
        with repo.lock():
            used = collect(repo, args.targets or None)
            if verb == "pushed":
                from lode.store.transfer import push

                entries = runs.local_entries(repo, used) if args.run_cache else {}
                result = push(repo, remote, used, jobs)
                if args.run_cache:
                    runs.count(result, runs.upload_entries(
                        remote, entries, {m for m, _, _ in result.failed}, repo))
            else:
                from lode.store.transfer import fetch

                got = runs.download_entries(repo, remote, used) if args.run_cache else None
                result = fetch(repo, remote, used, jobs)
                if got:
                    runs.count(result, got)
            if verb == "pulled":
                from lode.ops.checkout import checkout

                try:
                    _report(args, "fetched", result, remote)
                finally:
                    out = checkout(repo, args.targets or None, force=args.force)
                    for path in out.added:
                        say(args, f"A\t{path}")
                    for path in out.modified:
                        say(args, f"M\t{path}")
                return 0
            return _report(args, verb, result, remote)
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
    import os

    from lode.ops.remotes import listing, tracked_secrets
    from lode.store import gitignore

    repo = Repo.find()
    problems = [
        f"{name} is a secret in the tracked .dvc/config: move it with 'lode remote modify "
        "--local' and remove it from Git history."
        for name in tracked_secrets(repo)
    ]
    from lode.plugins.notifier import tracked_secrets as notifier_secrets

    # a webhook URL in Git lets anyone who can read the repository post to the channel
    problems += [f"{p[:-1]} and remove it from Git history." for p in notifier_secrets(repo)]
    local = os.path.join(repo.dvc_dir, "config.local")
    if os.path.exists(local) and not gitignore.git_ignores(repo.root, local):
        problems.append(".dvc/config.local is not ignored by Git: secrets in it could be "
                        "committed (add '/config.local' to .dvc/.gitignore).")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    remotes = listing(repo)
    default = repo.config.get("core", "remote")
    say(args, f"remotes: {', '.join(n for n, _ in remotes) or 'none'}; default: "
              f"{default or 'none'}")
    if not problems:
        say(args, "No problems found.")
    return 1 if problems else 0

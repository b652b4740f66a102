"""config and cache commands.

`lode config -l` masks secret values (`***`): passwords, keys, tokens, webhook URLs,
custom auth header values, and the password in a URL's user-info; `--show-secrets` prints
them as stored. A listing is what ends up on a shared screen, in a terminal recording or
in a bug report, where nobody meant to put a credential. A single option asked by name
(`lode config remote.r.password`) is printed as it is, as git and DVC print it: the user
named the secret, and that is how a script reads it back.
"""

from __future__ import annotations

import argparse

from lode.cli import common_flags
from lode.cli.output import say
from lode.errors import CacheError, UsageError
from lode.ops import config as ops_config
from lode.ops.verify import verify_cache
from lode.repo import Repo


def configure_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--local", action="store_true", help="use .dvc/config.local (git-ignored)")
    p.add_argument("-u", "--unset", action="store_true", help="remove the option")
    p.add_argument("-l", "--list", action="store_true", help="list all options")
    p.add_argument("--show-secrets", action="store_true",
                   help="print secret values in --list instead of ***")
    p.add_argument("name", nargs="?", help="SECTION.OPTION, e.g. cache.type")
    p.add_argument("value", nargs="?")


def configure_cache(p: argparse.ArgumentParser) -> None:
    csub = p.add_subparsers(dest="cache_command", metavar="SUBCOMMAND", required=True)
    c = csub.add_parser("dir", help="show or set the cache directory")
    common_flags(c)
    c.add_argument("value", nargs="?", metavar="PATH")
    c.add_argument("--local", action="store_true")
    c = csub.add_parser("verify", help="rehash every object; name the corrupt ones")
    common_flags(c)


def run_config(args) -> int:
    repo = Repo.find()
    if args.list:
        for name, shown in ops_config.listing(repo, bool(getattr(args, "show_secrets", False))):
            say(args, f"{name}={shown}")
        return 0
    if not args.name:
        raise UsageError("name the option, e.g. 'lode config cache.type', or use --list.")
    if args.unset:
        ops_config.set_option(repo, args.name, None, args.local)
        return 0
    if args.value is None:
        value = ops_config.get(repo, args.name, args.local)
        if value is not None:  # unset prints nothing and succeeds, as `dvc config` does
            print(value)
        return 0
    ops_config.set_option(repo, args.name, args.value, args.local)
    return 0


def run_cache(args) -> int:
    repo = Repo.find()
    try:
        if args.cache_command == "dir":
            if args.value is None:
                print(repo.cache_dir)
                return 0
            ops_config.set_option(repo, "cache.dir", args.value, args.local)
            return 0
        with repo.lock():
            checked, corrupt = verify_cache(repo)
        if corrupt:
            lines = [f"  {md5}  {repo.rel(path)}" for md5, path in corrupt]
            raise CacheError(
                f"{len(corrupt)} of {checked} cache objects are corrupt (bytes do not match "
                "their name):\n" + "\n".join(lines),
                [m for m, _ in corrupt],
                "\nDelete them and re-add or pull the data they hold.",
            )
        say(args, f"All {checked} cache objects are sound.")
        return 0
    finally:
        repo.close()

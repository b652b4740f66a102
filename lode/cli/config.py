"""config and cache commands.

`lode config -l` masks secret values (`***`): passwords, keys, tokens, webhook URLs,
custom auth header values, and the password in a URL's user-info; `--show-secrets` prints
them as stored. A listing is what ends up on a shared screen, in a terminal recording or
in a bug report, where nobody meant to put a credential. A single option asked by name
(`lode config remote.r.password`) is printed as it is, as git and DVC print it: the user
named the secret, and that is how a script reads it back.
"""

from __future__ import annotations

import re

from lode.cli.output import say
from lode.config import NOTIFIER_SECTION, notifier_key
from lode.errors import CacheError, ConfigError
from lode.ops.remotes import MASK, is_secret, redact_url
from lode.plugins.notifier import plugins as notifier_plugins
from lode.plugins.remote import RemoteError, plugin_for
from lode.repo import Repo


def run_config(args) -> int:
    from lode.config import dotted, split_name

    repo = Repo.find()
    cfg = repo.config
    if args.list:
        reveal = bool(getattr(args, "show_secrets", False))
        for level in ("repo", "local"):
            for section, keys in cfg.level(level).items():
                for key, value in keys.items():
                    shown = value if reveal else masked(cfg, section, key, value)
                    say(args, f"{dotted(section, key)}={shown}")
        return 0
    if not args.name:
        raise ConfigError("name the option, e.g. 'lode config cache.type', or use --list.")
    section, key = split_name(args.name)
    level = "local" if args.local else "repo"
    if args.unset:
        with repo.lock():
            cfg.set(level, section, key, None)
        return 0
    if args.value is None:
        value = cfg.level(level).get(section, {}).get(key) if args.local else cfg.get(section, key)
        if value is not None:  # unset prints nothing and succeeds, as `dvc config` does
            print(value)
        return 0
    if section == "cache" and key == "type":
        _check_link_types(args.value)
    with repo.lock():
        cfg.set(level, section, key, args.value)
    return 0


_REMOTE = re.compile(r'remote "(.+)"')


def secret_option(cfg, section: str, key: str) -> bool:
    """Whether the option holds a credential: a remote plugin's or a notifier plugin's
    declared secret, or any option whose name says it is one."""
    m = _REMOTE.fullmatch(section)
    if m:
        url = cfg.get(section, "url") or ""
        try:
            plugin = plugin_for(url) if url else None
        except (RemoteError, ConfigError):
            plugin = None  # an unknown scheme: the name alone decides
        return key != "url" and is_secret(key, plugin)
    parts = notifier_key(key) if section == NOTIFIER_SECTION else None
    if parts:
        name, option = parts
        return is_secret(option, notifier_plugins().get(name))  # type: ignore[arg-type]
    return is_secret(key)


def masked(cfg, section: str, key: str, value: str) -> str:
    """What `lode config -l` shows of a value."""
    if secret_option(cfg, section, key):
        return MASK
    return redact_url(value)


def _check_link_types(value: str) -> None:
    types = [t.strip() for t in value.split(",")]
    if not types or any(t not in ("reflink", "hardlink", "symlink", "copy") for t in types):
        raise ConfigError(
            f"cache.type '{value}' is not valid; use a comma-separated list of "
            "reflink, hardlink, symlink, copy."
        )


def run_cache(args) -> int:
    repo = Repo.find()
    try:
        if args.cache_command == "dir":
            if args.value is None:
                print(repo.cache_dir)
                return 0
            with repo.lock():
                repo.config.set("local" if args.local else "repo", "cache", "dir", args.value)
            return 0
        from lode.ops.verify import verify_cache

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

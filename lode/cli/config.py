"""config and cache commands."""

from __future__ import annotations

from lode.cli.output import say
from lode.errors import CacheError, ConfigError
from lode.repo import Repo


def run_config(args) -> int:
    from lode.config import dotted, split_name

    repo = Repo.find()
    cfg = repo.config
    if args.list:
        for level in ("repo", "local"):
            for section, keys in cfg.level(level).items():
                for key, value in keys.items():
                    say(args, f"{dotted(section, key)}={value}")
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
        from lode.workspace.verify import verify_cache

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

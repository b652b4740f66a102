"""`lode remote add|modify|list|remove|default` over DVC's INI files, and opening a remote.

Secrets never go into the tracked `.dvc/config`: a plugin declares its secret options
(lode.plugins.Option), and setting one without `--local` is refused with how to do it right.
"""

from __future__ import annotations

import json
import os

from lode.atomic import write_text_atomic
from lode.errors import ConfigError, SecretInConfigError
from lode.plugins.remote import Remote, plugin_for
from lode.secrets import MASK, is_secret

__all__ = ["MASK", "SecretInConfigError", "add", "check_credentials_origin", "default",
           "listing", "modify", "open_remote", "redact_url", "remove", "set_default",
           "tracked_secrets"]


def section(name: str) -> str:
    return f'remote "{name}"'


def _names(cfg) -> list[str]:
    seen: dict[str, None] = {}
    for level in ("repo", "local"):
        for s in cfg.level(level):
            if s.startswith('remote "') and s.endswith('"'):
                seen[s[len('remote "') : -1]] = None
    return list(seen)


def redact_url(url: str) -> str:
    """`url` with the password of its user-info masked (`https://alice:***@host/`): what
    listings print, since a URL may carry its credential. Over http(s) a user without a
    password is masked too: there it is usually a token (`https://TOKEN@host`)."""
    if "://" not in url or "@" not in url:
        return url
    from urllib.parse import urlsplit, urlunsplit  # 7 ms with ipaddress: not at start-up

    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    if colon:
        shown = f"{user}:{MASK}"
    else:
        shown = MASK if parts.scheme.lower() in ("http", "https") else user
    return urlunsplit(parts._replace(netloc=f"{shown}@{host}"))


def add(repo, name: str, url: str, default: bool, local: bool, force: bool) -> None:
    plugin_for(url)  # an unknown scheme is refused before anything is written
    if "://" not in url and not os.path.isabs(os.path.expanduser(url)):
        # as DVC: a relative directory is typed from here but stored from .dvc/
        url = os.path.relpath(os.path.abspath(url), repo.dvc_dir)
    level = "local" if local else "repo"
    cfg = repo.config
    if name in _names(cfg) and not force:
        raise ConfigError(f"remote '{name}' exists already.", "Use -f to overwrite it.")
    cfg.set(level, section(name), "url", url)
    _repin(repo, name)
    if default:
        cfg.set(level, "core", "remote", name)


def _plugin(repo, name: str) -> type[Remote]:
    url = repo.config.get(section(name), "url")
    if url is None:
        known = ", ".join(_names(repo.config)) or "none"
        raise ConfigError(f"there is no remote '{name}' (remotes: {known}).")
    return plugin_for(url)


def modify(repo, name: str, key: str, value: str | None, local: bool) -> None:
    plugin = _plugin(repo, name)
    allowed = plugin.option_names()
    if key not in allowed:
        raise ConfigError(f"'{key}' is not an option of remote '{name}'.",
                          f"Options: {', '.join(sorted(allowed))}.")
    secret = is_secret(key, plugin.secrets)
    if value is not None and not local and secret:
        raise SecretInConfigError(
            f"'{key}' is a secret and .dvc/config is committed to Git.",
            f"Store it in the git-ignored .dvc/config.local: 'lode remote modify --local {name} "
            f"{key} ...', or leave it to the environment / the provider's credential chain.",
        )
    repo.config.set("local" if local else "repo", section(name), key, value)
    if local and secret or key in ("url", "endpointurl"):
        _repin(repo, name)


def listing(repo) -> list[tuple[str, str]]:
    return [(n, repo.config.get(section(n), "url") or "") for n in _names(repo.config)]


def remove(repo, name: str) -> None:
    cfg = repo.config
    if name not in _names(cfg):
        raise ConfigError(f"there is no remote '{name}'.")
    for level in ("repo", "local"):
        if cfg.level(level).pop(section(name), None) is not None:
            cfg.save(level)
        if cfg.level(level).get("core", {}).get("remote") == name:
            cfg.set(level, "core", "remote", None)


def default(repo) -> str | None:
    """The default remote's name (core.remote), if any."""
    return repo.config.get("core", "remote")


def set_default(repo, name: str | None, local: bool) -> None:
    """Make `name` the default remote (it must exist); None unsets it."""
    level = "local" if local else "repo"
    if name is not None:
        open_remote(repo, name).close()  # it must exist, and be one lode can open
    repo.config.set(level, "core", "remote", name)


def tracked_secrets(repo) -> list[str]:
    """`remote.NAME.KEY` of secrets sitting in the tracked .dvc/config."""
    found = []
    for s, keys in repo.config.level("repo").items():
        if s.startswith('remote "'):
            name = s[len('remote "') : -1]
            found += [f"remote.{name}.{k}" for k in keys if is_secret(k)]
    return found


def _options(repo, name: str) -> dict[str, str]:
    """A remote's options as DVC merges them: the tracked file's, then config.local's."""
    return {**repo.config.level("repo").get(section(name), {}),
            **repo.config.level("local").get(section(name), {})}


def origin(options: dict[str, str]) -> str:
    """Where a remote's requests go: scheme, host and port of its URL (no user-info), and
    for S3-compatible stores the endpoint too."""
    url = options.get("url", "")
    where = url
    if "://" in url:
        from urllib.parse import urlsplit  # not at start-up (see redact_url)

        try:
            parts = urlsplit(url)
            where = f"{parts.scheme}://{parts.hostname or ''}:{parts.port or ''}"
        except ValueError:
            where = url
    endpoint = options.get("endpointurl")
    return f"{where} via {endpoint}" if endpoint else where


def _pins_path(repo) -> str:
    return os.path.join(repo.state_dir, "credential-origins.json")


def _pins(repo) -> dict[str, str]:
    try:
        with open(_pins_path(repo), encoding="utf-8") as f:
            pins = json.load(f)
    except (OSError, ValueError):
        return {}
    return pins if isinstance(pins, dict) else {}


def _pin(repo, name: str, where: str) -> None:
    pins = _pins(repo)
    if pins.get(name) != where:
        os.makedirs(repo.state_dir, exist_ok=True)
        write_text_atomic(_pins_path(repo), json.dumps({**pins, name: where}, indent=1))


def _has_local_secrets(repo, name: str, plugin: type[Remote] | None = None) -> bool:
    declared = plugin.secrets if plugin else ()
    return any(is_secret(k, declared) for k in repo.config.level("local").get(section(name), {}))


def _repin(repo, name: str) -> None:
    """After the user's own `remote add/modify`: its credentials belong with this host."""
    if _has_local_secrets(repo, name):
        _pin(repo, name, origin(_options(repo, name)))


def check_credentials_origin(repo, name: str, plugin: type[Remote]) -> None:
    """Credentials kept in the untracked .dvc/config.local follow a remote's name; the
    URL may come from the tracked .dvc/config, which any commit can change. The origin
    the credentials were first used with is remembered, and a commit that moves the
    remote elsewhere is refused rather than handed the user's credentials."""
    if not _has_local_secrets(repo, name, plugin):
        return
    where = origin(_options(repo, name))
    known = _pins(repo).get(name)
    if known is None:
        _pin(repo, name, where)
    elif known != where:
        raise ConfigError(
            f"remote '{name}' now points at {where} (from .dvc/config), but its "
            f"credentials in .dvc/config.local were used with {known}; lode does not send "
            "them to another host.",
            f"If the move is yours, confirm it: 'lode remote modify --local {name} url URL'.",
        )


def open_remote(repo, name: str | None = None) -> Remote:
    name = name or repo.config.get("core", "remote")
    if not name:
        raise ConfigError(
            "no remote is configured.", "Add one: 'lode remote add -d NAME URL'."
        )
    plugin = _plugin(repo, name)
    check_credentials_origin(repo, name, plugin)
    options = {**_options(repo, name), "_config_dir": repo.dvc_dir}
    return plugin(name, options["url"], options)

"""`lode config` and `lode cache dir`: reading, listing and writing options, with the checks
a command makes before it writes: a notifier option must be one its plugin declares, a
notifier's secret never goes into the tracked `.dvc/config`, and `cache.type` must be a
list of link types lode knows.

A listing masks secret values (`***`): a remote plugin's or a notifier plugin's declared
secrets, any option whose name says it is one, and the password in a URL's user-info.
"""

from __future__ import annotations

import re

from lode.config import NOTIFIER_SECTION, dotted, notifier_key, split_name
from lode.errors import ConfigError, RemoteError, SecretInConfigError
from lode.ops.remotes import redact_url
from lode.plugins.notifier import plugins as notifier_plugins
from lode.plugins.remote import plugin_for
from lode.secrets import MASK, is_secret
from lode.store.links import parse_link_types

_REMOTE = re.compile(r'remote "(.+)"')


def option(name: str) -> tuple[str, str]:
    """(section, key) of a dotted option name; ConfigError for a name lode and DVC do not
    know, or an option no installed notifier declares."""
    section, key = split_name(name)
    parts = notifier_key(key) if section == NOTIFIER_SECTION else None
    if parts:
        _check_notifier_option(*parts)
    return section, key


def _check_notifier_option(name: str, key: str) -> None:
    plugin = notifier_plugins().get(name)
    if plugin is None:
        raise ConfigError(f"there is no notifier '{name}' (installed: "
                          f"{', '.join(sorted(notifier_plugins())) or 'none'}).")
    if key not in plugin.option_names():
        known = ", ".join(sorted(plugin.option_names()))
        raise ConfigError(f"'{key}' is not an option of notifier '{name}'.",
                          f"Options: {known}." if known else "It takes none.")


def refuse_tracked_secret(section: str, key: str) -> None:
    """A notifier's webhook URL is a credential: never into the committed .dvc/config."""
    parts = notifier_key(key) if section == NOTIFIER_SECTION else None
    if not parts:
        return
    name, opt = parts
    plugin = notifier_plugins().get(name)
    if is_secret(opt, plugin.secrets if plugin else ()):
        var = (plugin.env if plugin else {}).get(opt)
        raise SecretInConfigError(
            f"'{opt}' is a secret and .dvc/config is committed to Git.",
            f"Store it in the git-ignored .dvc/config.local: 'lode config --local "
            f"{key} ...'" + (f", or set {var}." if var else "."),
        )


def check_link_types(value: str) -> None:
    """`cache.type` as it is written: every item one of the link kinds, no empty one."""
    parse_link_types(value, strict=True)


def get(repo, name: str, local: bool) -> str | None:
    """The option's value (of config.local alone with `local`), None when unset."""
    section, key = option(name)
    cfg = repo.config
    return cfg.level("local").get(section, {}).get(key) if local else cfg.get(section, key)


def set_option(repo, name: str, value: str | None, local: bool) -> None:
    """Write (None: unset) the option, under the repository lock."""
    section, key = option(name)
    level = "local" if local else "repo"
    if value is not None:
        if section == "cache" and key == "type":
            check_link_types(value)
        if level == "repo":
            refuse_tracked_secret(section, key)
    with repo.lock():
        repo.config.set(level, section, key, value)


def listing(repo, reveal: bool = False) -> list[tuple[str, str]]:
    """(dotted name, value as shown) of every option of both files, tracked first;
    secrets masked unless `reveal`."""
    cfg = repo.config
    return [(dotted(section, key), value if reveal else masked(cfg, section, key, value))
            for level in ("repo", "local")
            for section, keys in cfg.level(level).items()
            for key, value in keys.items()]


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
        return key != "url" and is_secret(key, plugin.secrets if plugin else ())
    parts = notifier_key(key) if section == NOTIFIER_SECTION else None
    if parts:
        name, opt = parts
        plugin = notifier_plugins().get(name)
        return is_secret(opt, plugin.secrets if plugin else ())
    return is_secret(key)


def masked(cfg, section: str, key: str, value: str) -> str:
    """What `lode config -l` shows of a value."""
    if secret_option(cfg, section, key):
        return MASK
    return redact_url(value)

"""`.dvc/config` (tracked) and `.dvc/config.local` (git-ignored), in DVC's ConfigObj INI dialect.

Only the shape DVC writes is supported: `[section]` or `['remote "name"']` headers and
`key = value` lines indented by four spaces. The local file wins over the tracked one.

Notifier options (`notifier.NAME.OPTION` to the user) are stored as dotted keys of DVC's
`[feature]` section: DVC 3 refuses a repository whose config has a section it does not know
("extra keys not allowed"), but keeps unknown `feature` keys with a warning.

This module is the files and where each kind of key is stored, nothing more: which options
a plugin takes and which are secrets are the plugins' declarations (lode.plugins), checked
where a command writes the config (lode.ops.config, lode.ops.remotes).
"""

from __future__ import annotations

import os
import re

from lode.atomic import write_text_atomic
from lode.errors import ConfigError

LEVELS = ("repo", "local")
_HEADER = re.compile(r"^\s*\[\s*(?P<q>['\"]?)(?P<name>.*?)(?P=q)\s*\]\s*$")
_KEYVAL = re.compile(r"^\s*(?P<key>[^=\s]+)\s*=\s*(?P<value>.*?)\s*$")

Sections = dict[str, dict[str, str]]


def parse(text: str, where: str) -> Sections:
    sections: Sections = {}
    current: dict[str, str] | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        if "\x00" in raw:  # it would reach a path or URL, where Python refuses it
            raise ConfigError(f"{where} line {lineno} holds a NUL byte.")
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        m = _HEADER.match(line)
        if m:
            current = sections.setdefault(m["name"], {})
            continue
        m = _KEYVAL.match(line)
        if not m or current is None:
            raise ConfigError(f"{where} line {lineno} is not 'key = value' inside a [section].")
        value = m["value"]
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        current[m["key"]] = value
    return sections


def _quote(value: str) -> str:
    """ConfigObj's quoting: a comma would make a list, '#' a comment, edges get stripped."""
    if value and not re.search(r"[,#\"']|^\s|\s$", value):
        return value
    return f"'{value}'" if '"' in value else f'"{value}"'


def render(sections: Sections) -> str:
    out = []
    # DVC writes remote sections after every other section.
    order = sorted(sections, key=lambda name: name.startswith('remote "'))
    for name in order:
        keys = sections[name]
        if not keys:
            continue
        header = f"[{name}]" if re.fullmatch(r"[\w.-]+", name) else f"['{name}']"
        out.append(header)
        out.extend(f"    {k} = {_quote(v)}" for k, v in keys.items())
    return "".join(line + "\n" for line in out)


# The options DVC 3's schema accepts in the sections lode writes; anything else would make
# DVC refuse to load the repository ("extra keys not allowed"). Remote options are
# checked per scheme by the remote plugins.
KNOWN = {
    "core": {"remote", "interactive", "analytics", "hardlink_lock", "check_update",
             "autostage", "no_scm", "site_cache_dir"},
    "cache": {"dir", "type", "shared", "slow_link_warning", "protected"},
    "state": {"row_limit", "row_cleanup_quota", "dir"},
}


# The section holding notifier options, and the shape of their keys in it.
NOTIFIER_SECTION = "feature"
_NOTIFIER_KEY = re.compile(r"notifier\.([^.]+)\.([^.]+)")


def notifier_key(key: str) -> tuple[str, str] | None:
    """`notifier.slack.url` (a key of the [feature] section) -> ("slack", "url")."""
    m = _NOTIFIER_KEY.fullmatch(key)
    return (m[1], m[2]) if m else None


def notifier_options(sections: Sections) -> dict[str, dict[str, str]]:
    """name -> {option: value}, from the [feature] section of one file."""
    found: dict[str, dict[str, str]] = {}
    for key, value in sections.get(NOTIFIER_SECTION, {}).items():
        parts = notifier_key(key)
        if parts:
            found.setdefault(parts[0], {})[parts[1]] = value
    return found


_EXECUTOR_KEY = re.compile(r"executor\.([^.]+)")


def executor_options(sections: Sections) -> dict[str, str]:
    """`executor.OPTION` keys of the [feature] section of one file: `name` (the executor)
    and its options. Not an [executor] section: DVC refuses sections it does not know."""
    found = {}
    for key, value in sections.get(NOTIFIER_SECTION, {}).items():
        m = _EXECUTOR_KEY.fullmatch(key)
        if m:
            found[m[1]] = value
    return found


def dotted(section: str, key: str) -> str:
    """What the user types for a stored option: the inverse of `split_name`."""
    m = re.fullmatch(r'remote "(.+)"', section)
    if m:
        return f"remote.{m[1]}.{key}"
    if section == NOTIFIER_SECTION and (notifier_key(key) or _EXECUTOR_KEY.fullmatch(key)):
        return key
    return f"{section}.{key}"


def split_name(name: str) -> tuple[str, str]:
    """`core.remote` -> ("core", "remote"); `remote.r1.url` -> ('remote "r1"', "url");
    `notifier.slack.url` -> ("feature", "notifier.slack.url"); `executor.name` likewise."""
    parts = name.split(".")
    if len(parts) == 2 and all(parts) and parts[1] in KNOWN.get(parts[0], ()):
        return parts[0], parts[1]
    if len(parts) == 3 and all(parts) and parts[0] == "remote":
        return f'remote "{parts[1]}"', parts[2]
    if len(parts) == 3 and all(parts) and parts[0] == "notifier":
        return NOTIFIER_SECTION, name
    if len(parts) == 2 and all(parts) and parts[0] == "executor":
        return NOTIFIER_SECTION, name
    known = ", ".join(f"{s}.{k}" for s in ("core", "cache") for k in sorted(KNOWN[s]))
    raise ConfigError(
        f"'{name}' is not a configuration option lode or DVC knows.",
        f"Options: {known}, remote.NAME.OPTION, notifier.NAME.OPTION, executor.name, "
        "executor.OPTION.",
    )


def _read(path: str) -> str:
    """The file's text ("" when there is none); ConfigError when it is not text."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return ""
    except OSError as e:
        raise ConfigError(f"cannot read {os.path.relpath(path)}: {e.strerror or e}.") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ConfigError(f"{os.path.relpath(path)} line {line} is not UTF-8 text.") from None


class Config:
    def __init__(self, dvc_dir: str) -> None:
        self.dvc_dir = dvc_dir
        self.files = {
            "repo": os.path.join(dvc_dir, "config"),
            "local": os.path.join(dvc_dir, "config.local"),
        }
        self._levels: dict[str, Sections] = {}

    def level(self, level: str) -> Sections:
        if level not in self._levels:
            path = self.files[level]
            self._levels[level] = parse(_read(path), os.path.relpath(path))
        return self._levels[level]

    def get(self, section: str, key: str, default: str | None = None) -> str | None:
        for level in reversed(LEVELS):
            value = self.level(level).get(section, {}).get(key)
            if value is not None:
                return value
        return default

    def notifier_options(self, level: str) -> dict[str, dict[str, str]]:
        """name -> {option: value} of the notifiers, from one file."""
        return notifier_options(self.level(level))

    def executor_options(self, level: str) -> dict[str, str]:
        """The `executor.OPTION` keys of one file."""
        return executor_options(self.level(level))

    def save(self, level: str) -> None:
        write_text_atomic(self.files[level], render(self.level(level)))

    def set(self, level: str, section: str, key: str, value: str | None) -> None:
        sections = self.level(level)
        if value is None:
            if key not in sections.get(section, {}):
                raise ConfigError(f"option '{dotted(section, key)}' is not set.")
            del sections[section][key]
        else:
            sections.setdefault(section, {})[key] = value
        self.save(level)

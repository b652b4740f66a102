"""Notifiers: how a recipe tells the team how its run ended (Slack, a JSON webhook, the
console). Plugins register in the `lode.notifiers` entry-point group, so a team adds one
(e-mail, Teams, ...) without touching the core.

Settings of notifier NAME: the keys `notifier.NAME.OPTION` of the `[feature]` section of
`.dvc/config.local` (the one section where DVC 3 tolerates keys it does not know; it warns
"config option is unsupported" and keeps them), then the environment (a plugin maps options
to variables, e.g. slack's `url` to LODE_SLACK_WEBHOOK_URL), the environment winning.
Non-secret options (timeout, retries) may also sit in the tracked `.dvc/config`; a secret
found there is never used, and reported.

`notify` never raises: a notification that cannot be sent is a warning for the caller,
never the reason a run fails. A secret (a webhook URL) never appears in what it returns.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from typing import ClassVar
from urllib.parse import urlsplit

from lode.config import notifier_options
from lode.errors import LodeError

GROUP = "lode.notifiers"
FALLBACK = "console"
REDACTED = "<redacted>"


class NotifyError(LodeError):
    """A notification that could not be sent; one sentence that names no secret."""


class Notifier:
    """The interface every notifier plugin implements."""

    name: str
    secrets: ClassVar[tuple[str, ...]] = ()  # options that must never be in a tracked file
    options: ClassVar[frozenset[str]] = frozenset()  # what `lode config` accepts for it
    env: ClassVar[dict[str, str]] = {}  # option -> environment variable that overrides it
    # Used when no other notifier is configured (the console); never chosen beside others.
    fallback: ClassVar[bool] = False

    def __init__(self, name: str, settings: dict[str, str]) -> None:
        self.name, self.settings = name, settings

    @classmethod
    def configured(cls, settings: dict[str, str]) -> bool:
        """Whether it can send with these settings without being named explicitly."""
        return False

    @classmethod
    def how_to_configure(cls, name: str) -> str:
        if not cls.env:
            return f"set its options with 'lode config --local notifier.{name}.OPTION VALUE'"
        key, var = next(iter(cls.env.items()))
        return f"set {var} or run 'lode config --local notifier.{name}.{key} VALUE'"

    def send(self, event: dict) -> None:
        """Deliver the event; NotifyError (one sentence) when it cannot."""
        raise NotImplementedError


_broken: dict[str, str] = {}  # entry-point name -> why its plugin could not be loaded


@functools.cache
def plugins() -> dict[str, type[Notifier]]:
    """name -> plugin class, from the installed entry points. A plugin that cannot be
    imported is left out (and named as such when asked for), not an error for everyone."""
    from importlib.metadata import entry_points

    found: dict[str, type[Notifier]] = {}
    for ep in entry_points(group=GROUP):
        try:
            cls = ep.load()
        except Exception as e:  # a third party's import error must not stop a run
            _broken[ep.name] = f"{type(e).__name__}: {e}"
            continue
        if isinstance(cls, type) and issubclass(cls, Notifier):
            found[ep.name] = cls
        else:
            _broken[ep.name] = f"{ep.value} is not a lode.plugins.notifier.Notifier subclass"
    return found


def _is_secret(key: str, plugin: type[Notifier] | None) -> bool:
    from lode.ops.remotes import is_secret

    return is_secret(key, plugin)  # type: ignore[arg-type]  # it only reads .secrets


def settings_for(repo, name: str) -> dict[str, str]:
    """The notifier's options: tracked non-secrets < `.dvc/config.local` < environment."""
    plugin = plugins().get(name)
    settings: dict[str, str] = {}
    if repo is not None:
        tracked = notifier_options(repo.config.level("repo")).get(name, {})
        settings.update((k, v) for k, v in tracked.items() if not _is_secret(k, plugin))
        settings.update(notifier_options(repo.config.level("local")).get(name, {}))
    for key, var in (plugin.env if plugin else {}).items():
        if os.environ.get(var):
            settings[key] = os.environ[var]
    return settings


def tracked_secrets(repo, names: Iterable[str] | None = None) -> list[str]:
    """One sentence per notifier secret sitting in the tracked `.dvc/config` (unused)."""
    if repo is None:
        return []
    found = []
    wanted = None if names is None else set(names)
    for name, options in notifier_options(repo.config.level("repo")).items():
        if wanted is not None and name not in wanted:
            continue
        plugin = plugins().get(name)
        for key in options:
            if _is_secret(key, plugin):
                var = (plugin.env if plugin else {}).get(key)
                where = ".dvc/config.local" + (f" or {var}" if var else "")
                found.append(f"notifier.{name}.{key} is in the tracked .dvc/config and is not "
                             f"used; move it to {where}.")
    return found


def default_via(repo) -> list[str]:
    """The configured notifiers; the console when there is none."""
    chosen = [name for name, cls in sorted(plugins().items())
              if not cls.fallback and cls.configured(settings_for(repo, name))]
    return chosen or [FALLBACK]


def notify(repo, event: dict, via: list[str] | None = None) -> list[str]:
    """Send `event` through each notifier of `via` (None: `default_via`). Never raises:
    returns the problems, one sentence each, for the caller to print as warnings."""
    try:
        names = list(dict.fromkeys(default_via(repo) if via is None else via))
        problems = tracked_secrets(repo, None if via is None else names)
    except Exception as e:  # a broken config must not fail the run it reports on
        return [f"no notification was sent: {scrub(str(e), _all_secrets(repo))}"]
    for name in names:
        problem = _send_one(repo, name, event, already_said=problems)
        if problem:
            problems.append(problem)
    return problems


def _send_one(repo, name: str, event: dict, already_said: list[str]) -> str | None:
    secrets: list[str] = []
    try:
        plugin = plugins().get(name)
        if plugin is None:
            if name in _broken:
                return f"the notifier plugin '{name}' cannot be loaded ({_broken[name]})."
            known = ", ".join(sorted(plugins())) or "none"
            return f"there is no notifier '{name}' (installed: {known})."
        settings = settings_for(repo, name)
        secrets = [settings[k] for k in settings if _is_secret(k, plugin)]
        if not plugin.configured(settings):
            if any(p.startswith(f"notifier.{name}.") for p in already_said):
                return None  # its secret is in the tracked config: said once already
            return (f"the {name} notifier is not configured: "
                    f"{plugin.how_to_configure(name)}.")
        plugin(name, settings).send(event)
        return None
    except NotifyError as e:
        return scrub(f"{name} notification failed: {e}", secrets)
    except Exception as e:  # a plugin's bug is a warning too, never a failed run
        return scrub(f"{name} notification failed: {type(e).__name__}: {e}", secrets)


def _all_secrets(repo) -> list[str]:
    try:
        return [v for n in plugins() for k, v in settings_for(repo, n).items()
                if _is_secret(k, plugins()[n])]
    except Exception:
        return []


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` without any of the secrets, nor the parts of a secret URL that requests
    quotes on their own (the path of a Slack webhook is its credential)."""
    pieces: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        pieces.add(secret)
        if "://" in secret:
            parts = urlsplit(secret)
            tail = parts.path + (f"?{parts.query}" if parts.query else "")
            pieces.update(p for p in (tail, parts.path, parts.query) if len(p) > 1)
            if parts.username or parts.password:
                pieces.add(parts.netloc.rsplit("@", 1)[0])
    for piece in sorted(pieces, key=len, reverse=True):  # the longest first: a URL, then
        text = text.replace(piece, REDACTED)  # its path, so no half of it is left behind
    return text


# ---- formatting shared by the plugins (pure functions)

def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _value(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def format_metric(metric: dict, with_path: bool = False) -> str:
    """`roc_auc 0.861 → 0.874 (+0.013)`; `roc_auc 0.874 (new)` when there was none."""
    name = metric.get("name") or "?"
    if with_path and metric.get("path"):
        name = f"{metric['path']}:{name}"
    old, new = metric.get("old"), metric.get("new")
    if old is None:
        return f"{name} {_value(new)} (new)"
    text = f"{name} {_value(old)} → {_value(new)}"
    if _number(old) and _number(new) and old != new:
        text += f" ({new - old:+.6g})"
    return text


def metric_lines(event: dict) -> list[str]:
    metrics = event.get("metrics") or []
    several_files = len({m.get("path") for m in metrics}) > 1
    return [format_metric(m, with_path=several_files) for m in metrics]


def short_sha(commit: str | None) -> str | None:
    return commit[:8] if commit else None

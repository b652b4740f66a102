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

import email.utils
import functools
import os
import time
from collections.abc import Callable, Iterable
from typing import ClassVar
from urllib.parse import urlsplit

from lode import timefmt
from lode.errors import LodeError
from lode.plugins import Option, Plugin, Registry
from lode.retry import Backoff
from lode.secrets import is_secret

GROUP = "lode.notifiers"
FALLBACK = "console"
REDACTED = "<redacted>"


class NotifyError(LodeError):
    """A notification that could not be sent; one sentence that names no secret."""


class Notifier(Plugin):
    """The interface every notifier plugin implements. Its options (`Option`s, with the
    environment variable that overrides one) are what `lode config notifier.NAME.OPTION`
    accepts; a secret one is never read from, nor written to, the tracked `.dvc/config`."""

    name: str
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


NOTIFIERS: Registry[Notifier] = Registry(GROUP, Notifier, "notifier plugin")
_broken: dict[str, str] = {}  # entry-point name -> why its plugin could not be loaded


@functools.cache
def plugins() -> dict[str, type[Notifier]]:
    """name -> plugin class, from the installed entry points. A plugin that cannot be
    imported is left out (and named as such when asked for), not an error for everyone."""
    found, broken = NOTIFIERS.load_all()
    _broken.update((name, e.why) for name, e in broken.items())
    return found


def _is_secret(key: str, plugin: type[Notifier] | None) -> bool:
    return is_secret(key, plugin.secrets if plugin else ())


def settings_for(repo, name: str) -> dict[str, str]:
    """The notifier's options: tracked non-secrets < `.dvc/config.local` < environment."""
    plugin = plugins().get(name)
    settings: dict[str, str] = {}
    if repo is not None:
        tracked = repo.config.notifier_options("repo").get(name, {})
        settings.update((k, v) for k, v in tracked.items() if not _is_secret(k, plugin))
        settings.update(repo.config.notifier_options("local").get(name, {}))
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
    for name, options in repo.config.notifier_options("repo").items():
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


# ---- the JSON webhook POST that the webhook and Slack plugins share

DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 3
FIRST_WAIT, MAX_WAIT = 0.5, 4.0  # backoff between attempts, seconds
MAX_RETRY_AFTER = 10.0  # a server asking for longer is not waited for that long
DEADLINE = 60.0  # no retry starts past this many seconds after the first attempt


class WebhookNotifier(Notifier):
    """A notifier that POSTs a JSON `payload(event)` to its `url` (see `post_json`)."""

    options = (
        Option("url", "the webhook's URL (a credential)", secret=True, env="LODE_WEBHOOK_URL"),
        Option("timeout", f"seconds per attempt (default {DEFAULT_TIMEOUT:g})"),
        Option("retries", f"attempts after the first (default {DEFAULT_RETRIES})"),
    )

    def __init__(self, name: str, settings: dict[str, str]) -> None:
        super().__init__(name, settings)
        self.url = settings.get("url") or ""
        self.timeout = _positive(settings, "timeout", DEFAULT_TIMEOUT, float)
        self.retries = int(_positive(settings, "retries", DEFAULT_RETRIES, int, zero=True))

    @classmethod
    def configured(cls, settings: dict[str, str]) -> bool:
        return bool(settings.get("url"))

    def payload(self, event: dict) -> dict:
        raise NotImplementedError

    def send(self, event: dict) -> None:
        post_json(self.url, self.payload(event), timeout=self.timeout, retries=self.retries)


def _positive(settings: dict[str, str], key: str, default: float, kind: type,
              zero: bool = False) -> float:
    raw = settings.get(key)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = -1
    if not (value > 0 or (zero and value == 0)):  # NaN too
        what = "a whole number" if kind is int else "a number of seconds"
        raise NotifyError(f"the option {key} = '{raw}' is not {what} above zero.")
    return value


def post_json(url: str, payload: dict, *, timeout: float = DEFAULT_TIMEOUT,
              retries: int = DEFAULT_RETRIES,
              sleep: Callable[[float], None] = time.sleep) -> None:
    """POST `payload` as JSON, retrying what may pass the next time (a connection error, a
    timeout, a 429 or a 5xx; a 429's Retry-After honoured up to a cap), within a deadline.
    Redirects are never followed: the URL is the credential and names the one place the
    report may go. NotifyError, in a sentence that holds neither the URL nor its path,
    when it does not get through."""
    import requests

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotifyError("its url is not an http(s) URL.")
    host = parts.hostname
    policy = Backoff(attempts=retries + 1, first=FIRST_WAIT, cap=MAX_WAIT, deadline=DEADLINE)
    start = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        wait = policy.wait(attempts)
        try:
            r = requests.post(url, json=payload, timeout=timeout, allow_redirects=False,
                              headers={"User-Agent": "lode-notifier"})
        except requests.RequestException as e:
            problem = f"{host} could not be reached ({_why(e)})"
        else:
            status = r.status_code
            if 200 <= status < 300:
                return
            if 300 <= status < 400:
                raise NotifyError(f"the webhook answered {status}, a redirect, which lode "
                                  "does not follow; set its url to the final address.")
            detail = _detail(r)
            problem = f"the webhook answered {status}{detail}"
            if status != 429 and status < 500:
                raise NotifyError(scrub(f"{problem}; not retried.", [url]))
            if status == 429:
                wait = _retry_after(r.headers.get("Retry-After"), wait)
        if not policy.again(attempts, time.monotonic() - start, wait):
            times = "1 attempt" if attempts == 1 else f"{attempts} attempts"
            raise NotifyError(scrub(f"{problem} after {times}.", [url]))
        sleep(wait)


def _detail(r) -> str:
    """Slack explains a refusal in a short token (no_service, invalid_payload): worth
    showing. Anything longer is not, lest it quote the request back."""
    text = (r.text or "").strip()
    return f" ({text})" if 0 < len(text) <= 60 and text.replace("_", "").isalnum() else ""


def _retry_after(value: str | None, default: float) -> float:
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        try:  # or an HTTP date
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return default
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _why(e: BaseException) -> str:
    """What went wrong, in words that do not quote the URL (requests' texts do)."""
    import requests

    if isinstance(e, requests.Timeout):
        return "no answer in time"
    seen: set[int] = set()
    todo: list[BaseException | None] = [e]
    while todo:  # the OSError that says it plainly is buried in urllib3's wrappers
        cur = todo.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.strerror:
            return cur.strerror.lower()
        todo += [cur.__cause__, cur.__context__, getattr(cur, "reason", None)]
        todo += [a for a in cur.args if isinstance(a, BaseException)]
    return type(e).__name__


# ---- formatting shared by the plugins (pure functions)

def format_duration(seconds: float | None) -> str:
    """A run's duration as a message says it: '12.3 s', '1 min 01 s', '?'."""
    return timefmt.format_duration(seconds, words=True)


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

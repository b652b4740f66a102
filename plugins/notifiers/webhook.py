"""A generic JSON webhook (the run's event as it is), and the POST with retries that the
Slack notifier shares.

Options: `url` (a secret: config.local or LODE_WEBHOOK_URL), `timeout` (seconds per
attempt, default 10), `retries` (attempts after the first, default 3). A connection error,
a timeout, a 429 or a 5xx is retried after 0.5 s, 1 s, 2 s ... (a 429's Retry-After is
honoured up to a cap); any other answer but 2xx is final. The whole exchange stays under a
deadline, so a dead endpoint delays the end of a run by seconds, not minutes.

Redirects are never followed, and say so: the URL is the credential and names the one
place the run's report may go. A 301/302/303 would turn the POST into a GET that drops
the payload, and following a 307/308 would send the payload (and any user-info of the
URL as basic auth) to an address nobody configured. Slack's webhooks never redirect.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from lode.plugins.notifier import Notifier, NotifyError, scrub

DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 3
FIRST_WAIT, MAX_WAIT = 0.5, 4.0  # backoff between attempts, seconds
MAX_RETRY_AFTER = 10.0  # a server asking for longer is not waited for that long
DEADLINE = 60.0  # no retry starts past this many seconds after the first attempt


class WebhookNotifier(Notifier):
    secrets = ("url",)
    options = frozenset({"url", "timeout", "retries"})
    env = {"url": "LODE_WEBHOOK_URL"}

    def __init__(self, name: str, settings: dict[str, str]) -> None:
        super().__init__(name, settings)
        self.url = settings.get("url") or ""
        self.timeout = _positive(settings, "timeout", DEFAULT_TIMEOUT, float)
        self.retries = int(_positive(settings, "retries", DEFAULT_RETRIES, int, zero=True))

    @classmethod
    def configured(cls, settings: dict[str, str]) -> bool:
        return bool(settings.get("url"))

    def payload(self, event: dict) -> dict:
        return webhook_payload(event)

    def send(self, event: dict) -> None:
        post_json(self.url, self.payload(event), timeout=self.timeout, retries=self.retries)


def webhook_payload(event: dict) -> dict:
    from lode import __version__

    return {**event, "lode_version": __version__}


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
    """POST `payload` as JSON, retrying what may pass the next time. NotifyError, in a
    sentence that holds neither the URL nor its path, when it does not get through."""
    import requests

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotifyError("its url is not an http(s) URL.")
    host = parts.hostname
    start = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        wait = min(FIRST_WAIT * 2 ** (attempts - 1), MAX_WAIT)
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
        if attempts > retries or time.monotonic() - start + wait > DEADLINE:
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

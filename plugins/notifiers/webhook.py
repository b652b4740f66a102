"""A generic JSON webhook: the run's event as it is, with lode's version.

Options: `url` (a secret: config.local or LODE_WEBHOOK_URL), `timeout` (seconds per
attempt, default 10), `retries` (attempts after the first, default 3). A connection error,
a timeout, a 429 or a 5xx is retried after 0.5 s, 1 s, 2 s ... (a 429's Retry-After is
honoured up to a cap); any other answer but 2xx is final. The whole exchange stays under a
deadline, so a dead endpoint delays the end of a run by seconds, not minutes. The POST is
the plugin API's (lode.plugins.notifier.post_json), shared with the Slack notifier.

Redirects are never followed, and say so: the URL is the credential and names the one
place the run's report may go. A 301/302/303 would turn the POST into a GET that drops
the payload, and following a 307/308 would send the payload (and any user-info of the
URL as basic auth) to an address nobody configured. Slack's webhooks never redirect.
"""

from __future__ import annotations

from lode import __version__
from lode.plugins.notifier import WebhookNotifier as JSONWebhook
from lode.plugins.notifier import _retry_after, post_json

__all__ = ["WebhookNotifier", "_retry_after", "post_json", "webhook_payload"]


class WebhookNotifier(JSONWebhook):
    def payload(self, event: dict) -> dict:
        return webhook_payload(event)


def webhook_payload(event: dict) -> dict:
    return {**event, "lode_version": __version__}

"""Slack through an incoming webhook: a Block Kit message (header, facts, failed step and
error, metric deltas, steps) with a plain `text` fallback for notifications and clients
that show no blocks.

The webhook URL is the credential (anyone holding it can post to the channel): it comes
from LODE_SLACK_WEBHOOK_URL or `.dvc/config.local`, never from a tracked file, and no
message, log line or exception names it. Timeouts and retries: the plugin API's webhook
POST (lode.plugins.notifier.post_json), as for the generic webhook.
"""

from __future__ import annotations

from lode.plugins import Option
from lode.plugins.notifier import WebhookNotifier, format_duration, metric_lines, short_sha

ICONS = {"succeeded": "✅", "failed": "❌", "skipped": "⏭"}
STEP_MARKS = {"ok": "✓", "failed": "✗", "skipped": "–"}
MAX_METRICS = 20  # a message listing hundreds of metrics helps nobody
MAX_ERROR = 1500  # Slack refuses a section text over 3000 characters


class SlackNotifier(WebhookNotifier):
    options = (Option("url", "the incoming webhook's URL (a credential)", secret=True,
                      env="LODE_SLACK_WEBHOOK_URL"),)

    def payload(self, event: dict) -> dict:
        return slack_payload(event)


def _esc(text: object) -> str:
    """Slack's mrkdwn reads &, < and > as markup (<url|link>, <!channel>)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    text = text if len(text) <= MAX_ERROR else "…" + text[-MAX_ERROR:]  # the end says most
    return "```" + _esc(text).replace("```", "`\u200b``") + "```"


def title(event: dict) -> str:
    outcome = event.get("outcome") or "finished"
    return f"{ICONS.get(outcome, 'ℹ️')} {event.get('recipe') or 'recipe'} {outcome}"


def fallback_text(event: dict) -> str:
    """One line: what a phone notification or a client without blocks shows."""
    text = title(event)
    if event.get("host"):
        text += f" on {event['host']}"
    if event.get("duration") is not None:
        text += f" in {format_duration(event['duration'])}"
    if event.get("outcome") == "failed" and (event.get("failed_step") or event.get("error")):
        text += f" at {event.get('failed_step') or '?'}"
        if event.get("error"):
            text += f": {event['error'].splitlines()[0][:200]}"
    lines = metric_lines(event)
    if lines and event.get("outcome") != "failed":
        text += " — " + ", ".join(lines[:3]) + (" …" if len(lines) > 3 else "")
    return _esc(text)


def _facts(event: dict) -> list[dict]:
    commit = short_sha(event.get("commit"))
    branch = _esc(event.get("branch") or "")
    if commit:
        where = f"`{commit}` on {branch}" if branch else f"`{commit}`"
    else:
        where = f"none (branch {branch})" if branch else "none"
    facts = [("Project", _esc(event.get("project") or "?")),
             ("Host", _esc(event.get("host") or "?")),
             ("Duration", format_duration(event.get("duration"))),
             ("Commit", where)]
    return [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in facts]


def slack_payload(event: dict) -> dict:
    """The JSON body for Slack's incoming webhook, built from a run's event."""
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(event)[:150],
                                    "emoji": True}},
        {"type": "section", "fields": _facts(event)},
    ]
    step, error = event.get("failed_step"), event.get("error")
    if step or error:
        label = "Reason" if event.get("outcome") == "skipped" else "Failed step"
        text = f"*{label}:* `{_esc(step)}`" if step else f"*{label}:*"
        if error:
            text += "\n" + _code(error)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    lines = metric_lines(event)
    if lines:
        shown = [_esc(line) for line in lines[:MAX_METRICS]]
        if len(lines) > MAX_METRICS:
            shown.append(f"… and {len(lines) - MAX_METRICS} more")
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": "*Metrics*\n" + "\n".join(shown)}})
    context = []
    steps = event.get("steps") or []
    if steps:
        context.append("  ".join(f"{_esc(s)} {STEP_MARKS.get(st, _esc(st))}" for s, st in steps))
    if event.get("run_id"):
        context.append(f"run {_esc(event['run_id'])}")
    if context:
        blocks.append({"type": "context",
                       "elements": [{"type": "mrkdwn", "text": c[:3000]} for c in context]})
    return {"text": fallback_text(event), "blocks": blocks}

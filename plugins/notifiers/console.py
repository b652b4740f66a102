"""The console notifier: a short summary on standard output, used when no other notifier
is configured (a detached run's summary then lands in its log)."""

from __future__ import annotations

import sys

from lode.plugins.notifier import Notifier, format_duration, metric_lines, short_sha


class ConsoleNotifier(Notifier):
    fallback = True

    @classmethod
    def configured(cls, settings: dict[str, str]) -> bool:
        return True

    def send(self, event: dict) -> None:
        sys.stdout.write(console_text(event))
        sys.stdout.flush()


def console_text(event: dict) -> str:
    recipe = event.get("recipe") or "recipe"
    head = f"lode: {recipe} {event.get('outcome') or 'finished'}"
    if event.get("duration") is not None:
        head += f" in {format_duration(event['duration'])}"
    where = [x for x in (event.get("project"), event.get("host")) if x]
    if where:
        head += f" ({' on '.join(where)})"
    lines = [head]
    step, error = event.get("failed_step"), event.get("error")
    if step or error:
        label = "reason" if event.get("outcome") == "skipped" else "failed step"
        said = " — ".join(str(x) for x in (step, error) if x)
        lines.append(f"  {label}: " + said.replace("\n", "\n    "))
    metrics = metric_lines(event)
    if metrics:
        lines.append("  metrics: " + metrics[0])
        lines += [f"           {m}" for m in metrics[1:]]
    commit = short_sha(event.get("commit"))
    if commit:
        branch = event.get("branch")
        lines.append(f"  commit: {commit}" + (f" on {branch}" if branch else ""))
    if event.get("run_id"):
        lines.append(f"  run: {event['run_id']}")
    return "\n".join(lines) + "\n"

"""Durations as people read them: the one formatter, for tables (`lode runs`, the end of
a run) and for messages (notifications)."""

from __future__ import annotations


def format_duration(seconds: float | None, words: bool = False) -> str:
    """A table's `0.4s`, `12s`, `3m05s`, `2h07m` ('-' when unknown); with `words`, a
    message's `0.4 s`, `12.3 s`, `3 min 05 s`, `2 h 07 min` ('?' when unknown)."""
    if words:
        return _in_words(seconds)
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def _in_words(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"

"""Reports over a repository's history: metrics, params, and how they changed.

Operations here return data shaped like DVC 3's (`dvc metrics show --json` and friends)
and never print; lode/cli/reports.py renders them. Every revision is read through a
`revisions.Tree`, so the workspace and any Git commit go through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lode.errors import LodeError


class ReportError(LodeError):
    """A report that cannot be made as asked (a target outside the repository, ...)."""


@dataclass
class Report:
    """What an operation found (`data`, DVC's JSON shape) and what it could not read
    (`warnings`, one sentence each, for the CLI to print)."""

    data: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def error_record(exc: BaseException | str, kind: str | None = None) -> dict[str, Any]:
    """DVC's JSON for a failure (`{"error": {"type": ..., "msg": ...}}`)."""
    if isinstance(exc, str):
        return {"error": {"type": kind or "LodeError", "msg": exc}}
    return {"error": {"type": kind or type(exc).__name__, "msg": str(exc)}}

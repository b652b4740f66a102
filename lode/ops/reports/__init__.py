"""Reports over a repository's history: metrics, params, and how they changed.

Operations here return data shaped like DVC 3's (`dvc metrics show --json` and friends)
and never print; lode/cli/reports.py renders them. Every revision is read through a
`revisions.Tree`, so the workspace and any Git commit go through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lode.errors import LodeError
from lode.ops.reports.compare import diff
from lode.pipeline.revisions import WORKSPACE, Scm


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


def load_revision(tree, label: str, what: str, gather) -> tuple[dict[str, Any], list[str]]:
    """`{"data": gather(tree)}` and a warning for each file that failed. A pipeline that
    cannot be parsed in the workspace is the user's to fix now, so that raises; in
    history it is only reported, as `{"error": ...}`, and the report goes on."""
    at = "in the workspace" if tree.name == WORKSPACE else f"at revision '{label}'"
    try:
        files = gather(tree)
    except LodeError as e:
        if tree.name == WORKSPACE:
            raise
        return error_record(e), [f"cannot read {what} {at}: {e}"]
    warnings = [f"cannot read {what} {at}: {r['error']['msg']}" for r in files.values()
                if "error" in r]
    return {"data": files}, warnings


def diff_revisions(repo, a_rev: str, b_rev: str, what: str, gather, all: bool) -> Report:  # noqa: A002
    """Compare what `gather(tree)` finds at two revisions (DVC's `diff --json` shape);
    {} in a repository without commits, as DVC."""

    warnings: list[str] = []
    with Scm(repo) as scm:
        if not scm.has_commits():
            return Report({})
        sides = []
        for rev in (a_rev, b_rev):
            result, found = load_revision(scm.tree(rev), rev, what, gather)
            sides.append(result.get("data", {}))
            warnings.extend(found)
    return Report(diff(sides[0], sides[1], with_unchanged=all), warnings)

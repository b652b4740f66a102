"""lode report (being written)."""

from __future__ import annotations


def configure_report(p) -> None:
    pass


def run_report(args) -> int:
    raise NotImplementedError

"""lode plots (being written)."""

from __future__ import annotations


def configure_plots(p) -> None:
    pass


def run_plots(args) -> int:
    raise NotImplementedError

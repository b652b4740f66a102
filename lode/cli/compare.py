"""lode compare (being written)."""

from __future__ import annotations


def configure_compare(p) -> None:
    pass


def run_compare(args) -> int:
    raise NotImplementedError

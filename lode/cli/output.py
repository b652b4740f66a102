"""Printing helpers shared by the command modules (operations never print)."""

from __future__ import annotations

import sys


def say(args, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text)


def warn(text: str) -> None:
    print(f"WARNING: {text}", file=sys.stderr)

"""Keep `/name` lines in the `.gitignore` beside each tracked output, as `dvc add` does."""

from __future__ import annotations

import os
import re

from lode.atomic import write_text_atomic

_SPECIAL = re.compile(r"([\\*?\[\]!#])")


def entry_for(name: str) -> str:
    """The line that ignores exactly `name` in its own directory (Git pattern syntax)."""
    return "/" + _SPECIAL.sub(r"\\\1", name)  # DVC escapes these, not spaces


def git_ignores(root: str, path: str) -> bool:
    """Whether Git already ignores `path` (then DVC adds no line, and neither do we)."""
    import subprocess

    try:
        r = subprocess.run(
            ["git", "check-ignore", "-q", "--", os.path.relpath(path, root)],
            cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    except OSError:
        return False
    return r.returncode == 0


def ensure_ignored(path: str) -> bool:
    """Add the entry for `path` to its directory's .gitignore; return True if written."""
    directory, name = os.path.split(path)
    gi = os.path.join(directory, ".gitignore")
    line = entry_for(name)
    try:
        with open(gi, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    if line in text.splitlines():
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    write_text_atomic(gi, text + line + "\n")
    return True

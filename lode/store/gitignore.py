"""Keep `/name` lines in the `.gitignore` beside each tracked output, as `dvc add` does."""

from __future__ import annotations

import os
import re

from lode import git
from lode.atomic import write_text_atomic

_SPECIAL = re.compile(r"([\\*?\[\]!#])")


def entry_for(name: str) -> str:
    """The line that ignores exactly `name` in its own directory (Git pattern syntax)."""
    return "/" + _SPECIAL.sub(r"\\\1", name)  # DVC escapes these, not spaces


def git_ignores(root: str, path: str) -> bool:
    """Whether Git already ignores `path` (then DVC adds no line, and neither do we)."""
    try:
        return git.probe("check-ignore", "-q", "--", os.path.relpath(path, root),
                         cwd=root).returncode == 0
    except git.GitMissing:
        return False


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


def _listed(path: str) -> bool:
    directory, name = os.path.split(path)
    try:
        with open(os.path.join(directory, ".gitignore"), encoding="utf-8",
                  errors="surrogateescape") as f:
            return entry_for(name) in f.read().splitlines()
    except FileNotFoundError:
        return False


def ensure_all_ignored(root: str, paths: list[str]) -> list[str]:
    """`ensure_ignored` for many outputs with one `git check-ignore` for those not yet
    listed; the .gitignore files written."""
    todo = [p for p in dict.fromkeys(paths) if not _listed(p)]
    if not todo:
        return []
    try:
        r = git.probe("check-ignore", "--stdin", "-z", cwd=root,
                      input=b"\0".join(os.fsencode(os.path.relpath(p, root)) for p in todo))
        ignored = {os.path.join(root, os.fsdecode(p)) for p in r.stdout.split(b"\0") if p}
    except git.GitMissing:
        ignored = set()
    written = []
    for p in todo:
        if p not in ignored and ensure_ignored(p):
            written.append(os.path.join(os.path.dirname(p), ".gitignore"))
    return written

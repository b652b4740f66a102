"""The one Git wrapper: `git` as a subprocess for commands, GitPython for reading history.

Every module that talks to Git goes through here, so that a missing `git`, a failed
command and the message a user reads are handled once. Callers that own a better
sentence (a recipe step, a template, a worker's source check) catch `GitFailed` and say
it in their words; the facts (which command, Git's own last line) come from here.
"""

from __future__ import annotations

import subprocess
from typing import Any

from lode.errors import LodeError


class GitMissing(LodeError):
    """`git` is not on PATH."""

    def __init__(self, why: str = "") -> None:
        super().__init__("git is not installed" + (f"; {why}" if why else "") + ".")


class GitFailed(LodeError):
    """A git command exited non-zero; `last` is the line of its error output that says
    what to do (GitPython's and git's hints stripped)."""

    def __init__(self, args: tuple[str, ...], stderr: str, returncode: int) -> None:
        self.command = args[0] if args else "git"
        self.stderr = stderr
        self.returncode = returncode
        self.last = last_message(stderr) or "no message"
        super().__init__(f"git {self.command} failed: {self.last}")


class NotAGitRepo(LodeError):
    pass


def last_message(text: str) -> str:
    """The last meaningful line git printed: not a hint, not GitPython's framing."""
    lines = [ln.strip().removeprefix("stderr: ").strip("'").strip()
             for ln in (text or "").strip().splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("hint:")]
    return lines[-1] if lines else ""


def probe(*args: str, cwd: str | None = None, input: str | bytes | None = None,
          why: str = "") -> subprocess.CompletedProcess:
    """git ARGS with its output captured, whatever its exit code: text, or bytes when
    `input` is bytes (paths that are not UTF-8); GitMissing (saying `why` git is needed)
    when git itself is missing."""
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True,
                              text=not isinstance(input, bytes), input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)
    except (FileNotFoundError, NotADirectoryError):
        raise GitMissing(why) from None


def run(*args: str, cwd: str | None = None, input: str | None = None, why: str = "") -> str:
    """git ARGS' standard output; GitFailed when it exits non-zero."""
    proc = probe(*args, cwd=cwd, input=input, why=why)
    if proc.returncode != 0:
        raise GitFailed(args, proc.stderr, proc.returncode)
    return proc.stdout


def output(*args: str, cwd: str | None = None, strip: bool = True,
           why: str = "") -> str | None:
    """git ARGS' standard output (stripped unless told); None when it fails (a question,
    not a step)."""
    proc = probe(*args, cwd=cwd, why=why)
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() if strip else proc.stdout


def open_repo(root: str, search_parent: bool = False, what: str = "") -> Any:
    """A GitPython Repo (imported on first use: start-up is measured). NotAGitRepo,
    saying `what` needed it, outside Git. Close it: it keeps `git cat-file` processes."""
    import git

    try:
        return git.Repo(root, search_parent_directories=search_parent)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise NotAGitRepo(what or f"'{root}' is not a Git repository.") from None


def execute(repo: Any, *args: str) -> str:
    """git ARGS through an open GitPython Repo; GitFailed as `run` raises it."""
    import git

    try:
        return repo.git.execute(["git", *args])
    except git.GitCommandError as e:
        raise GitFailed(args, getattr(e, "stderr", "") or str(e), e.status or 1) from None


def commit_of(repo: Any, rev: str) -> Any | None:
    """The commit `rev` names (branch, tag, sha, HEAD~2, ...), or None when it names none."""
    from gitdb.exc import BadName, BadObject

    try:
        return repo.commit(rev)
    except (BadName, BadObject, ValueError):
        return None

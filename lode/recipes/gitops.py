"""The Git side of a recipe, through GitPython: is the workspace clean, commit exactly
these files, push the branch. Git's own messages are kept: they say what to do."""

from __future__ import annotations

import os

from lode import git
from lode.recipes import RecipeError


class GitStepError(RecipeError):
    pass


def open_repo(root: str):
    try:
        return git.open_repo(root)
    except git.NotAGitRepo:
        raise GitStepError(f"'{root}' is not a Git repository; this recipe step needs "
                           "Git.") from None


def run_git(repo, *args: str) -> str:
    try:
        return git.execute(repo, *args)
    except git.GitFailed as e:
        raise GitStepError(str(e)) from None


def changes(repo, untracked: bool) -> tuple[list[str], list[str]]:
    """(modified tracked files, untracked files) as `git status` sees them, paths relative
    to the top. What `git diff --quiet HEAD` checks, plus untracked ones on request."""
    out = run_git(repo, "status", "--porcelain=v1", "-z",
                  "--untracked-files=" + ("all" if untracked else "no"))
    modified, new = [], []
    entries = out.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":  # a rename is followed by its source path
            i += 1
        (new if code == "??" else modified).append(path)
    return modified, new


def changed_among(repo, paths: list[str]) -> list[str]:
    """The paths (relative to the top) that differ from HEAD, new ones included."""
    if not paths:
        return []
    out = run_git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--",
                  *paths)
    found = []
    for entry in out.split("\0"):
        if len(entry) >= 4:
            found.append(entry[3:])
    return found


def head(repo) -> str | None:
    try:
        return repo.head.commit.hexsha
    except ValueError:  # no commit yet
        return None


def branch(repo) -> str | None:
    """The checked-out branch, None on a detached HEAD."""
    try:
        return repo.active_branch.name
    except TypeError:
        return None


def commit_paths(repo, paths: list[str], message: str) -> str:
    """Stage and commit exactly `paths` (other staged changes stay staged, out of this
    commit); the new commit's sha."""
    run_git(repo, "add", "--", *paths)
    # whitespace cleanup whatever commit.cleanup says: no line of the message is dropped
    # (as `#` lines would be under strip) and none is taken as the end of it (scissors)
    run_git(repo, "commit", "-q", "--cleanup=whitespace", "-m", message, "--only", "--",
            *paths)
    return repo.head.commit.hexsha


def push_target(repo, remote: str | None, branch_name: str | None) -> tuple[str, str]:
    """(remote, branch) to push to: the options, else the branch's upstream, else origin
    and the branch's own name."""
    current = branch(repo)
    if branch_name is None and current is None:
        raise GitStepError("HEAD is detached; check out a branch or give git_push a branch.")
    branch_name = branch_name or current
    if remote is None:
        tracking = repo.active_branch.tracking_branch() if current else None
        remote = tracking.remote_name if tracking is not None else "origin"
    if remote not in [r.name for r in repo.remotes]:
        raise GitStepError(f"the Git remote '{remote}' is not configured.",
                           f"Add it: 'git remote add {remote} URL'.")
    return remote, branch_name


def push(repo, remote: str, branch_name: str) -> None:
    """Push HEAD to `remote`'s `branch_name`; a branch with no upstream yet gets this one
    (as `git push -u`), so later plain `git pull`s know where to look."""
    current = branch(repo)
    upstream = current == branch_name and repo.active_branch.tracking_branch() is None
    run_git(repo, "push", "--porcelain", *(["-u"] if upstream else []), remote,
            f"HEAD:refs/heads/{branch_name}")


def toplevel_rel(repo, path: str) -> str:
    return os.path.relpath(path, repo.working_tree_dir)

"""Where workers get what they run: the code from a Git remote at a pinned commit (or a
branch a schedule follows), the data from a remote in the tracked .dvc/config. Shared by
`lode repro --executor` and `lode export argo`: both refuse, before anything runs, what
their workers could not see."""

from __future__ import annotations

import os
import re

from lode import git
from lode.plugins.executor import ExecutorError


class SourceError(ExecutorError):
    """The workers could not get the code or the data this workspace has."""


WHY = "workers run a Git commit"  # what a missing git is told


def _git(root: str, *args: str, strip: bool = True) -> str | None:
    """git's stdout (stripped); None when it fails."""
    return git.output(*args, cwd=root, strip=strip, why=WHY)


def dirty(root: str) -> list[str]:
    """Tracked files that differ from HEAD, but dvc.lock and .gitignore: workers take
    every lock entry from the commit and from upstream results, and a repro here edits
    both."""
    out = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=no",
               strip=False) or ""
    paths = [e[3:] for e in out.split("\0") if len(e) > 3]
    return [p for p in paths if os.path.basename(p) not in ("dvc.lock", ".gitignore")]


def _dvcfiles_differ(root: str, a: str, b: str) -> bool:
    return _git(root, "diff", "--quiet", a, b, "--", ":(glob)**/dvc.yaml") is None


def git_source(root: str, repo_url: str | None, rev: str | None, cron: bool = False,
               fallback: str | None = None) -> tuple[str, str | None, str | None]:
    """(the URL workers clone, the commit's SHA or None for a schedule, the branch).

    A run pins a commit (default HEAD), which must be on the remote; a schedule follows a
    branch (default the current branch's upstream), resolved once per run. `fallback`:
    the URL to use when there is no Git remote (workers that see this machine's files)."""
    head = _git(root, "rev-parse", "--verify", "-q", "HEAD^{commit}")
    if head is None:
        raise SourceError("the repository has no commit yet; commit and push the pipeline "
                          "first.")
    branch = _git(root, "symbolic-ref", "-q", "--short", "HEAD")
    remote = up_branch = None
    if branch:
        remote = _git(root, "config", f"branch.{branch}.remote")
        merge = _git(root, "config", f"branch.{branch}.merge") or ""
        up_branch = merge.removeprefix("refs/heads/") or None
    remotes = (_git(root, "remote") or "").split()
    if remote not in remotes:
        remote, up_branch = ("origin" if "origin" in remotes else None), None
    if repo_url:
        # the remote with this URL, if one is configured, is where to check the commit
        remote = next((r for r in remotes if _git(root, "remote", "get-url", r) == repo_url),
                      None)
    elif remote:
        repo_url = _git(root, "remote", "get-url", remote)
    if not repo_url and fallback:
        repo_url = fallback
    if not repo_url:
        raise SourceError("there is no Git remote for the workers to clone: the branch has "
                          "no upstream and there is no 'origin'.",
                          "Pass --repo URL, or 'git remote add origin URL' and push.")
    if not re.match(r"[^/]+://|[^/]+@[^/]+:", repo_url):  # a path: relative to the root
        repo_url = os.path.normpath(os.path.join(root, repo_url))
    changed = dirty(root)
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more"
                                          if len(changed) > 5 else "")
        raise SourceError(f"uncommitted changes in {shown}, and the workers run the "
                          "committed pipeline.", "Commit and push first.")
    if cron:
        follow = rev or up_branch or branch
        if not follow:
            raise SourceError("HEAD is detached, so there is no branch for the schedule to "
                              "follow.", "Pass --rev BRANCH.")
        if remote:
            tip = f"refs/remotes/{remote}/{follow}"
            if _git(root, "rev-parse", "--verify", "-q", tip) is None:
                raise SourceError(f"branch '{follow}' is not on the remote '{remote}'.",
                                  "Push it first: git push -u " + f"{remote} {follow}.")
            if _dvcfiles_differ(root, "HEAD", tip):
                raise SourceError(f"the stages here differ from those on {remote}/{follow}, "
                                  "which the schedule runs.", "Push or pull first.")
        return repo_url, None, follow
    sha = _git(root, "rev-parse", "--verify", "-q", f"{rev or 'HEAD'}^{{commit}}")
    if sha is None:
        raise SourceError(f"'{rev}' names no commit of this repository.")
    if sha != head and _dvcfiles_differ(root, "HEAD", sha):
        raise SourceError(f"the stages at '{rev}' differ from those here, and the DAG is "
                          "made from these.", f"Check out {rev} and export from there.")
    if not remote:  # a --repo no remote of ours points at: nothing to check it against
        return repo_url, sha, branch
    on = (_git(root, "branch", "-r", "--contains", sha, "--format=%(refname:short)") or "")
    on_remote = [b.removeprefix(f"{remote}/") for b in on.split()
                 if b.startswith(f"{remote}/") and b != f"{remote}/HEAD"]
    if not on_remote:
        raise SourceError(f"commit {sha[:8]} is not on the remote '{remote}' ({repo_url}), "
                          "where the workers clone from.", "Push it first: git push.")
    for candidate in (up_branch, branch):
        if candidate in on_remote:
            return repo_url, sha, candidate
    return repo_url, sha, on_remote[0]


def tracked_remote(repo, name: str | None) -> tuple[str, str]:
    """(name, URL) of the data remote `name` (default: core.remote) as workers see it:
    from the tracked .dvc/config only (credentials stay in the environment)."""
    tracked = repo.config.level("repo")
    name = name or repo.config.get("core", "remote")
    if not name:
        raise SourceError("there is no default data remote, and the workers pass data only "
                          "through one.", "Add one: lode remote add -d NAME URL, and commit "
                          ".dvc/config.")
    url = tracked.get(f'remote "{name}"', {}).get("url")
    default = tracked.get("core", {}).get("remote")
    if not url or (default != name and repo.config.get("core", "remote") == name):
        raise SourceError(f"the data remote '{name}' is set in .dvc/config.local, which the "
                          "workers do not get.", "Set it in .dvc/config and commit it.")
    if "://" not in url and not os.path.isabs(url):  # DVC reads it from .dvc/
        raise SourceError(f"the data remote '{name}' is a relative path ({url}), which "
                          "means another directory in a worker's clone.",
                          f"Make it absolute: lode remote modify {name} url "
                          f"{os.path.abspath(os.path.join(repo.dvc_dir, url))}")
    return name, url

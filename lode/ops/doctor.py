"""`lode doctor`: findings about the repository's setup, each a problem to fix: secrets in
the tracked `.dvc/config` (remote or notifier), a `.dvc/config.local` Git does not ignore."""

from __future__ import annotations

import os

from lode.ops.remotes import listing, tracked_secrets
from lode.plugins.notifier import tracked_secrets as notifier_secrets
from lode.store import gitignore


class Findings:
    def __init__(self, problems: list[str], remotes: list[str], default: str | None) -> None:
        self.problems, self.remotes, self.default = problems, remotes, default


def doctor(repo) -> Findings:
    problems = [
        f"{name} is a secret in the tracked .dvc/config: move it with 'lode remote modify "
        "--local' and remove it from Git history."
        for name in tracked_secrets(repo)
    ]
    # a webhook URL in Git lets anyone who can read the repository post to the channel
    problems += [f"{p[:-1]} and remove it from Git history." for p in notifier_secrets(repo)]
    local = os.path.join(repo.dvc_dir, "config.local")
    if os.path.exists(local) and not gitignore.git_ignores(repo.root, local):
        problems.append(".dvc/config.local is not ignored by Git: secrets in it could be "
                        "committed (add '/config.local' to .dvc/.gitignore).")
    return Findings(problems, [n for n, _ in listing(repo)], repo.config.get("core", "remote"))

"""`lode status -c`: which objects are only local ("new"), only on the remote ("deleted"),
or in neither ("missing"), by the workspace path that uses them, as DVC reports it."""

from __future__ import annotations

import os

from lode.ops.used import Used, expand
from lode.plugins.remote import Remote
from lode.store.transfer import exists_by_dirs, object_key


def cloud_status(repo, remote: Remote, used: Used) -> dict[str, str]:
    inner, _ = expand(repo, used)
    objects = sorted(inner | used.files | used.dirs)
    on_remote = exists_by_dirs(repo, remote, used.dirs, sorted(inner | used.files))
    report: dict[str, str] = {}
    for md5 in objects:
        local, there = repo.objects.exists(md5), object_key(md5) in on_remote
        if local and there:
            continue
        state = "new" if local else "deleted" if there else "missing"
        path = os.path.relpath(os.path.join(repo.root, used.paths.get(md5, md5)))
        report[path] = state
    return report

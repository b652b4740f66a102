"""`lode cache verify`: rehash every object and name each whose bytes do not match its name;
the stat cache then forgets every row that vouched for a corrupt one."""

from __future__ import annotations

import os

from lode.parallel import parallel_map
from lode.store.hashinfo import content_md5
from lode.store.hashing import md5_file
from lode.store.statcache import stat_key


def verify_cache(repo) -> tuple[int, list[tuple[str, str]]]:
    """Return (objects checked, [(md5, path) of corrupt ones])."""
    objects = list(repo.objects.iter_objects())

    def check(item):
        md5, path = item
        try:
            st = stat_key(os.stat(path))
            return md5, path, st, md5_file(path) == content_md5(md5)
        except OSError:
            return md5, path, None, False

    results = parallel_map(check, objects, "Verifying cache")
    corrupt = [(m, p) for m, p, _, ok in results if not ok]
    # Rows written before the damage (by checkout, by an earlier verify, for workspace
    # files hardlinked to the object) would still vouch for it when its stat survived the
    # rewrite: a later checkout would link it out unread, status call its copies clean.
    repo.stat.forget(m for m, _ in corrupt)
    repo.stat.put_trusted((p, st, m) for m, p, st, ok in results if ok)
    return len(objects), corrupt

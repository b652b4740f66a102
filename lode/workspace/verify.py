"""`lode cache verify`: rehash every object and name each whose bytes do not match its name."""

from __future__ import annotations

import os

from lode.cache import content_md5
from lode.hashing import md5_file
from lode.parallel import parallel_map
from lode.statcache import stat_key


def verify_cache(repo) -> tuple[int, list[tuple[str, str]]]:
    """Return (objects checked, [(md5, path) of corrupt ones])."""
    objects = list(repo.odb.iter_objects())

    def check(item):
        md5, path = item
        try:
            st = stat_key(os.stat(path))
            return md5, path, st, md5_file(path) == content_md5(md5)
        except OSError:
            return md5, path, None, False

    results = parallel_map(check, objects, "Verifying cache")
    repo.stat.put_trusted((p, st, m) for m, p, st, ok in results if ok)
    return len(objects), [(m, p) for m, p, _, ok in results if not ok]

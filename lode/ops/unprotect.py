"""`lode unprotect`: turn linked, read-only workspace files into private writable copies."""

from __future__ import annotations

import os
import shutil
import stat as stat_mod

from lode.atomic import tmp_name
from lode.errors import TargetError


def unprotect(repo, targets: list[str]) -> list[str]:
    done = []
    for target in targets:
        path = repo.resolve(target)
        if not os.path.lexists(path):
            raise TargetError(f"'{target}' does not exist.")
        if os.path.isdir(path) and not os.path.islink(path):
            for dirpath, _, files in os.walk(path):
                for name in files:
                    if _unprotect_file(os.path.join(dirpath, name)):
                        done.append(repo.rel(os.path.join(dirpath, name)))
        elif _unprotect_file(path):
            done.append(repo.rel(path))
    return done


def _unprotect_file(path: str) -> bool:
    st = os.lstat(path)
    linked = stat_mod.S_ISLNK(st.st_mode) or st.st_nlink > 1
    if not linked and st.st_mode & stat_mod.S_IWUSR:
        return False
    tmp = tmp_name(path)
    try:
        shutil.copyfile(path, tmp)  # follows a symlink: the copy holds the object's bytes
        mode = os.stat(path).st_mode
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, (0o777 if mode & stat_mod.S_IXUSR else 0o666) & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True

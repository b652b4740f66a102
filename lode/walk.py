"""List the files of a tracked directory, as DVC sees them.

Symlinks inside a tracked directory are followed when they point to a file: the target's
bytes are tracked under the link's name (and come back as a regular file on checkout),
which is what DVC does. A symlink to a directory, or a dangling one, is refused with the
link's name: following directories risks cycles and silently tracking data from outside
the directory. Empty directories hold no files and are not recorded (DVC's manifest has
files only).
"""

from __future__ import annotations

import os
import stat as stat_mod
from collections.abc import Callable

from lode.errors import TargetError
from lode.statcache import Stat

FileRow = tuple[str, str, Stat]  # (posix relpath, absolute path, stat key)


def walk_files(top: str, ignored: Callable[[str, bool], bool] | None = None) -> list[FileRow]:
    rows: list[FileRow] = []
    stack = [("", top)]
    while stack:
        rel_dir, abs_dir = stack.pop()
        try:
            it = os.scandir(abs_dir)
        except PermissionError as e:
            raise TargetError(f"cannot read directory '{abs_dir}': permission denied.") from e
        with it:
            for entry in it:
                rel = rel_dir + entry.name
                if entry.is_dir(follow_symlinks=False):
                    if ignored is None or not ignored(rel, True):
                        stack.append((rel + "/", entry.path))
                    continue
                if ignored is not None and ignored(rel, False):
                    continue
                if entry.is_symlink():
                    try:
                        st = os.stat(entry.path)
                    except OSError:
                        raise TargetError(f"'{entry.path}' is a dangling symlink.") from None
                    if not stat_mod.S_ISREG(st.st_mode):
                        raise TargetError(
                            f"'{entry.path}' is a symlink to a directory, which lode does not "
                            "follow inside a tracked directory.",
                            "Replace it with the directory itself, or add it to .dvcignore.",
                        )
                else:
                    st = entry.stat(follow_symlinks=False)
                    if not stat_mod.S_ISREG(st.st_mode):
                        continue  # sockets, fifos, devices hold no data to version
                rows.append((rel, entry.path, (st.st_ino, st.st_size, st.st_mtime_ns)))
    return rows

"""List the files of a tracked directory, as DVC sees them.

Symlinks inside a tracked directory are handled exactly as DVC 3 handles them, so both
tools compute the same manifest: a link to a file is followed (the target's bytes are
tracked under the link's name and come back as a regular file on checkout); a link to a
directory is left out (not followed, so no cycles and no data from elsewhere); a dangling
link is an error naming it. Names that are not valid UTF-8 are refused, as DVC refuses
them: a manifest has no portable way to spell them. Empty directories hold no files and
are not recorded (DVC's manifest lists files only). `.git` (file or directory), and `.hg`
and `.dvc` directories, are left out everywhere, as DVC's default ignore rules leave them
out: a cloned repository inside a dataset brings no Git internals into the manifest, and
no manifest can name a path inside a `.git`.
"""

from __future__ import annotations

import os
import stat as stat_mod
from collections.abc import Callable

from lode.errors import TargetError
from lode.store.statcache import Stat

_ALWAYS_IGNORED = (".git", ".hg", ".dvc")
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
                if not rel.isascii():
                    check_utf8(entry.path)
                if entry.name in _ALWAYS_IGNORED and (
                    entry.name == ".git" or entry.is_dir(follow_symlinks=False)
                ):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if ignored is None or not ignored(rel, True):
                        stack.append((rel + "/", entry.path))
                    continue
                if ignored is not None and ignored(rel, False):
                    continue
                if entry.name == ".dvcignore":
                    raise TargetError(
                        f"'{entry.path}' is a .dvcignore inside a tracked directory, which DVC "
                        "refuses too.",
                        "Move its patterns to a .dvcignore above the directory.",
                    )
                if entry.is_symlink():
                    try:
                        st = os.stat(entry.path)
                    except OSError:
                        raise TargetError(f"'{entry.path}' is a dangling symlink.") from None
                    if not stat_mod.S_ISREG(st.st_mode):
                        continue  # a link to a directory: not followed, as in DVC
                else:
                    st = entry.stat(follow_symlinks=False)
                    if not stat_mod.S_ISREG(st.st_mode):
                        continue  # sockets, fifos, devices hold no data to version
                rows.append((rel, entry.path, (st.st_ino, st.st_size, st.st_mtime_ns)))
    return rows


def check_utf8(path: str) -> None:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise TargetError(
            f"'{shown}' has a name that is not valid UTF-8, which DVC's formats cannot record.",
            "Rename it (e.g. with convmv), or list it in .dvcignore.",
        ) from None

"""`.dvcignore`: gitignore-syntax patterns that hide files from tracked directories.

Patterns come from `.dvcignore` files in the repository root and in any directory on the
way down to a tracked directory (each relative to its own directory, as in DVC). The
pathspec library implements Git's matching rules; it is imported only when some
`.dvcignore` has a pattern, which the default file (comments only) does not.
"""

from __future__ import annotations

import os

from lode.errors import MalformedError

IGNORE_FILE = ".dvcignore"


def _read(path: str, root: str) -> str:
    """The file's text ("" when there is none); MalformedError when it is not text."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (FileNotFoundError, NotADirectoryError):
        return ""
    where = os.path.relpath(path, root)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise MalformedError(f"{where} line {line} is not UTF-8 text.") from None
    if "\x00" in text:  # no file name holds one: the file is not what it claims to be
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise MalformedError(f"{where} line {line} holds a NUL byte.")
    return text


class Ignore:
    def __init__(self, root: str) -> None:
        self.root = root
        self._specs: dict[str, object | None] = {}

    def _spec(self, directory: str):
        if directory not in self._specs:
            spec = None
            path = os.path.join(directory, IGNORE_FILE)
            lines = [ln for ln in _read(path, self.root).splitlines() if ln.strip()]
            if any(not ln.lstrip().startswith("#") for ln in lines):
                import pathspec

                try:
                    spec = pathspec.GitIgnoreSpec.from_lines(lines)
                except ValueError as e:  # pathspec's: a pattern Git cannot read either
                    why = str(e)
                    where = os.path.relpath(path, self.root)
                    raise MalformedError(f"{where}: {why[:1].lower()}{why[1:]}.") from None
            self._specs[directory] = spec
        return self._specs[directory]

    def matcher(self, top: str):
        """A predicate (relpath under `top`, is_dir) -> ignored, or None when nothing applies."""
        chain = []
        d = top
        while True:
            spec = self._spec(d)
            if spec is not None:
                chain.append((os.path.relpath(top, d), spec))
            if os.path.normpath(d) == os.path.normpath(self.root):
                break
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
        if not chain:
            return None

        def ignored(rel: str, is_dir: bool) -> bool:
            for base, spec in chain:
                p = rel if base == "." else f"{base}/{rel}"
                if spec.match_file(p + "/" if is_dir else p):
                    return True
            return False

        return ignored

    def is_ignored(self, path: str) -> bool:
        """Whether a path (absolute) is ignored by the .dvcignore files above it."""
        parent = os.path.dirname(path)
        m = self.matcher(parent)
        return bool(m and m(os.path.basename(path), os.path.isdir(path)))

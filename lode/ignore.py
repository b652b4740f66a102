"""`.dvcignore`: gitignore-syntax patterns that hide files from tracked directories.

Patterns come from `.dvcignore` files in the repository root and in any directory on the
way down to a tracked directory (each relative to its own directory, as in DVC). The
pathspec library implements Git's matching rules; it is imported only when some
`.dvcignore` has a pattern, which the default file (comments only) does not.
"""

from __future__ import annotations

import os

IGNORE_FILE = ".dvcignore"


class Ignore:
    def __init__(self, root: str) -> None:
        self.root = root
        self._specs: dict[str, object | None] = {}

    def _spec(self, directory: str):
        if directory not in self._specs:
            spec = None
            try:
                with open(os.path.join(directory, IGNORE_FILE), encoding="utf-8") as f:
                    lines = [ln for ln in f.read().splitlines() if ln.strip()]
            except (FileNotFoundError, NotADirectoryError):
                lines = []
            if any(not ln.lstrip().startswith("#") for ln in lines):
                import pathspec

                spec = pathspec.GitIgnoreSpec.from_lines(lines)
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

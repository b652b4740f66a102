"""Write-to-temporary-then-rename, so a reader never sees half a file."""

from __future__ import annotations

import os
import secrets


def tmp_name(path: str) -> str:
    """A temporary sibling of `path` (same directory, so rename is atomic); DVC's shape."""
    d, base = os.path.split(path)
    return os.path.join(d, f".{base}.{secrets.token_urlsafe(8)}.tmp")


def write_bytes_atomic(path: str, data: bytes, mode: int = 0o666) -> None:
    tmp = tmp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        _unlink_quiet(tmp)
        raise


def write_text_atomic(path: str, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8", "surrogateescape"))


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

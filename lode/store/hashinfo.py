"""Hash values read from files others write: an md5 is 32 lowercase hex digits, plus
`.dir` for a directory manifest. Nothing else is ever used to build a cache path or a
remote key, so a pointer cannot name `../../.aws/credentials` as its object."""

from __future__ import annotations

import re

from lode.errors import MalformedError

DIR_SUFFIX = ".dir"
_MD5 = re.compile(r"[0-9a-f]{32}(?:\.dir)?")
_FILE_MD5 = re.compile(r"[0-9a-f]{32}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_md5(value: object) -> bool:
    """A file's or a directory's md5 as DVC writes it."""
    return isinstance(value, str) and _MD5.fullmatch(value) is not None


def is_file_md5(value: object) -> bool:
    return isinstance(value, str) and _FILE_MD5.fullmatch(value) is not None


def is_sha256(value: object) -> bool:
    """A run-cache key or entry name."""
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def check_md5(value: object, where: str, allow_dir: bool = True) -> str:
    """`value` when it is an md5 (a `.dir` one only with `allow_dir`), else a
    MalformedError naming `where` (the file, and the entry in it)."""
    if (is_md5(value) if allow_dir else is_file_md5(value)):
        return value  # type: ignore[return-value]
    shown = repr(value) if not isinstance(value, str) else repr(value[:80])
    raise MalformedError(f"{where}: {shown} is not an md5 hash (32 lowercase hex digits"
                         f"{', or that and .dir' if allow_dir else ''}).")

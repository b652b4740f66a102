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


def is_dir_md5(value: str) -> bool:
    """Whether a recorded md5 names a directory manifest (the records keep the string as
    written; HashInfo is the checked value)."""
    return value.endswith(DIR_SUFFIX)


def content_md5(value: str) -> str:
    """The md5 an object's bytes hash to: a `.dir` manifest is named by it plus a suffix."""
    return value[: -len(DIR_SUFFIX)] if value.endswith(DIR_SUFFIX) else value


class HashInfo:
    """One object's name: the md5 of its bytes, and whether it is a `.dir` manifest.

    Immutable and compared by the string as written. (A plain class, not a dataclass:
    `dataclasses` imports `inspect`, 8 ms of every start.)"""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        """`value` as written (`<32 hex>` or `<32 hex>.dir`), already checked: text from
        a file goes through `parse`."""
        object.__setattr__(self, "value", value)

    @classmethod
    def parse(cls, value: object, where: str, allow_dir: bool = True) -> HashInfo:
        """The hash `value` names, or MalformedError naming `where` (see check_md5)."""
        return cls(check_md5(value, where, allow_dir))

    @classmethod
    def of_manifest(cls, md5: str) -> HashInfo:
        """The name of a directory manifest whose bytes hash to `md5`."""
        return cls(md5 + DIR_SUFFIX)

    @property
    def md5(self) -> str:
        """The md5 of the object's bytes (without `.dir`)."""
        return content_md5(self.value)

    @property
    def is_dir(self) -> bool:
        return is_dir_md5(self.value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a HashInfo cannot change")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HashInfo) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"HashInfo({self.value!r})"

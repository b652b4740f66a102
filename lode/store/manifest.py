"""The directory manifest (`<md5>.dir`), serialised exactly as DVC 3 does.

Bytes = `json.dumps([{"md5": ..., "relpath": ...}, ...], sort_keys=True)` over the files
only, sorted by relpath in code-point order, ASCII-escaped, no trailing newline; the
object's name is md5(bytes) + ".dir" (docs/formats.md). Built by hand from the C string
encoder because this runs over 20,000 entries on every changed `status`.
"""

from __future__ import annotations

import hashlib
import json
from json.encoder import encode_basestring_ascii as _quote

from lode.errors import MalformedError
from lode.paths import check_entries
from lode.store.hashinfo import DIR_SUFFIX, is_file_md5


def manifest_bytes(entries: list[tuple[str, str]]) -> bytes:
    """`entries` = (posix relpath, md5); order does not matter."""
    items = sorted(entries)
    body = ", ".join(f'{{"md5": {_quote(m)}, "relpath": {_quote(r)}}}' for r, m in items)
    return ("[" + body + "]").encode("ascii")


def manifest_md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest() + DIR_SUFFIX


def parse_manifest(data: bytes, where: str = "a directory manifest") -> list[tuple[str, str]]:
    """Inverse of manifest_bytes: (relpath, md5) pairs. A manifest comes from the cache or
    a remote anyone on the team can write to, so it is checked whole before any of it is
    used: a JSON list of {relpath, md5} objects, every md5 a file's, every relpath a plain
    path inside the directory, none twice; anything else is a MalformedError."""
    try:
        items = json.loads(data)
    except RecursionError:
        raise MalformedError(f"{where} is nested too deeply to be a manifest.") from None
    except (ValueError, UnicodeDecodeError):
        raise MalformedError(f"{where} is not valid JSON.") from None
    if not isinstance(items, list):
        raise MalformedError(f"{where} must be a JSON list of {{md5, relpath}} entries.")
    out = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise MalformedError(f"{where}: entry {n + 1} is not an object.")
        rel, md5 = item.get("relpath"), item.get("md5")
        if not is_file_md5(md5):
            raise MalformedError(f"{where}: entry {n + 1} has no valid file md5.")
        if not isinstance(rel, str):
            raise MalformedError(f"{where}: entry {n + 1} has no string relpath.")
        out.append((rel, md5))
    check_entries(out, where)
    return out

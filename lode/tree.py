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

DIR_SUFFIX = ".dir"


def manifest_bytes(entries: list[tuple[str, str]]) -> bytes:
    """`entries` = (posix relpath, md5); order does not matter."""
    items = sorted(entries)
    body = ", ".join(f'{{"md5": {_quote(m)}, "relpath": {_quote(r)}}}' for r, m in items)
    return ("[" + body + "]").encode("ascii")


def manifest_md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest() + DIR_SUFFIX


def parse_manifest(data: bytes) -> list[tuple[str, str]]:
    """Inverse of manifest_bytes: (relpath, md5) pairs; raises ValueError on malformed bytes."""
    items = json.loads(data)
    if not isinstance(items, list):
        raise ValueError("a directory manifest must be a JSON list")
    out = []
    for item in items:
        rel, md5 = item["relpath"], item["md5"]
        if not isinstance(rel, str) or not isinstance(md5, str):
            raise ValueError("manifest entries need string relpath and md5")
        out.append((rel, md5))
    return out

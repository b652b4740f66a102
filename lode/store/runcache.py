"""The run cache, in DVC's layout: `<cache>/runs/<key[:2]>/<key>/<value>` holds the lock
entry of a run; `key` hashes what went in (cmd, deps, params, out paths), `value` the
whole entry. Both tools read and write the same entries."""

from __future__ import annotations

import hashlib
import json
import os

from lode import yamlio
from lode.atomic import write_text_atomic
from lode.store.hashinfo import is_md5, is_sha256


def _filter(d):
    # DVC drops size and nfiles (at any depth) before hashing
    if isinstance(d, dict):
        return {k: _filter(v) for k, v in d.items() if k not in ("size", "nfiles")}
    if isinstance(d, list):
        return [_filter(v) for v in d]
    return d


def _sha256(d: dict) -> str:
    return hashlib.sha256(json.dumps(_filter(d), sort_keys=True).encode("utf-8")).hexdigest()


def entry_name(entry: dict) -> str:
    """The file name of an entry: the hash of its whole content."""
    return _sha256(entry)


def run_key(entry: dict) -> str:
    return _sha256({**entry, "outs": [o["path"] for o in entry.get("outs", [])]})


def inputs_key(inputs: dict, out_paths: list[str]) -> str:
    """The key of a run from its inputs (a lock entry without outputs) and the paths of
    its outputs: what a lookup needs before the outputs exist."""
    return run_key({**inputs, "outs": [{"path": p} for p in sorted(out_paths)]})


def sound_entry(key: str, name: str, text: str) -> dict | None:
    """The entry `text` holds when it is one and belongs where it was found (under run key
    `key`, as file `name`); None for anything else, which is then simply not used."""
    try:
        entry = yamlio.loads(text)
    except Exception:  # noqa: BLE001 - YAML or budget errors: an unreadable entry is not used
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("outs"), list):
        return None
    outs = entry["outs"]
    if not all(isinstance(o, dict) and isinstance(o.get("path"), str) and is_md5(o.get("md5"))
               for o in outs):
        return None
    try:
        if entry_name(entry) != name or run_key(entry) != key:
            return None
    except (TypeError, ValueError, RecursionError):
        return None
    return entry


class RunCache:
    def __init__(self, cache_dir: str) -> None:
        self.dir = os.path.join(cache_dir, "runs")

    def _key_dir(self, key: str) -> str:
        return os.path.join(self.dir, key[:2], key)

    def lookup(self, inputs: dict) -> dict | None:
        """The newest recorded run of these inputs (an entry whose outs are unhashed paths
        is enough to compute the key), or None. An entry is used only when it is sound:
        named by the hash of its content, filed under the key of its own inputs, and
        recording outputs with valid md5s (anyone who could write the cache or a pulled
        remote could have put it there)."""
        key = run_key(inputs)
        d = self._key_dir(key)
        try:
            names = [(os.path.getmtime(os.path.join(d, n)), n) for n in os.listdir(d)
                     if is_sha256(n)]
        except (FileNotFoundError, NotADirectoryError):
            return None
        for _, name in sorted(names, reverse=True):
            try:
                with open(os.path.join(d, name), encoding="utf-8") as f:
                    entry = sound_entry(key, name, f.read())
            except (OSError, UnicodeDecodeError):
                continue
            if entry is not None:
                return entry
        return None

    def save(self, entry: dict) -> None:
        d = self._key_dir(run_key(entry))
        path = os.path.join(d, entry_name(entry))
        if os.path.exists(path):
            return
        os.makedirs(d, exist_ok=True)
        write_text_atomic(path, yamlio.dump_block(entry))

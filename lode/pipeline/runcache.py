"""The run cache, in DVC's layout: `<cache>/runs/<key[:2]>/<key>/<value>` holds the lock
entry of a run; `key` hashes what went in (cmd, deps, params, out paths), `value` the
whole entry. Both tools read and write the same entries."""

from __future__ import annotations

import hashlib
import json
import os

from lode import yamlio
from lode.atomic import write_text_atomic


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


class RunCache:
    def __init__(self, cache_dir: str) -> None:
        self.dir = os.path.join(cache_dir, "runs")

    def _key_dir(self, key: str) -> str:
        return os.path.join(self.dir, key[:2], key)

    def lookup(self, inputs: dict) -> dict | None:
        """The newest recorded run of these inputs (an entry whose outs are unhashed paths
        is enough to compute the key), or None."""
        d = self._key_dir(run_key(inputs))
        try:
            names = [(os.path.getmtime(os.path.join(d, n)), n) for n in os.listdir(d)
                     if not n.startswith(".")]
        except FileNotFoundError:
            return None
        for _, name in sorted(names, reverse=True):
            try:
                with open(os.path.join(d, name), encoding="utf-8") as f:
                    entry = yamlio.loads(f.read())
            except (OSError, UnicodeDecodeError, ValueError):
                continue
            except Exception:  # a corrupt YAML entry: skip it, never delete DVC's files
                continue
            if isinstance(entry, dict) and isinstance(entry.get("outs"), list) and all(
                isinstance(o, dict) and "md5" in o and "path" in o for o in entry["outs"]
            ):
                return entry
        return None

    def save(self, entry: dict) -> None:
        d = self._key_dir(run_key(entry))
        path = os.path.join(d, entry_name(entry))
        if os.path.exists(path):
            return
        os.makedirs(d, exist_ok=True)
        write_text_atomic(path, yamlio.dump_block(entry))

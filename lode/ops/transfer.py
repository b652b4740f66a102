"""`lode push`, `lode fetch`, `lode pull`: which objects move, in which order with the run
cache, and the checkout after a pull. Returns what happened; the CLI renders it.

With `--run-cache`, push sends the local entries after the objects they name (an entry
whose objects did not all arrive stays behind), and fetch brings the remote's entries
first, so the objects they name are fetched with the rest.
"""

from __future__ import annotations

from lode.ops import runs_transfer as runs
from lode.ops.checkout import checkout
from lode.ops.remotes import open_remote
from lode.ops.used import collect
from lode.store.transfer import TransferResult
from lode.store.transfer import fetch as fetch_objects
from lode.store.transfer import push as push_objects


class Pulled:
    """A pull: what the fetch did, then what the checkout added and modified, or the error
    it raised (the fetch's failures are reported before it, as they come first)."""

    def __init__(self, fetched: TransferResult, added: list[str], modified: list[str],
                 checkout_error: Exception | None) -> None:
        self.fetched, self.added, self.modified = fetched, added, modified
        self.checkout_error = checkout_error


def push(repo, targets: list[str] | None = None, remote: str | None = None,
         jobs: int | None = None, run_cache: bool = False) -> TransferResult:
    """Send the objects the targets (default: the workspace) name, and with `run_cache`
    the run-cache entries whose objects all made it."""
    store = open_remote(repo, remote)
    try:
        if run_cache:
            runs.require(store)  # before anything moves
        with repo.lock():
            used = collect(repo, targets or None)
            entries = runs.local_entries(repo, used) if run_cache else {}
            result = push_objects(repo, store, used, jobs or store.capabilities.jobs)
            if run_cache:
                runs.count(result, runs.upload_entries(
                    store, entries, {m for m, _, _ in result.failed}, repo))
            return result
    finally:
        store.close()


def _fetch_locked(repo, store, targets: list[str] | None, jobs: int | None,
                  run_cache: bool) -> TransferResult:
    used = collect(repo, targets or None)
    got = runs.download_entries(repo, store, used) if run_cache else None
    result = fetch_objects(repo, store, used, jobs or store.capabilities.jobs)
    if got:
        runs.count(result, got)
    return result


def fetch(repo, targets: list[str] | None = None, remote: str | None = None,
          jobs: int | None = None, run_cache: bool = False) -> TransferResult:
    """Bring the objects the targets name into the cache (with `run_cache`, the remote's
    run-cache entries and the objects they name too)."""
    store = open_remote(repo, remote)
    try:
        if run_cache:
            runs.require(store)
        with repo.lock():
            return _fetch_locked(repo, store, targets, jobs, run_cache)
    finally:
        store.close()


def pull(repo, targets: list[str] | None = None, remote: str | None = None,
         jobs: int | None = None, run_cache: bool = False, force: bool = False) -> Pulled:
    """fetch, then check out the targets, under one lock: the checkout runs even when
    some objects could not be fetched (it restores what did arrive)."""
    store = open_remote(repo, remote)
    try:
        if run_cache:
            runs.require(store)
        with repo.lock():
            result = _fetch_locked(repo, store, targets, jobs, run_cache)
            try:
                out = checkout(repo, targets or None, force=force)
            except Exception as e:  # reported after the fetch's failures, as it comes after
                return Pulled(result, [], [], e)
            return Pulled(result, list(out.added), list(out.modified), None)
    finally:
        store.close()

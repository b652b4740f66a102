"""The stat cache: (inode, size, mtime_ns) of a path -> its md5; an unchanged file is never reread.

Rows live in SQLite under `.dvc/tmp/lode/`; it is lode's own state and can be deleted at any
time. Paths are stored as bytes (os.fsencode) so names that are not UTF-8 round-trip.
A directory row keeps a signature of its whole listing, so an unchanged directory of
20,000 files needs one lookup instead of 20,000.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

# A file whose mtime is this close to the moment we started reading it may be rewritten
# within the same timestamp tick without its stat changing ("racily clean", as Git calls
# it); such rows are not stored, so the file is simply hashed again next time.
RACY_NS = 50_000_000

Stat = tuple[int, int, int]  # (inode, size, mtime_ns)

_inherited: list[sqlite3.Connection] = []
_CHUNK = 500  # md5s per statement, well under SQLite's limit on parameters
# Memo keys lode.store.objects.ObjectStore.dir_complete keeps per directory md5.
_COMPLETE_MEMOS = ("complete", "complete-legacy")


def stat_key(st: os.stat_result) -> Stat:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _connect(path: str) -> sqlite3.Connection:
    import sqlite3  # with datetime, 7 ms: only a command that reads the cache pays it

    # Shared by the hashing/linking threads; sqlite3 serialises access itself.
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS files (path BLOB PRIMARY KEY, ino INTEGER,"
        " size INTEGER, mtime INTEGER, md5 TEXT) WITHOUT ROWID"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS dirs (path BLOB PRIMARY KEY, sig TEXT,"
        " md5 TEXT, size INTEGER, nfiles INTEGER) WITHOUT ROWID"
    )
    db.execute("CREATE TABLE IF NOT EXISTS memo (key TEXT PRIMARY KEY, sig TEXT)")
    return db


class StatCache:
    """Thin SQLite edge; every method is a batch so a big directory costs one round trip."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._pid = os.getpid()  # the process `_db` belongs to
        # Writes are buffered (worker threads add rows one object at a time) and flushed
        # in one transaction before the next read or at close.
        self._pending: list[tuple[bytes, int, int, int, str]] = []
        self._lock = threading.RLock()

    @property
    def db(self) -> sqlite3.Connection:
        if self._pid != os.getpid():
            # A forked worker (lode.parallel) must neither use nor free its parent's
            # connection (SQLite's locks do not survive fork), nor open the file beside
            # its parent: it gets an empty private table, so it hashes what it must
            # check and its rows are dropped; the parent records what workers return.
            _inherited.append(self._db)
            self._db, self._pid = _connect(":memory:"), os.getpid()
        elif self._db is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._db = _connect(self.path)
        return self._db

    def close(self) -> None:
        with self._lock:
            self.flush()
            if self._db is not None:
                self._db.close()
                self._db = None

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                data, self._pending = self._pending, []
                with self._transaction() as db:
                    db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", data)

    # -- files -------------------------------------------------------------------------
    def get(self, path: str, st: Stat) -> str | None:
        self.flush()
        with self._lock:
            row = self.db.execute(
                "SELECT ino, size, mtime, md5 FROM files WHERE path = ?", (os.fsencode(path),)
            ).fetchone()
        if row and tuple(row[:3]) == st:
            return row[3]
        return None

    def get_prefix(self, prefix: str) -> dict[bytes, tuple[int, int, int, str]]:
        """All rows under directory `prefix` (keys relative to it, as bytes)."""
        lo = os.fsencode(prefix.rstrip("/") + "/")
        hi = lo[:-1] + b"0"  # the byte after "/"
        self.flush()
        with self._lock:
            rows = self.db.execute(
                "SELECT path, ino, size, mtime, md5 FROM files WHERE path >= ? AND path < ?",
                (lo, hi),
            ).fetchall()
        n = len(lo)
        return {p[n:]: (i, s, m, h) for p, i, s, m, h in rows}

    def put_many(
        self, rows: Iterable[tuple[str, Stat, str]], started_ns: int | None = None
    ) -> None:
        """Store (path, stat, md5); skip racily-clean rows (see RACY_NS)."""
        limit = (started_ns if started_ns is not None else time.time_ns()) - RACY_NS
        data = [
            (os.fsencode(p), st[0], st[1], st[2], md5) for p, st, md5 in rows if st[2] < limit
        ]
        self._insert_files(data)

    def put_trusted(self, rows: Iterable[tuple[str, Stat, str]]) -> None:
        """Store rows for files lode itself just wrote from verified bytes (no race to fear)."""
        data = [(os.fsencode(p), st[0], st[1], st[2], md5) for p, st, md5 in rows]
        self._insert_files(data)

    def _insert_files(self, data: list) -> None:
        with self._lock:
            self._pending.extend(data)

    @contextmanager
    def _transaction(self):
        # One transaction: in autocommit mode every row would be a commit of its own.
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def forget(self, md5s: Iterable[str]) -> int:
        """Drop every row that vouches for one of `md5s` (objects found corrupt): files
        recorded with that md5 (cache objects and workspace files alike), the directory
        rows above those files (a listing signature would vouch for them unread),
        directories recorded with it, and the completeness memos of such directories.
        Returns how many file rows went."""
        wanted = sorted(set(md5s))
        if not wanted:
            return 0
        self.flush()
        gone: list[bytes] = []
        with self._lock, self._transaction() as db:
            for i in range(0, len(wanted), _CHUNK):
                chunk = wanted[i:i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                gone += [p for (p,) in db.execute(
                    f"SELECT path FROM files WHERE md5 IN ({marks})", chunk)]  # noqa: S608
                db.execute(f"DELETE FROM files WHERE md5 IN ({marks})", chunk)  # noqa: S608
                db.execute(f"DELETE FROM dirs WHERE md5 IN ({marks})", chunk)  # noqa: S608
                memos = [f"{kind}:{m}" for m in chunk for kind in _COMPLETE_MEMOS]
                db.executemany("DELETE FROM memo WHERE key = ?", [(k,) for k in memos])
            above = {p[:i] for p in gone for i in range(len(p)) if p[i:i + 1] == b"/"}
            db.executemany("DELETE FROM dirs WHERE path = ?", [(p,) for p in sorted(above)])
        return len(gone)

    # -- directories -------------------------------------------------------------------
    def get_dir(self, path: str, sig: str) -> tuple[str, int, int] | None:
        self.flush()
        with self._lock:
            row = self.db.execute(
                "SELECT sig, md5, size, nfiles FROM dirs WHERE path = ?", (os.fsencode(path),)
            ).fetchone()
        if row and row[0] == sig:
            return row[1], row[2], row[3]
        return None

    def put_dir(self, path: str, sig: str, md5: str, size: int, nfiles: int) -> None:
        self.flush()
        with self._lock:
            self.db.execute(
                "INSERT OR REPLACE INTO dirs VALUES (?, ?, ?, ?, ?)",
                (os.fsencode(path), sig, md5, size, nfiles),
            )

    # -- facts remembered against a signature ------------------------------------------
    def memo_holds(self, key: str, sig: str) -> bool:
        with self._lock:
            row = self.db.execute("SELECT sig FROM memo WHERE key = ?", (key,)).fetchone()
        return bool(row and row[0] == sig)

    def memo_put(self, key: str, sig: str) -> None:
        with self._lock:
            self.db.execute("INSERT OR REPLACE INTO memo VALUES (?, ?)", (key, sig))

"""One writer at a time: an OS file lock on `.dvc/tmp/lock`, the file DVC locks too.

The kernel drops a flock when its process dies, so a crashed or killed writer never
leaves a lock behind; the file only carries a note of who holds it, for the message
a waiting writer prints.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import time

from lode.errors import LockedError

WAIT_SECONDS = 5.0


class RepoLock:
    def __init__(self, path: str, wait: float = WAIT_SECONDS) -> None:
        self.path = path
        self.wait = wait
        self.fd: int | None = None

    def acquire(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait
        delay = 0.05
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise LockedError(
                        f"the repository is locked by {holder}.",
                        "Wait for it to finish, or stop that process; a dead one releases "
                        "the lock by itself.",
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        note = f"{os.getpid()} {socket.gethostname()} {' '.join(sys.argv[1:3])}\n"
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, note.encode(), 0)
        except OSError:  # a full disk: the note only names the holder; the flock is held
            pass
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            try:
                os.ftruncate(self.fd, 0)
            finally:
                os.close(self.fd)  # closing drops the flock
                self.fd = None

    def __enter__(self) -> RepoLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 512, 0).decode(errors="replace").split()
    except OSError:
        text = []
    if not text:
        return "another process"
    pid = text[0]
    rest = " ".join(text[2:])
    host = f" on {text[1]}" if len(text) > 1 else ""
    what = f" ({'lode ' + rest if rest else 'dvc?'})" if len(text) > 1 else ""
    return f"process {pid}{host}{what}"

"""One writer at a time: an OS file lock on `.dvc/tmp/lock`, the file DVC locks too.

The kernel drops a flock when its process dies, so a crashed or killed writer never
leaves a lock behind; the file only carries a note of who holds it, for the message
a waiting writer prints.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import sys
import threading
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
        if not try_flock(fd, self.wait):
            holder = _read_holder(fd)
            os.close(fd)
            raise LockedError(
                f"the repository is locked by {holder}.",
                "Wait for it to finish, or stop that process; a dead one releases "
                "the lock by itself.",
            )
        note = f"{os.getpid()} {os.uname().nodename} {' '.join(sys.argv[1:3])}\n"
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


def try_flock(fd: int, wait: float = 0.0, delay: float = 0.05, max_delay: float = 0.5) -> bool:
    """Take the exclusive flock of the open file `fd`, trying again for up to `wait`
    seconds (the pause between tries doubles from `delay` up to `max_delay`); False when
    another holder kept it all along. A descriptor that cannot be locked raises OSError."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, max_delay)


# The locks this process holds until it exits, by path: process-wide, as the flocks
# themselves are (a second descriptor of the same file would wait for the first).
_held: dict[str, RepoLock] = {}
_holding = threading.Lock()  # `doit -n 2 -P thread`: two first tasks at once


def hold_until_exit(lock: RepoLock) -> None:
    """Acquire `lock` for the rest of the process, unless this process holds one on the
    same path already: plain `doit` has no end-of-run hook, so its first stage or recipe
    step takes the repository lock and every later task of the run shares it."""
    with _holding:
        if lock.path in _held:
            return
        lock.acquire()
        _held[lock.path] = lock
        atexit.register(lock.release)


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

"""md5 of files: streamed in large blocks, many files in parallel, or while copying.

md5 cannot be split within one file, so the levers are: never rehash an unchanged file
(statcache), hash many files at once (hashlib and file I/O release the GIL), and hash a
large file while it is being copied, so it is read once (`copy_with_md5`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from typing import TypeVar

BLOCK = 1 << 20
SMALL = 4 << 20  # read in one call below this size
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"

T = TypeVar("T")
R = TypeVar("R")


def default_jobs() -> int:
    env = os.environ.get("LODE_JOBS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    # File creation on ext4 waits on the disk far more than on the CPU: 4 threads per
    # core measured fastest for adding and checking out 20,000 small files.
    return max(4, min(16, (os.cpu_count() or 1) * 4))


def md5_file(path: str) -> str:
    with open(path, "rb", buffering=0) as f:
        h = hashlib.md5()
        buf = bytearray(BLOCK)
        view = memoryview(buf)
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def parallel_map(
    fn: Callable[[T], R], items: Sequence[T], desc: str = "", jobs: int | None = None
) -> list[R]:
    """`[fn(x) for x in items]` on a thread pool, in chunks so 20,000 tiny items do not
    each pay for a future; `desc` labels the progress bar shown on long work."""
    jobs = jobs or default_jobs()
    if len(items) < 64 or jobs == 1:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    from lode import progress

    n = max(16, len(items) // (jobs * 8))
    chunks = [items[i : i + n] for i in range(0, len(items), n)]
    with progress.bar(len(items), desc) as bar, ThreadPoolExecutor(jobs) as pool:

        def run(chunk: Sequence[T]) -> list[R]:
            out = [fn(x) for x in chunk]
            bar.update(len(chunk))
            return out

        return [r for part in pool.map(run, chunks) for r in part]


def copy_with_md5(src_fd: int, dst_fd: int, size_hint: int = 0) -> tuple[str, int]:
    """Copy src to dst and return (md5, bytes) in one read pass.

    Small inputs are one read, one hash, one write. Large ones overlap the write of block
    i (a writer thread) with the hash of block i and the read of block i+1 (this thread):
    on two cores the copy then costs little more than the hash alone.
    """
    h = hashlib.md5()
    if 0 <= size_hint < SMALL:  # the common case stays free of threads
        parts = []
        while chunk := os.read(src_fd, size_hint + 1 if size_hint else BLOCK):
            parts.append(chunk)
        data = b"".join(parts)
        h.update(data)
        _write_all(dst_fd, data)
        return h.hexdigest(), len(data)

    import queue
    import threading

    free: queue.Queue[bytearray] = queue.Queue()
    todo: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
    for _ in range(4):
        free.put(bytearray(4 * BLOCK))
    error: list[BaseException] = []

    def writer() -> None:
        while (item := todo.get()) is not None:
            buf, n = item
            try:
                if not error:
                    _write_all(dst_fd, memoryview(buf)[:n])
            except BaseException as e:  # reported to the reading thread
                error.append(e)
            free.put(buf)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    total = 0
    try:
        with os.fdopen(os.dup(src_fd), "rb", buffering=0) as src:
            while not error:
                buf = free.get()
                n = src.readinto(buf)
                if not n:
                    free.put(buf)
                    break
                h.update(memoryview(buf)[:n])
                total += n
                todo.put((buf, n))
    finally:
        todo.put(None)
        thread.join()
    if error:
        raise error[0]
    return h.hexdigest(), total


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]

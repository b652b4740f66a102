"""Run one function over many items: in threads, or in forked processes for file work.

Threads suit work that waits (a network round trip, hashing large blocks: both release
the GIL for long). Creating many small files is the opposite: a handful of short system
calls per file, each releasing and retaking the GIL, so two threads mostly hand the lock
back and forth. Copying 20,000 small files on two cores took 1.1 s in one thread, 1.7 s
in two threads and 0.55 s in two forked processes (journaled ext4; tmpfs alike), so
checkout and a local-directory remote use processes where the platform can fork.

A child works on a contiguous slice (neighbouring objects share directories), reports
progress through a pipe and sends its results back pickled; its side effects on the
parent's objects are lost, so `fn` must return everything the caller needs.
"""

from __future__ import annotations

import os
import pickle
import selectors
import signal
import struct
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

from lode import progress
from lode.errors import LodeError

T = TypeVar("T")
R = TypeVar("R")

SERIAL_BELOW = 64  # items: fewer are not worth a pool
FORK_FROM = 1000  # items: fewer are not worth a process
_HEADER = struct.Struct("!cQ")  # kind, then a count (b"p") or a payload length (b"r", b"e")


def default_jobs() -> int:
    """Workers for file work: LODE_JOBS, else one per core (2 to 16)."""
    env = os.environ.get("LODE_JOBS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    # One thread per core measured fastest for adding and checking out 20,000 small files:
    # the work is system calls, and more threads than cores only fight over the GIL
    # (1.8 s with 2 threads against 3.6 s with 4 for `add`, on 2 cores).
    return max(2, min(16, os.cpu_count() or 1))


def parallel_map(
    fn: Callable[[T], R], items: Sequence[T], desc: str = "", jobs: int | None = None,
    processes: bool = False,
) -> list[R]:
    """`[fn(x) for x in items]` with `jobs` workers; `desc` labels the progress bar shown on
    long work. `processes` asks for forked workers (see the module note)."""
    jobs = jobs or default_jobs()
    if len(items) < SERIAL_BELOW:
        return [fn(x) for x in items]
    with progress.bar(len(items), desc) as bar:
        if jobs > 1 and processes and len(items) >= FORK_FROM and _can_fork():
            # one process per core, each with its share of the threads: a remote whose
            # requests wait (S3) keeps `jobs` in flight without one GIL for all of them
            procs = min(jobs, os.cpu_count() or 1)
            if procs > 1:
                return _fork_map(fn, items, procs, -(-jobs // procs), bar.update)
        return _thread_map(fn, items, jobs, bar.update)


def _can_fork() -> bool:
    """Only a single-threaded process forks: a lock another thread holds at that moment
    (the stat cache's, logging's, the import lock) would stay held forever in the child.
    `lode repro -j N` commits outputs from doit's threads, so it takes the thread path."""
    import threading

    return hasattr(os, "fork") and threading.active_count() == 1


def _thread_map(fn, items, jobs: int, advance) -> list:
    # in chunks, so 20,000 tiny items do not each pay for a future
    n = max(16, len(items) // (jobs * 8))
    chunks = [items[i : i + n] for i in range(0, len(items), n)]

    def run(chunk):
        out = [fn(x) for x in chunk]
        advance(len(chunk))
        return out

    if jobs == 1:  # the bar still moves
        return [r for chunk in chunks for r in run(chunk)]
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(jobs)
    try:
        return [r for part in pool.map(run, chunks) for r in part]
    finally:  # after an error or Ctrl-C the chunks not yet started are dropped, not run
        pool.shutdown(wait=True, cancel_futures=True)


class WorkerDied(LodeError):
    pass


def _fork_map(fn, items, procs: int, threads: int, advance) -> list:
    step = -(-len(items) // procs)
    slices = [(lo, min(lo + step, len(items))) for lo in range(0, len(items), step)]
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # or a child's exit could not repeat it, but a buffer is still shared
    children: dict[int, tuple[int, int]] = {}  # read fd -> (pid, start of its slice)
    results: dict[int, list] = {}
    try:
        for lo, hi in slices:
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - measured by the parent's results
                os.close(r)
                _child(fn, items[lo:hi], threads, w)
            os.close(w)
            children[r] = (pid, lo)
        for r, payload in _collect(list(children), advance):
            results[children[r][1]] = payload
    finally:
        _reap([pid for pid, _ in children.values()], stop=len(results) < len(slices))
        for r in children:
            os.close(r)
    return [x for lo in sorted(results) for x in results[lo]]


def _interrupt_once(signum, frame) -> None:
    # Ctrl-C reaches a worker twice (the terminal's, then the parent's own stop): a second
    # KeyboardInterrupt would cut short the cleanup of the first, leaving temporary files
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _child(fn, chunk, threads: int, w: int) -> None:
    """A worker. If lode itself is killed, the next progress report meets a closed pipe
    and the worker stops there: no orphan finishes its share beside whatever runs next."""
    code = 0
    signal.signal(signal.SIGINT, _interrupt_once)
    try:
        # progress frames are shorter than PIPE_BUF, so threads never interleave them
        out = _thread_map(fn, chunk, threads, lambda n: os.write(w, _HEADER.pack(b"p", n)))
        _send(w, b"r", pickle.dumps(out, pickle.HIGHEST_PROTOCOL))
    except BaseException as e:  # noqa: BLE001 - anything the child meets goes to the parent
        code = 1
        try:
            _send(w, b"e", pickle.dumps(e, pickle.HIGHEST_PROTOCOL))
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled
            _send(w, b"e", pickle.dumps(LodeError(f"a worker failed: {e!r}")))
    finally:
        os._exit(code)  # never the parent's atexit handlers or buffered output


def _send(w: int, kind: bytes, payload: bytes) -> None:
    view = memoryview(_HEADER.pack(kind, len(payload)) + payload)
    while view:
        view = view[os.write(w, view):]


def _collect(fds: list[int], advance):
    """Yield (fd, results) per child as each finishes; raise what a child raised."""
    sel = selectors.DefaultSelector()
    bufs = {fd: bytearray() for fd in fds}
    for fd in fds:
        sel.register(fd, selectors.EVENT_READ)
    finished: set[int] = set()
    try:
        while bufs:
            for key, _ in sel.select():
                fd = key.fd
                data = os.read(fd, 1 << 20)
                if data:
                    bufs[fd] += data
                    out = _frames(bufs[fd], advance)
                    if out is not None:
                        finished.add(fd)
                        yield fd, out
                    continue
                sel.unregister(fd)
                del bufs[fd]
                if fd not in finished:
                    raise WorkerDied("a worker process ended without its results "
                                     "(killed, or out of memory?); rerun to finish.")
    finally:
        sel.close()


def _frames(buf: bytearray, advance) -> list | None:
    """Consume the whole frames at the head of `buf`: progress goes to `advance`; a child's
    results are returned (None until they are all there), its exception raised."""
    while len(buf) >= _HEADER.size:
        kind, n = _HEADER.unpack_from(buf)
        if kind == b"p":
            del buf[: _HEADER.size]
            advance(n)
            continue
        if len(buf) < _HEADER.size + n:
            return None
        payload = pickle.loads(bytes(buf[_HEADER.size : _HEADER.size + n]))
        del buf[: _HEADER.size + n]
        if kind == b"e":
            raise payload
        return payload
    return None


def _reap(pids, stop: bool) -> None:
    """Wait for every child; when the parent is leaving early (an error, Ctrl-C) ask them
    to stop first: SIGINT, so each one's atomic writes remove their temporary files."""
    for pid in pids:
        if stop:
            try:
                os.kill(pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
